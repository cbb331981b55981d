"""The e-mail sender against a real SMTP server on loopback (aiosmtpd as the provider).

Each test checks both ends: what the provider received (bytes, headers, how
many copies) and what the outbox row says (status, attempts, errors). Time
is a ManualClock: a retry's backoff passes when the test says so.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from gateway.app import Gateway
from gateway.clock import utc_now
from gateway.config import Settings
from gateway.email_consent import unsubscribe
from gateway.mail.record import build_record, smtp_dedupe_key
from gateway.metrics import Metrics
from gateway.smpp.simulator import SmscSimulator
from gateway.store import mail_inbound
from gateway.unsubscribe_link import unsubscribe_url
from tests.support.clock import ManualClock
from tests.support.e2e import gateway_settings, running_gateway, stop_gateway, wait_for
from tests.support.email_consent import confirmed_subscriber, mailing_settings
from tests.support.mail_messages import dsn
from tests.support.mail_out import FROM, queue, row, sender
from tests.support.smtp_provider import Provider, self_signed_certificate, server_tls

LATER = timedelta(hours=3)  # past any retry's backoff


@pytest.fixture
async def provider() -> AsyncIterator[Provider]:
    server = await Provider().start()
    try:
        yield server
    finally:
        await server.stop()


async def test_a_queued_answer_arrives_whole_and_its_row_says_sent(
        pool: asyncpg.Pool, provider: Provider) -> None:
    mail_id = await queue(pool, to_name="Renée Dupré", in_reply_to="<q1@example.fr>",
                          references=("<q1@example.fr>",),
                          reply_to="expert.sante@campagne.example")
    metrics = Metrics()
    assert await sender(pool, provider, metrics=metrics).send_due() == 1
    [received] = provider.received
    stored = await row(pool, mail_id)
    assert received.mail_from == FROM and received.rcpt_tos == ("renee@example.fr",)
    message = received.message
    assert message["Message-ID"] == stored["message_id"]
    assert message["In-Reply-To"] == "<q1@example.fr>"
    assert message["References"] == "<q1@example.fr>"
    assert message["Reply-To"] == "expert.sante@campagne.example"
    assert message["Subject"] == "Re: Votre question sur l'hôpital"
    assert str(message["From"]) == "Équipe de campagne <contact@campagne.example>"
    assert message["Date"] is not None and received.ehlo_name == "gw-a.test"
    assert stored["status"] == "sent" and stored["attempts"] == 1
    assert stored["smtp_response"] == "250 2.0.0 Ok: queued as Q1"
    assert stored["sent_at"] is not None and stored["lease_owner"] is None
    assert stored["unsure_sends"] == 0
    assert metrics.mail_sent._value.get() == 1


async def test_a_451_is_retried_after_its_backoff_and_then_sent(
        pool: asyncpg.Pool, provider: Provider) -> None:
    clock = ManualClock()
    mail_id = await queue(pool)
    provider.script.data_replies.append("451 4.7.1 Greylisted, try again later")
    mail = sender(pool, provider, clock=clock)
    await mail.send_due()
    waiting = await row(pool, mail_id)
    assert waiting["status"] == "queued" and waiting["attempts"] == 1
    assert waiting["last_error"] == "DATA refused: 451 4.7.1 Greylisted, try again later"
    assert waiting["not_before"] > clock() + timedelta(seconds=59)  # retry_min: 60 s
    assert await mail.send_due() == 0  # not due yet
    clock.advance(LATER)
    assert await mail.send_due() == 1
    sent = await row(pool, mail_id)
    assert sent["status"] == "sent" and sent["attempts"] == 2
    assert len(provider.received) == 1  # the 451 stored nothing


async def test_a_550_fails_at_once_and_sends_nothing(
        pool: asyncpg.Pool, provider: Provider) -> None:
    mail_id = await queue(pool, to="gone@example.org")
    other = await queue(pool, to="ana@example.org")
    provider.script.refused_recipients["gone@example.org"] = "550 5.1.1 No such user here"
    await sender(pool, provider).send_due()
    failed = await row(pool, mail_id)
    assert failed["status"] == "failed" and failed["attempts"] == 1
    assert failed["last_error"] == "RCPT refused: 550 5.1.1 No such user here"
    assert (await row(pool, other))["status"] == "sent"  # the connection went on (RSET)
    assert [r.rcpt_tos for r in provider.received] == [("ana@example.org",)]


async def test_refused_for_now_every_time_it_fails_after_the_last_attempt(
        pool: asyncpg.Pool, provider: Provider) -> None:
    clock = ManualClock()
    mail_id = await queue(pool)
    mail = sender(pool, provider, clock=clock, max_attempts=2)
    provider.script.mail_replies.extend(["452 4.5.3 Too many for now"] * 2)
    await mail.send_due()
    clock.advance(LATER)
    await mail.send_due()
    failed = await row(pool, mail_id)
    assert failed["status"] == "failed" and failed["attempts"] == 2
    assert failed["last_error"] == ("MAIL refused: 452 4.5.3 Too many for now "
                                    "(attempt 2 of 2: no attempt left)")


async def test_a_bounced_address_is_suppressed_until_it_writes_to_us_again(
        pool: asyncpg.Pool, provider: Provider) -> None:
    bounce = build_record(dsn(recipient="Citizen@Example.org"), intake="smtp",
                          dedupe_key=smtp_dedupe_key("", [FROM], b"1"), envelope_from="",
                          envelope_to=[FROM], max_attachment_bytes=1000)
    async with pool.acquire() as conn:
        bounce_id, _ = await mail_inbound.insert(conn, bounce)
    suppressed = await queue(pool, to="citizen@example.org")
    metrics = Metrics()
    await sender(pool, provider, metrics=metrics).send_due()
    stored = await row(pool, suppressed)
    assert stored["status"] == "suppressed" and provider.received == []
    assert stored["suppressed_reason"].startswith("bounced: a delivery report received ")
    assert f"(mail_inbound {bounce_id})" in stored["suppressed_reason"]
    assert metrics.mail_suppressed._value.get() == 1
    # the citizen writes to us again from that address: the mailbox works
    raw = (b"From: citizen@example.org\r\nTo: " + FROM.encode() + b"\r\nSubject: me again\r\n"
           b"Message-ID: <again@example.org>\r\n\r\nHello\r\n")
    letter = build_record(raw, intake="smtp", envelope_from="citizen@example.org",
                          dedupe_key=smtp_dedupe_key("citizen@example.org", [FROM], raw),
                          envelope_to=[FROM], max_attachment_bytes=1000)
    async with pool.acquire() as conn:
        await mail_inbound.insert(conn, letter)
    answered = await queue(pool, to="citizen@example.org")
    await sender(pool, provider).send_due()
    assert (await row(pool, answered))["status"] == "sent"


async def test_two_senders_on_one_database_send_every_row_once(
        pool: asyncpg.Pool, provider: Provider) -> None:
    ids = [await queue(pool, to=f"citizen{n}@example.org") for n in range(40)]
    provider.script.delay = 0.005  # so the two interleave
    first = sender(pool, provider, owner="gw-a")
    second = sender(pool, provider, owner="gw-b",
                    submission_changes={"local_hostname": "gw-b.test"})
    tasks = [asyncio.create_task(s.run()) for s in (first, second)]
    try:
        await provider.wait_for(40, within=30)
        await asyncio.sleep(0.2)  # anything sent twice would have arrived by now
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    message_ids = provider.message_ids()
    assert len(message_ids) == len(set(message_ids)) == 40
    assert {r.ehlo_name for r in provider.received} == {"gw-a.test", "gw-b.test"}
    statuses = await pool.fetch("SELECT status, count(*) FROM mail_outbox WHERE id = ANY($1)"
                                " GROUP BY status", ids)
    assert [(r["status"], r["count"]) for r in statuses] == [("sent", 40)]


async def test_an_unreachable_server_counts_against_no_mail(pool: asyncpg.Pool) -> None:
    clock = ManualClock()
    gone = await Provider().start()
    await gone.stop()  # its port now refuses connections
    mail_id = await queue(pool)
    mail = sender(pool, gone, clock=clock)
    await mail.send_due()
    waiting = await row(pool, mail_id)
    assert waiting["status"] == "queued" and waiting["attempts"] == 0
    assert waiting["last_error"].startswith("not sent: the submission server: ")
    assert waiting["not_before"] >= clock() + timedelta(seconds=5)


async def test_starttls_with_a_self_signed_certificate_and_auth(
        pool: asyncpg.Pool, tmp_path: Path) -> None:
    cert, key = self_signed_certificate(tmp_path)
    provider = await Provider(tls=server_tls(cert, key),
                              credentials=("campaign", "s3cret pass")).start()
    try:
        trusted = {"security": "starttls", "user": "campaign", "password": "s3cret pass",
                   "tls": ssl.create_default_context(cafile=str(cert))}
        mail_id = await queue(pool)
        await sender(pool, provider, submission_changes=trusted).send_due()
        [received] = provider.received
        assert received.tls and received.authenticated
        assert provider.logins == [("campaign", True)]
        assert (await row(pool, mail_id))["status"] == "sent"
        # a wrong password: the mail waits, its attempt not counted
        clock = ManualClock()
        refused = await queue(pool)
        wrong = {**trusted, "password": "wrong"}
        await sender(pool, provider, clock=clock, submission_changes=wrong).send_due()
        waiting = await row(pool, refused)
        assert waiting["status"] == "queued" and waiting["attempts"] == 0
        assert "535" in waiting["last_error"]
        # a certificate nobody trusts: nothing is sent in clear instead
        untrusted = {**trusted, "tls": None}
        clock.advance(LATER)
        await sender(pool, provider, clock=clock, submission_changes=untrusted).send_due()
        assert "CERTIFICATE_VERIFY_FAILED" in (await row(pool, refused))["last_error"]
        assert len(provider.received) == 1
    finally:
        await provider.stop()


async def test_implicit_tls(pool: asyncpg.Pool, tmp_path: Path) -> None:
    cert, key = self_signed_certificate(tmp_path)
    provider = await Provider(tls=server_tls(cert, key), implicit_tls=True).start()
    try:
        context = ssl.create_default_context(cafile=str(cert))
        mail_id = await queue(pool)
        await sender(pool, provider,
                     submission_changes={"security": "tls", "tls": context}).send_due()
        assert provider.received[0].tls
        assert (await row(pool, mail_id))["status"] == "sent"
    finally:
        await provider.stop()


async def test_bulk_mail_to_one_domain_is_paced_and_mail_to_one_person_is_not(
        pool: asyncpg.Pool, provider: Provider, settings: Settings) -> None:
    clock = ManualClock()
    mail = sender(pool, provider, clock=clock, domain_rate=1)  # one a minute per domain
    mailing = mailing_settings(settings)
    urls = {}
    for address in ("s0@gmail.example", "s1@gmail.example", "s2@gmail.example",
                    "t@other.example"):  # confirmed subscribers: bulk mail may go to them
        async with pool.acquire() as conn:
            urls[address] = await confirmed_subscriber(conn, mailing, address, clock())
    await mail.send_due()  # their confirmation mails; then a new minute
    provider.received.clear()
    clock.advance(timedelta(minutes=5))
    bulk = [await queue(pool, to=f"s{n}@gmail.example", purpose="newsletter", bulk=True,
                        unsubscribe_url=urls[f"s{n}@gmail.example"]) for n in range(3)]
    elsewhere = await queue(pool, to="t@other.example", purpose="newsletter", bulk=True,
                            unsubscribe_url=urls["t@other.example"])
    answer = await queue(pool, to="p@gmail.example")
    await mail.send_due()
    # the answer went first (mail to one person before bulk) and took the minute's slot
    assert [r.rcpt_tos[0] for r in provider.received] == ["p@gmail.example", "t@other.example"]
    assert (await row(pool, answer))["status"] == "sent"
    paced = [await row(pool, mail_id) for mail_id in bulk]
    assert [(r["status"], r["paced"], r["attempts"]) for r in paced] == [
        ("queued", True, 0)] * 3
    starts = [r["not_before"] - clock() for r in paced]
    assert starts == [timedelta(minutes=1), timedelta(minutes=2), timedelta(minutes=3)]
    assert (await row(pool, elsewhere))["status"] == "sent"
    for minute in (1, 2, 3):
        clock.advance(timedelta(minutes=1))
        await mail.send_due()
        assert len(provider.received) == 2 + minute
    sent = provider.received[2:]
    assert [r.rcpt_tos[0] for r in sent] == ["s0@gmail.example", "s1@gmail.example",
                                             "s2@gmail.example"]
    assert sent[0].message["List-Unsubscribe"] == f"<{urls['s0@gmail.example']}>"


async def test_the_gateway_runs_the_sender_as_mail_out_only_when_a_host_is_set(
        settings: Settings, smsc: SmscSimulator, provider: Provider) -> None:
    plain: Gateway = await running_gateway(gateway_settings(settings, smsc), smsc)
    try:
        assert plain.mail_out is None and "mail-out" not in plain.supervisor.status()
    finally:
        await stop_gateway(plain)
    enabled = gateway_settings(settings, smsc, mail_out_host="127.0.0.1",
                               mail_out_port=provider.port, mail_out_security="none",
                               mail_from_name="Équipe de campagne")
    gw: Gateway = await running_gateway(enabled, smsc)
    try:
        async with aiohttp.ClientSession() as http, http.get(
                f"http://127.0.0.1:{gw.http_port}/healthz") as response:
            assert (await response.json())["tasks"]["mail-out"] == "running"
        mail_id = await queue(gw.pool)
        assert gw.mail_out is not None
        gw.mail_out.wake()
        [received] = await provider.wait_for(1)
        assert str(received.message["From"]) == "Équipe de campagne <contact@campagne.example>"
        await wait_for(lambda: _status_is(gw.pool, mail_id, "sent"))
        async with aiohttp.ClientSession() as http, http.get(
                f"http://127.0.0.1:{gw.http_port}/metrics") as response:
            assert "gateway_mail_sent_total 1.0" in await response.text()
    finally:
        await stop_gateway(gw)


async def _status_is(pool: asyncpg.Pool, mail_id: int, status: str) -> bool:
    return bool((await row(pool, mail_id))["status"] == status)


async def test_bulk_mail_goes_only_to_a_confirmed_subscriber_at_send_time(
        pool: asyncpg.Pool, provider: Provider, settings: Settings) -> None:
    mailing = mailing_settings(settings)
    async with pool.acquire() as conn:
        url = await confirmed_subscriber(conn, mailing, "ana@example.org", utc_now())
        await unsubscribe(conn, address="ana@example.org", program="rise",
                          source="unsubscribe_link", now=utc_now())
    never = unsubscribe_url(mailing, "bob@example.org", "rise")  # never subscribed
    left = await queue(pool, to="ana@example.org", purpose="newsletter", bulk=True,
                       unsubscribe_url=url)
    stranger = await queue(pool, to="bob@example.org", purpose="newsletter", bulk=True,
                           unsubscribe_url=never)
    answer = await queue(pool, to="bob@example.org")  # one person's mail is not list mail
    await sender(pool, provider).send_due()
    assert [(await row(pool, m))["status"] for m in (left, stranger, answer)] == [
        "suppressed", "suppressed", "sent"]
    assert [r.rcpt_tos[0] for r in provider.received] == ["ana@example.org", "bob@example.org"]
