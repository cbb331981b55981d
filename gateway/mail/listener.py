"""The inbound SMTP listener: aiosmtpd on the gateway's event loop, storing before it answers.

Why aiosmtpd: it is the maintained asyncio SMTP server (the successor of the
standard library's removed `smtpd`), typed, and it runs on our own loop, so
no thread and no second process. We use its protocol class directly with
`loop.create_server` rather than its threaded `Controller`.

The promises, in SMTP terms:
- `RCPT TO` an address that is not one of the campaign's contact addresses
  gets `550 5.1.1` naming the address, before any data is sent.
- A message over the size limit gets `552 5.3.4` (at `MAIL FROM ... SIZE=`
  when the client declares it, else after the data) and nothing of it is
  stored: aiosmtpd drops the data as soon as it passes the limit.
- Every other message is parsed (in a thread), stored and COMMITTED before
  the `250` is written. A failure to store answers `451 4.3.0`, so the
  sender keeps the message and retries: accepted mail is never lost, and a
  crash mid-session loses only what was never acknowledged. Malformed MIME is
  accepted and recorded with its defects (see parse.py for why).
- A retry of a message we stored but whose 250 was lost finds its row
  (dedupe key) and is answered 250 again, not stored twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import asyncpg
from aiosmtpd.smtp import SMTP, Envelope, Session

from gateway.logs import get_logger
from gateway.mail.record import build_record, smtp_dedupe_key
from gateway.store import mail_inbound

log = get_logger("gateway.mail.listener")
# aiosmtpd logs every command line (addresses included) at INFO through the standard
# library's logging; should a deployment turn that up, citizens' addresses would fill the
# logs. Its warnings and errors still come through.
logging.getLogger("mail.log").setLevel(logging.WARNING)

STOP_GRACE_SECONDS = 10.0  # a store under way when the gateway stops may finish and say 250


@dataclass(frozen=True, slots=True)
class ListenerConfig:
    host: str
    port: int  # 0: any free port (tests); read `SmtpListener.port` once started
    hostname: str  # the name in the 220 greeting
    contact_addresses: frozenset[str]  # lower case
    max_message_bytes: int
    max_attachment_bytes: int
    tls: ssl.SSLContext | None = None  # offers STARTTLS when set


class MailHandler:
    """aiosmtpd's hooks: the allow-list at RCPT, store-then-answer at DATA."""

    def __init__(self, pool: asyncpg.Pool, config: ListenerConfig) -> None:
        self._pool = pool
        self._config = config
        self.storing = 0
        self.idle = asyncio.Event()
        self.idle.set()

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:
        if address.lower() not in self._config.contact_addresses:
            log.info("mail_recipient_refused", domain=address.rpartition("@")[2])
            return f"550 5.1.1 <{address}>: no such contact address here; message refused"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 Recipient OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content
        assert isinstance(raw, bytes)
        mail_from = envelope.mail_from or ""
        peer = session.peer[0] if isinstance(session.peer, tuple) else str(session.peer)
        self.storing += 1
        self.idle.clear()
        try:
            mail_id, created = await self._store(raw, mail_from, list(envelope.rcpt_tos), peer)
        except Exception as err:
            log.error("mail_not_stored", error=type(err).__name__, detail=str(err)[:200],
                      size=len(raw), exc_info=not isinstance(err, (OSError, asyncpg.PostgresError,
                                                                  asyncpg.InterfaceError)))
            return "451 4.3.0 The message could not be stored just now; please try again later"
        finally:
            self.storing -= 1
            if self.storing == 0:
                self.idle.set()
        log.info("mail_stored" if created else "mail_already_stored", mail_id=mail_id,
                 size=len(raw), intake="smtp")
        return f"250 2.0.0 OK: stored as {mail_id}"

    async def _store(self, raw: bytes, mail_from: str, rcpt_tos: list[str],
                     peer: str) -> tuple[int, bool]:
        config = self._config
        record = await asyncio.to_thread(
            build_record, raw, intake="smtp",
            dedupe_key=smtp_dedupe_key(mail_from, rcpt_tos, raw),
            envelope_from=mail_from, envelope_to=rcpt_tos, peer=peer,
            max_attachment_bytes=config.max_attachment_bytes,
            own_addresses=config.contact_addresses)
        async with self._pool.acquire() as conn, conn.transaction():
            return await mail_inbound.insert(conn, record)


class GatewaySMTP(SMTP):
    """aiosmtpd's protocol with our wording for the size limit and a list of live sessions.

    Lines may be longer than RFC 5321's 1,000 octets: the RFC forbids
    sending them, but some senders do, and a provider forwarding their mail
    to us passes them on; refusing would bounce a citizen's message for a
    fault not theirs. The bytes are stored as they came.
    """

    line_length_limit = 65_536

    def __init__(self, handler: MailHandler, sessions: set[GatewaySMTP],
                 **options: Any) -> None:
        super().__init__(handler, **options)
        self._sessions = sessions
        self._too_big = (f"552 5.3.4 Message too big: this address accepts at most "
                         f"{self.data_size_limit} bytes; nothing was stored")

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._sessions.add(self)
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        self._sessions.discard(self)
        super().connection_lost(error)

    async def push(self, status: Any) -> None:
        # aiosmtpd answers 552 only for the size limit, in two wordings of its own
        if isinstance(status, str) and status.startswith("552 "):
            status = self._too_big
        await super().push(status)

    def hang_up(self) -> None:
        if self.transport is not None:
            self.transport.close()


class SmtpListener:
    """Serves until cancelled (it runs as a supervised task: `run`)."""

    def __init__(self, pool: asyncpg.Pool, config: ListenerConfig) -> None:
        self.config = config
        self.handler = MailHandler(pool, config)
        self.port: int | None = None
        self.started = asyncio.Event()
        self._sessions: set[GatewaySMTP] = set()

    def _protocol(self) -> GatewaySMTP:
        config = self.config
        return GatewaySMTP(
            self.handler, self._sessions, data_size_limit=config.max_message_bytes,
            enable_SMTPUTF8=True, hostname=config.hostname, ident="gateway",
            tls_context=config.tls, loop=asyncio.get_running_loop())

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(self._protocol, self.config.host, self.config.port)
        sockets = server.sockets or ()
        self.port = sockets[0].getsockname()[1] if sockets else self.config.port
        log.info("mail_listener_started", host=self.config.host, port=self.port)
        self.started.set()
        try:
            await asyncio.Future()  # until cancelled
        finally:
            server.close()
            await self._drain()
            self.started.clear()
            log.info("mail_listener_stopped")

    async def _drain(self) -> None:
        """Let a store under way finish (and answer), then hang up on every session."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self.handler.idle.wait()), STOP_GRACE_SECONDS)
        for session in list(self._sessions):
            session.hang_up()


def listener_config(*, host: str, port: int, hostname: str, contact_addresses: Collection[str],
                    max_message_bytes: int, max_attachment_bytes: int,
                    tls: ssl.SSLContext | None = None) -> ListenerConfig:
    return ListenerConfig(host, port, hostname, frozenset(a.lower() for a in contact_addresses),
                          max_message_bytes, max_attachment_bytes, tls)
