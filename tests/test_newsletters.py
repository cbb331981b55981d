"""Newsletters: broadcasts on the e-mail channel, to confirmed subscribers only, with the
broadcast's life (start, pause, resume, cancel, done). Real PostgreSQL; the ticker's step."""

from __future__ import annotations

import asyncio
import html
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from gateway.broadcast import control, newsletters
from gateway.broadcast.compose_checks import ComposeError
from gateway.broadcast.control import BroadcastTicker
from gateway.broadcast.newsletters import NewsletterQueue
from gateway.broadcast.policy import QuietHoursPolicy
from gateway.config import Settings
from gateway.email_consent import confirm
from gateway.store import address_consent
from gateway.store import newsletters as newsletter_store
from tests.support.clock import ManualClock
from tests.support.email_consent import (
    RULES,
    confirmation_path,
    mailing_settings,
    path_of,
    public_pages,
    tick_box,
)
from tests.support.mail_out import sender
from tests.support.pages_site import form_token
from tests.support.smtp_provider import Provider
from tests.support.webapi import WebApi

NOW = datetime.now(UTC) - timedelta(days=3)


async def subscriber(conn: asyncpg.Connection, settings: Settings, address: str, *,
                     program: str = "rise", confirmed: bool = True) -> None:
    asked = await tick_box(conn, settings, address, NOW, program=program)
    if confirmed:
        assert asked.mail_id is not None
        token = (await confirmation_path(conn, asked.mail_id)).rsplit("/", 1)[1]
        assert (await confirm(conn, RULES, token=token, now=NOW,
                              client_ip=None)).status == "confirmed"


async def newsletter(conn: asyncpg.Connection, subject: str = "{program}: the rally",
                     program: str = "rise") -> int:
    broadcast_id = await newsletters.create(
        conn, RULES, program=program, subject=subject,
        text="Join us Saturday at noon. {program} counts on you.", created_by="org@example.org",
        now=NOW)
    await control.start(conn, broadcast_id)
    return broadcast_id


async def copies(conn: asyncpg.Connection, broadcast_id: int) -> list[asyncpg.Record]:
    return list(await conn.fetch(
        "SELECT m.*, r.address FROM newsletter_recipients r "
        "JOIN mail_outbox m ON m.id = r.mail_outbox_id WHERE r.broadcast_id = $1 "
        "ORDER BY r.address", broadcast_id))


async def test_box_ticked_confirmed_newsletter_one_click_then_nothing_more(
        pool: asyncpg.Pool, settings: Settings) -> None:
    settings = mailing_settings(settings)
    queue = NewsletterQueue(settings, lambda: RULES)
    clock = ManualClock(NOW)
    async with pool.acquire() as conn:
        await subscriber(conn, settings, "ana@example.org")
        await subscriber(conn, settings, "carla@example.org", confirmed=False)  # box, no click
        await subscriber(conn, settings, "eve@example.org", program="ensemble")
        first = await newsletter(conn)
        assert await queue.tick(conn, NOW) == 1
        sent = await copies(conn, first)
    assert [c["address"] for c in sent] == ["ana@example.org"]
    mail = sent[0]
    assert (mail["purpose"], mail["bulk"], mail["subject"]) == (
        "newsletter", True, "Rise Up Alerts: the rally")
    assert mail["unsubscribe_url"].startswith("https://act.campaign.example/mail/unsubscribe/")
    assert "Rise Up Alerts counts on you." in mail["text_body"]
    assert f"Unsubscribe: {mail['unsubscribe_url']}" in mail["text_body"]
    assert "https://riseup.example.org/privacy" in mail["text_body"]

    async with public_pages(pool, settings, clock) as client:
        left = await client.post(path_of(mail["unsubscribe_url"]),
                                 data={"List-Unsubscribe": "One-Click"})
        assert left.status == 200
    async with pool.acquire() as conn:
        # not sent yet when she clicked: the sender's check suppresses it
        assert await address_consent.mail_suppression_reason(
            conn, mail["to_address"], bulk=True, unsubscribe_url=mail["unsubscribe_url"],
            mail_id=mail["id"]) == "unsubscribed"
        second = await newsletter(conn, subject="Again")
        assert await queue.tick(conn, NOW) == 0
        assert await copies(conn, second) == []
        steps = await address_consent.history(conn, "ana@example.org")
    assert [(s["kind"], s["source"], s["wording_version"]) for s in steps] == [
        ("opt_in_requested", "web_form", "form-box-v2"),
        ("opt_in_confirmed", "confirm_link", "en-1"),
        ("opted_out", "list_unsubscribe", "en-1")]


async def test_a_window_at_a_time_pause_resume_cancel_and_done(
        pool: asyncpg.Pool, settings: Settings) -> None:
    settings = mailing_settings(settings)
    queue = NewsletterQueue(settings, lambda: RULES, window=2)
    ticker = BroadcastTicker(pool, policy=QuietHoursPolicy(), clock=ManualClock(NOW),
                             newsletters=queue)
    async with pool.acquire() as conn:
        for name in ("a", "b", "c", "d", "e"):
            await subscriber(conn, settings, f"{name}@example.org")
        broadcast_id = await newsletter(conn)

        async def mark_sent() -> None:  # what the sender does (gateway/mail/)
            await conn.execute("UPDATE mail_outbox SET status = 'sent' WHERE status = 'queued' "
                               "AND purpose = 'newsletter'")

        await ticker.tick()
        await ticker.tick()  # the window is full: nothing more until copies go
        assert [c["address"] for c in await copies(conn, broadcast_id)] == [
            "a@example.org", "b@example.org"]
        await mark_sent()
        await control.pause(conn, broadcast_id)
        await ticker.tick()
        assert len(await copies(conn, broadcast_id)) == 2
        await control.resume(conn, broadcast_id)
        await ticker.tick()
        assert len(await copies(conn, broadcast_id)) == 4
        await control.cancel(conn, broadcast_id)
        await ticker.tick()
        waiting = [c for c in await copies(conn, broadcast_id) if c["status"] == "queued"]
        reasons = {await address_consent.mail_suppression_reason(
            conn, c["to_address"], bulk=True, unsubscribe_url=c["unsubscribe_url"],
            mail_id=c["id"]) for c in waiting}
        progress = await newsletter_store.progress(conn, broadcast_id)
        finished = await newsletter(conn, subject="Short one")
        await ticker.tick()
        await mark_sent()
        await ticker.tick()
        status = await conn.fetchval("SELECT status FROM broadcasts WHERE id = $1", finished)
    assert len(waiting) == 2 and reasons == {"cancelled"}
    assert progress is not None
    assert (progress["recipients"], progress["sent"], progress["queued"]) == (4, 2, 2)
    assert status == "running"  # 2 of 5 queued: the window holds the rest back
    async with pool.acquire() as conn:
        for _ in range(3):
            await ticker.tick()
            await mark_sent()
        await ticker.tick()
        assert await conn.fetchval("SELECT status FROM broadcasts WHERE id = $1",
                                   finished) == "done"
        assert len(await copies(conn, finished)) == 5


async def test_two_gateways_queue_each_subscriber_once(pool: asyncpg.Pool,
                                                       settings: Settings) -> None:
    settings = mailing_settings(settings)
    async with pool.acquire() as conn:
        for n in range(30):
            await subscriber(conn, settings, f"s{n:02}@example.org")
        broadcast_id = await newsletter(conn)

    async def gateway() -> int:
        queue = NewsletterQueue(settings, lambda: RULES, window=7)
        total = 0
        async with pool.acquire() as conn:
            for _ in range(10):
                total += await queue.tick(conn, NOW)
                await conn.execute("UPDATE mail_outbox SET status = 'sent' "
                                   "WHERE purpose = 'newsletter' AND status = 'queued'")
        return total

    queued = await asyncio.gather(gateway(), gateway())
    async with pool.acquire() as conn:
        rows = await copies(conn, broadcast_id)
        recipients = await conn.fetchval("SELECT recipients FROM broadcasts WHERE id = $1",
                                         broadcast_id)
    assert sum(queued) == len(rows) == len({r["address"] for r in rows}) == 30 == recipients


async def test_nothing_is_queued_without_a_link_key_or_a_from_address(
        pool: asyncpg.Pool, settings: Settings) -> None:
    ready = mailing_settings(settings)
    async with pool.acquire() as conn:
        await subscriber(conn, ready, "ana@example.org")
        broadcast_id = await newsletter(conn)
        for broken in ({"mail_link_secret": None}, {"mail_from_address": None}):
            queue = NewsletterQueue(ready.model_copy(update=broken), lambda: RULES)
            assert await queue.tick(conn, NOW) == 0
        assert await copies(conn, broadcast_id) == []
        assert await NewsletterQueue(ready, lambda: RULES).tick(conn, NOW) == 1


@pytest.mark.parametrize(("changes", "field"), [
    ({"program": "nope"}, "program"),
    ({"subject": "  "}, "subject"),
    ({"text": "Hello {first_name}"}, "text"),
    ({"scheduled_at": NOW - timedelta(hours=1)}, "scheduled_at"),
])
async def test_a_newsletter_that_cannot_go_is_refused_naming_the_field(
        pool: asyncpg.Pool, changes: dict[str, object], field: str) -> None:
    asked: dict[str, object] = {"program": "rise", "subject": "News", "text": "Hello",
                                "created_by": "org@example.org", "now": NOW, **changes}
    async with pool.acquire() as conn:
        with pytest.raises(ComposeError) as refused:
            await newsletters.create(conn, RULES, **asked)  # type: ignore[arg-type]
        assert await conn.fetchval("SELECT count(*) FROM broadcasts") == 0
    assert refused.value.field == field


async def test_sms_broadcasts_never_see_a_newsletter(pool: asyncpg.Pool,
                                                     settings: Settings) -> None:
    async with pool.acquire() as conn:
        broadcast_id = await newsletter(conn)
        ticker = BroadcastTicker(pool, policy=QuietHoursPolicy(), clock=ManualClock(NOW))
        await ticker.tick()  # no newsletter step: the SMS path must leave it alone
        outbound = await conn.fetchval("SELECT count(*) FROM outbound")
        listed = await conn.fetch("SELECT id FROM broadcasts WHERE channel = 'email'")
    assert outbound == 0 and [r["id"] for r in listed] == [broadcast_id]


async def test_an_organizer_writes_starts_and_watches_a_newsletter(
        site: WebApi, pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await subscriber(conn, mailing_settings(site.settings), "ana@example.org")
    await site.staff("organizer")
    await site.login("organizer@example.org")
    page = await site.client.get("/newsletters")
    token = form_token(await page.text())
    refused = await site.client.post("/newsletters", data={
        "csrf_token": token, "program": "rise", "subject": "Hi {first_name}", "text": "x",
        "scheduled_at": "", "time_zone": "UTC"})
    assert refused.status == 400
    refused_text = html.unescape(await refused.text())
    assert "may only name {program}" in refused_text and 'value="Hi {first_name}"' in refused_text
    made = await site.client.post("/newsletters", data={
        "csrf_token": token, "program": "rise", "subject": "Rally", "text": "Saturday, noon.",
        "scheduled_at": "", "time_zone": "UTC"}, allow_redirects=False)
    assert made.status == 303
    where = made.headers["Location"]
    started = await site.client.post(where + "/start", data={"csrf_token": token},
                                     allow_redirects=False)
    assert started.status == 303
    shown = html.unescape(await (await site.client.get(where)).text())
    assert "Sending" in shown and "Saturday, noon." in shown
    listed = await (await site.client.get("/newsletters")).text()
    assert "Rally" in listed
    broadcasts = await (await site.client.get("/broadcasts")).text()
    assert "Saturday, noon." not in broadcasts  # the SMS list keeps to SMS
    async with pool.acquire() as conn:
        actions = [r["action"] for r in await conn.fetch(
            "SELECT action FROM audit_log WHERE target LIKE 'broadcast:%' ORDER BY id")]
    assert actions == ["broadcast.created", "broadcast.started"]


async def test_an_erased_subscriber_stays_counted_under_a_pseudonym(
        pool: asyncpg.Pool, settings: Settings) -> None:
    settings = mailing_settings(settings)
    async with pool.acquire() as conn:
        await subscriber(conn, settings, "ana@example.org")
        broadcast_id = await newsletter(conn)
        await NewsletterQueue(settings, lambda: RULES).tick(conn, NOW)
        async with conn.transaction():
            await conn.execute("SET LOCAL gateway.erasing = 'on'")
            rows = await address_consent.erase_address(
                conn, "ana@example.org", pseudonym="erased:" + "a" * 32,
                address_hash="a" * 64, reason="request", erased_by="dpo@example.org")
        recipients = [r["address"] for r in await copies(conn, broadcast_id)]
        progress = await newsletter_store.progress(conn, broadcast_id)
    assert rows["newsletter_recipients"] == 1 and recipients == ["erased:" + "a" * 32]
    assert progress is not None and progress["recipients"] == 1


async def test_a_paused_newsletter_sends_nothing_more_until_resumed(
        pool: asyncpg.Pool, settings: Settings) -> None:
    settings = mailing_settings(settings)
    queue = NewsletterQueue(settings, lambda: RULES, window=10)
    ticker = BroadcastTicker(pool, policy=QuietHoursPolicy(), clock=ManualClock(NOW),
                             newsletters=queue)
    provider = await Provider().start()
    try:
        mail = sender(pool, provider)
        async with pool.acquire() as conn:
            for name in ("a", "b"):
                await subscriber(conn, settings, f"{name}@example.org")
            await mail.send_due()  # their confirmation mails
            provider.received.clear()
            broadcast_id = await newsletter(conn)
            await ticker.tick()
            assert len(await copies(conn, broadcast_id)) == 2
            await control.pause(conn, broadcast_id)
        await mail.send_due()
        assert provider.received == []  # queued before the pause, held by it
        async with pool.acquire() as conn:
            await control.resume(conn, broadcast_id)
        await mail.send_due()
        assert sorted(r.rcpt_tos[0] for r in provider.received) == [
            "a@example.org", "b@example.org"]
    finally:
        await provider.stop()
