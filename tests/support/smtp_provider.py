"""A mail provider's submission server on loopback: aiosmtpd on the test's own event loop.

Why a real server: the sender's promises are about what an SMTP server saw
(which bytes, how many times, after which answer), so the tests put a real
one at the other end of a real socket, with STARTTLS, implicit TLS and AUTH
when asked, and script its answers: a 451 to the next DATA, a 550 to one
recipient, a DATA that is stored and never answered, a connection dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import ssl
import subprocess
from collections import deque
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session


@dataclass(frozen=True, slots=True)
class Received:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    ehlo_name: str | None
    authenticated: bool
    tls: bool

    @property
    def message(self) -> EmailMessage:
        parsed = BytesParser(policy=default).parsebytes(self.data)
        assert isinstance(parsed, EmailMessage)
        return parsed

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])


@dataclass(slots=True)
class Script:
    """What the server does next; each list is consumed from the front."""

    data_replies: deque[str] = field(default_factory=deque)  # answers to DATA before 250
    mail_replies: deque[str] = field(default_factory=deque)  # answers to MAIL before 250
    refused_recipients: dict[str, str] = field(default_factory=dict)  # address -> reply
    hang_at_rcpt: bool = False  # RCPT never answered (until released)
    hang_after_data: bool = False  # DATA stored, never answered (until released)
    drop_after_data: bool = False  # DATA stored, the connection closed with no answer
    drop_at_mail: bool = False  # the connection closed at MAIL FROM
    delay: float = 0.0  # seconds before answering DATA


class Provider:
    def __init__(self, *, tls: ssl.SSLContext | None = None, implicit_tls: bool = False,
                 credentials: tuple[str, str] | None = None) -> None:
        self.script = Script()
        self.received: list[Received] = []
        self.port = 0
        self.logins: list[tuple[str, bool]] = []
        self.arrived = asyncio.Event()  # set at each stored message
        self.hanging = asyncio.Event()  # a hang_* answer is being withheld
        self._release = asyncio.Event()
        self._tls = tls
        self._implicit = implicit_tls
        self._credentials = credentials
        self._server: asyncio.Server | None = None
        self._sessions: set[SMTP] = set()

    async def start(self) -> Provider:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self._protocol, "127.0.0.1", 0, ssl=self._tls if self._implicit else None)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        self._release.set()
        for session in list(self._sessions):
            if session.transport is not None:
                session.transport.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def release(self) -> None:
        """Answer what is withheld, and withhold nothing from now on."""
        self.script.hang_at_rcpt = self.script.hang_after_data = False
        self._release.set()

    def message_ids(self) -> list[str]:
        return [r.message_id for r in self.received]

    async def wait_for(self, count: int, *, within: float = 10.0) -> list[Received]:
        async with asyncio.timeout(within):
            while len(self.received) < count:
                self.arrived.clear()
                await self.arrived.wait()
        return self.received

    def _protocol(self) -> SMTP:
        options: dict[str, Any] = {"hostname": "smtp.provider.test", "ident": "provider"}
        if self._tls is not None and not self._implicit:
            options.update(tls_context=self._tls, require_starttls=True)
        if self._credentials is not None:
            options.update(auth_required=True, auth_require_tls=self._tls is not None,
                           authenticator=self._authenticate)
        provider = self

        class Server(SMTP):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                provider._sessions.add(self)
                super().connection_made(transport)

            def connection_lost(self, error: Exception | None) -> None:
                provider._sessions.discard(self)
                super().connection_lost(error)

        return Server(_Handler(self), **options)

    def _authenticate(self, server: SMTP, session: Session, envelope: Envelope,
                      mechanism: str, auth_data: Any) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        login = auth_data.login.decode()
        ok = (login, auth_data.password.decode()) == self._credentials
        self.logins.append((login, ok))
        return AuthResult(success=ok, handled=False)

    def _store(self, server: SMTP, session: Session, envelope: Envelope) -> None:
        data = envelope.original_content
        assert isinstance(data, bytes)
        self.received.append(Received(
            mail_from=str(envelope.mail_from), rcpt_tos=tuple(envelope.rcpt_tos), data=data,
            ehlo_name=session.host_name, authenticated=bool(session.authenticated),
            tls=server.transport is not None
            and server.transport.get_extra_info("ssl_object") is not None))
        self.arrived.set()

    async def _withhold(self) -> None:
        self.hanging.set()
        await self._release.wait()


class _Handler:
    def __init__(self, provider: Provider) -> None:
        self.provider = provider

    async def handle_MAIL(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, options: list[str]) -> str:
        script = self.provider.script
        if script.drop_at_mail:
            script.drop_at_mail = False
            assert isinstance(server.transport, asyncio.Transport)
            server.transport.abort()
            return "421 going away"
        if script.mail_replies:
            return script.mail_replies.popleft()
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, options: list[str]) -> str:
        script = self.provider.script
        if script.hang_at_rcpt:
            await self.provider._withhold()
        if address in script.refused_recipients:
            return script.refused_recipients[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        provider, script = self.provider, self.provider.script
        if script.delay:
            await asyncio.sleep(script.delay)
        if script.data_replies and not script.data_replies[0].startswith("2"):
            return script.data_replies.popleft()
        provider._store(server, session, envelope)
        if script.drop_after_data:
            script.drop_after_data = False
            assert isinstance(server.transport, asyncio.Transport)
            server.transport.abort()
            return "250 never heard"
        if script.hang_after_data:
            with contextlib.suppress(asyncio.CancelledError):
                await provider._withhold()
        return f"250 2.0.0 Ok: queued as Q{len(provider.received)}"


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """cert.pem and key.pem for 127.0.0.1 (openssl from the distribution; skip without it)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed: no certificate to test TLS with")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


def server_tls(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context
