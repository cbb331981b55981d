"""The SMTP listener on loopback, spoken to by the standard library's smtplib.

Every check reads PostgreSQL right after the client got its answer: what
was acknowledged with 250 is there, whole; what was refused left nothing.
"""

from __future__ import annotations

import asyncio
import shutil
import smtplib
import ssl
import subprocess
from collections.abc import AsyncIterator, Callable
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import pytest

from gateway.app import Gateway
from gateway.config import Settings
from gateway.mail.answer_policy import answerable
from gateway.mail.intake import smtp_listener
from gateway.mail.listener import SmtpListener, listener_config
from gateway.smpp.simulator import SmscSimulator
from gateway.store import mail_inbound
from tests.support.e2e import gateway_settings, running_gateway, stop_gateway
from tests.support.mail_messages import PDF, SUBJECT, dsn, french_html_with_attachment

CONTACT = "contact@campagne.example"
T = TypeVar("T")


async def start_listener(pool: asyncpg.Pool,
                         **changes: Any) -> tuple[SmtpListener, asyncio.Task[None]]:
    options: dict[str, Any] = {
        "host": "127.0.0.1", "port": 0, "hostname": "mx.test",
        "contact_addresses": [CONTACT, "Questions@Campagne.example"],
        "max_message_bytes": 25_000_000, "max_attachment_bytes": 10_000_000, **changes}
    listener = SmtpListener(pool, listener_config(**options))
    task = asyncio.create_task(listener.run())
    await asyncio.wait_for(listener.started.wait(), 5)
    return listener, task


@pytest.fixture
async def listener(pool: asyncpg.Pool) -> AsyncIterator[SmtpListener]:
    running, task = await start_listener(pool)
    try:
        yield running
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def smtp(listener: SmtpListener, work: Callable[[smtplib.SMTP], T]) -> T:
    """Run a blocking smtplib conversation in a thread (the listener runs on this loop)."""
    assert listener.port is not None
    port = listener.port

    def talk() -> T:
        with smtplib.SMTP("127.0.0.1", port, timeout=60) as client:
            return work(client)

    return await asyncio.to_thread(talk)


async def rows(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    return list(await pool.fetch("SELECT * FROM mail_inbound ORDER BY id"))


async def test_a_french_html_mail_with_an_attachment_is_stored_whole_before_250(
        listener: SmtpListener, pool: asyncpg.Pool) -> None:
    raw = french_html_with_attachment()
    refused = await smtp(listener, lambda c: c.sendmail(
        "renee@example.fr", ["Contact@Campagne.example"], raw))
    assert refused == {}
    # the 250 came back: the row is committed, with the exact bytes
    [row] = await rows(pool)
    assert bytes(row["raw"]) == raw
    assert row["subject"] == SUBJECT
    assert row["text_body"] is None
    assert "Où est l'hôpital le plus proche ?" in row["html_body"]
    assert row["from_name"] == "Renée Dupré" and row["from_address"] == "renee@example.fr"
    assert row["envelope_from"] == "renee@example.fr"
    assert row["envelope_to"] == ["Contact@Campagne.example"]
    assert row["kind"] == "normal" and row["never_answer"] is None
    assert row["message_id"] == "<q1@example.fr>"
    async with pool.acquire() as conn:
        [attachment] = await mail_inbound.list_attachments(conn, row["id"])
    assert attachment["filename"] == "programme été.pdf"
    assert bytes(attachment["content"]) == PDF and attachment["size"] == len(PDF)


async def test_the_250_names_the_stored_row_and_a_retry_is_not_stored_twice(
        listener: SmtpListener, pool: asyncpg.Pool) -> None:
    raw = french_html_with_attachment()

    def send(client: smtplib.SMTP) -> tuple[int, bytes]:
        client.ehlo()
        client.mail("renee@example.fr")
        client.rcpt(CONTACT)
        return client.data(raw)

    first = await smtp(listener, send)
    again = await smtp(listener, send)  # as a sender does when our 250 was lost on the way
    [row] = await rows(pool)
    assert first == again == (250, f"2.0.0 OK: stored as {row['id']}".encode())


async def test_an_unknown_recipient_is_refused_at_rcpt_naming_the_address(
        listener: SmtpListener, pool: asyncpg.Pool) -> None:
    def send(client: smtplib.SMTP) -> tuple[int, bytes]:
        client.ehlo()
        client.mail("a@example.org")
        return client.rcpt("someone.else@campagne.example")

    code, text = await smtp(listener, send)
    assert code == 550
    assert b"<someone.else@campagne.example>" in text and b"5.1.1" in text
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        await smtp(listener, lambda c: c.sendmail("a@example.org", ["x@elsewhere.example"],
                                                   b"Subject: hi\r\n\r\nhi\r\n"))
    assert await rows(pool) == []


def big_mail(size: int) -> bytes:
    line = b"A" * 76 + b"\r\n"
    return b"From: a@example.org\r\nSubject: big\r\n\r\n" + line * (size // len(line))


async def test_a_30_mb_mail_gets_552_and_nothing_is_stored(
        listener: SmtpListener, pool: asyncpg.Pool) -> None:
    raw = big_mail(30_000_000)

    def undeclared(client: smtplib.SMTP) -> tuple[int, bytes]:
        client.ehlo()
        client.mail("a@example.org")  # no SIZE=: the limit bites during DATA
        client.rcpt(CONTACT)
        return client.data(raw)

    code, text = await smtp(listener, undeclared)
    assert code == 552 and b"Message too big" in text and b"25000000 bytes" in text
    # smtplib declares SIZE= when the server offers it: refused before any data
    with pytest.raises(smtplib.SMTPSenderRefused) as refused:
        await smtp(listener, lambda c: c.sendmail("a@example.org", [CONTACT], raw))
    assert refused.value.smtp_code == 552 and b"Message too big" in refused.value.smtp_error
    assert await rows(pool) == []
    # and the session goes on: a normal mail on the same connection is taken

    def then_small(client: smtplib.SMTP) -> tuple[tuple[int, bytes], dict[str, Any]]:
        client.ehlo()
        client.mail("a@example.org")
        client.rcpt(CONTACT)
        too_big = client.data(raw)
        return too_big, client.sendmail("a@example.org", [CONTACT], b"Subject: ok\r\n\r\nok\r\n")

    (code, _), refused_now = await smtp(listener, then_small)
    assert code == 552 and refused_now == {}
    assert [row["subject"] for row in await rows(pool)] == ["ok"]


async def test_an_auto_reply_storm_is_recorded_and_never_answerable(
        listener: SmtpListener, pool: asyncpg.Pool) -> None:
    def storm(client: smtplib.SMTP) -> None:
        for n in range(40):
            msg = EmailMessage()
            msg["From"] = "Out of office <absent@example.org>"
            msg["To"] = CONTACT
            msg["Subject"] = f"Absent du bureau (réponse automatique {n})"
            msg["Auto-Submitted"] = "auto-replied"
            msg.set_content("Je suis absent jusqu'au 5.")
            client.sendmail("", [CONTACT], msg.as_bytes(policy=SMTP))

    await smtp(listener, storm)
    stored = await rows(pool)
    assert len(stored) == 40
    assert {(r["kind"], r["never_answer"], r["envelope_from"]) for r in stored} == {
        ("auto_reply", "auto_reply", "")}
    assert all("auto-submitted: auto-replied" in r["signals"] for r in stored)
    assert all(answerable(_Facts(r)) == "auto_reply" for r in stored)


async def test_a_bounce_is_recorded_against_the_address(
        listener: SmtpListener, pool: asyncpg.Pool) -> None:
    await smtp(listener, lambda c: c.sendmail("<>", [CONTACT], dsn()))
    [row] = await rows(pool)
    assert row["kind"] == "bounce" and row["never_answer"] == "bounce"
    assert row["bounced_addresses"] == ["citizen@example.org"]
    found = await pool.fetchval(
        "SELECT count(*) FROM mail_inbound WHERE bounced_addresses @> ARRAY[$1]",
        "citizen@example.org")
    assert found == 1


async def test_malformed_mime_is_accepted_and_recorded_with_its_defects(
        listener: SmtpListener, pool: asyncpg.Pool) -> None:
    raw = (b"From: a@example.org\r\nSubject: =?utf-8?q?cass=C3=A9?=\r\n"
           b"Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n"
           b"--b\r\nContent-Type: text/plain; charset=x-broken\r\n\r\nd\xc3\xa9j\xc3\xa0\r\n")
    await smtp(listener, lambda c: c.sendmail("a@example.org", [CONTACT], raw))
    [row] = await rows(pool)
    assert bytes(row["raw"]) == raw
    assert row["subject"] == "cassé" and "déjà" in row["text_body"]
    assert "CloseBoundaryNotFoundDefect" in row["defects"]


async def test_lines_longer_than_the_rfc_allows_are_taken_as_they_came(
        listener: SmtpListener, pool: asyncpg.Pool) -> None:
    raw = b"From: a@example.org\r\nSubject: long\r\n\r\n" + b"<p>" + b"x" * 20_000 + b"\r\n"
    await smtp(listener, lambda c: c.sendmail("a@example.org", [CONTACT], raw))
    [row] = await rows(pool)
    assert bytes(row["raw"]) == raw


async def test_stopping_the_listener_hangs_up_idle_sessions(pool: asyncpg.Pool) -> None:
    running, task = await start_listener(pool)
    assert running.port is not None
    reader, writer = await asyncio.open_connection("127.0.0.1", running.port)
    assert (await reader.readline()).startswith(b"220 mx.test")
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert await asyncio.wait_for(reader.read(), 5) == b""
    writer.close()
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", running.port)


async def test_when_the_database_is_gone_the_sender_is_told_to_retry(
        pool: asyncpg.Pool, db_url: str) -> None:
    other = await asyncpg.create_pool(db_url, min_size=1, max_size=2)
    running, task = await start_listener(other)
    try:
        await other.close()

        def send(client: smtplib.SMTP) -> tuple[int, bytes]:
            client.ehlo()
            client.mail("a@example.org")
            client.rcpt(CONTACT)
            return client.data(b"Subject: later\r\n\r\nlater\r\n")

        code, text = await smtp(running, send)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert code == 451 and b"try again later" in text
    assert await rows(pool) == []


async def test_the_gateway_runs_the_listener_under_its_supervisor_when_enabled(
        settings: Settings, smsc: SmscSimulator) -> None:
    enabled = gateway_settings(settings, smsc, mail_smtp_enabled=True, mail_smtp_port=0,
                               mail_contact_addresses=[CONTACT])
    gw: Gateway = await running_gateway(enabled, smsc)
    try:
        assert gw.mail.listener is not None
        await asyncio.wait_for(gw.mail.listener.started.wait(), 5)
        assert (await gw.health())["tasks"]["mail-smtp"] == "running"
        await smtp(gw.mail.listener, lambda c: c.sendmail(
            "a@example.org", [CONTACT], b"Subject: via the gateway\r\n\r\nbonjour\r\n"))
        assert [r["subject"] for r in await rows(gw.pool)] == ["via the gateway"]
    finally:
        await stop_gateway(gw)


@pytest.fixture
def certificate(tmp_path: Path) -> Path:
    """A self-signed certificate for 127.0.0.1 (key.pem beside it)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed: no certificate to test STARTTLS with")
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(tmp_path / "key.pem"), "-out", str(tmp_path / "cert.pem")],
                   check=True, capture_output=True)
    return tmp_path / "cert.pem"


async def test_starttls_is_offered_when_a_certificate_is_configured(
        settings: Settings, pool: asyncpg.Pool, certificate: Path) -> None:
    tmp_path = certificate.parent
    configured = settings.model_copy(update={
        "mail_smtp_enabled": True, "mail_smtp_port": 0, "mail_contact_addresses": [CONTACT],
        "mail_smtp_tls_cert": tmp_path / "cert.pem", "mail_smtp_tls_key": tmp_path / "key.pem"})
    listener = smtp_listener(configured, pool)
    assert listener is not None
    task = asyncio.create_task(listener.run())
    await asyncio.wait_for(listener.started.wait(), 5)
    trusted = ssl.create_default_context(cafile=str(tmp_path / "cert.pem"))

    def over_tls(client: smtplib.SMTP) -> str:
        client.starttls(context=trusted)
        client.sendmail("a@example.org", [CONTACT], b"Subject: chiffre\r\n\r\nok\r\n")
        sock = client.sock
        assert isinstance(sock, ssl.SSLSocket)
        return str(sock.version())

    try:
        assert (await smtp(listener, over_tls)).startswith("TLS")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert [r["subject"] for r in await rows(pool)] == ["chiffre"]


async def test_the_listener_is_off_by_default(gateway: Gateway) -> None:
    assert gateway.mail.listener is None and gateway.mail.poller is None
    assert not any(name.startswith("mail-") for name in gateway.supervisor.status())


class _Facts:
    """A stored row seen through the attributes `answerable` reads."""

    def __init__(self, row: asyncpg.Record) -> None:
        self.kind: str = row["kind"]
        self.from_address: str | None = row["from_address"]
        self.reply_to: str | None = row["reply_to"]
