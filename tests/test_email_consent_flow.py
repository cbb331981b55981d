"""E-mail consent end to end: a ticked box, the confirmation link, newsletters allowed, one
click to leave; every step in the ledger. Real PostgreSQL, the public pages on a real socket.
"""

from __future__ import annotations

import asyncio
import html
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from aiohttp import ClientResponse

from gateway.config import Settings
from gateway.email_address import EmailAddressError
from gateway.email_consent import Evidence, may_send_bulk, unsubscribe, unsubscribe_url
from gateway.store import address_consent
from tests.support.clock import ManualClock
from tests.support.email_consent import (
    BOX,
    BOX_VERSION,
    confirmation_path,
    mailing_settings,
    path_of,
    public_pages,
    tick_box,
)

START = datetime.now(UTC) - timedelta(days=10)
ANA = "Ana.Martin@Example.org"
ANA_NORMAL = "ana.martin@example.org"
ONE_CLICK = {"List-Unsubscribe": "One-Click"}


async def page_text(response: ClientResponse) -> str:
    """The page as a reader sees it: entities decoded."""
    return html.unescape(await response.text())


async def ledger(conn: asyncpg.Connection, address: str = ANA_NORMAL) -> list[asyncpg.Record]:
    return await address_consent.history(conn, address)


async def test_ticked_box_confirmed_by_link_then_one_click_unsubscribe(
        pool: asyncpg.Pool, settings: Settings) -> None:
    settings = mailing_settings(settings)
    clock = ManualClock(START)
    async with pool.acquire() as conn:
        asked = await tick_box(conn, settings, ANA, clock(),
                               evidence=Evidence(web_submission_id=41, client_ip="192.0.2.7"))
        assert asked.outcome == "queued" and asked.mail_id is not None
        mail = await conn.fetchrow("SELECT * FROM mail_outbox WHERE id = $1", asked.mail_id)
        link = await confirmation_path(conn, asked.mail_id)
        assert not await may_send_bulk(conn, ANA, "rise")
    assert (mail["purpose"], mail["to_address"], mail["bulk"]) == (
        "confirmation", ANA_NORMAL, False)
    assert mail["from_address"] == "contact@campaign.example"
    assert "Rise Up Alerts" in mail["subject"] and "48 hours" in mail["text_body"]
    assert "https://riseup.example.org/privacy" in mail["text_body"]

    async with public_pages(pool, settings, clock) as client:
        shown = await client.get(link)  # a link scanner's GET confirms nothing
        page = await page_text(shown)
        assert shown.status == 200 and "Yes, subscribe me" in page
        assert "a•••@example.org" in page and ANA_NORMAL not in page
        async with pool.acquire() as conn:
            assert not await may_send_bulk(conn, ANA, "rise")
        clock.advance(timedelta(hours=2))
        pressed = await client.post(link)
        assert pressed.status == 200 and "Subscription confirmed" in await page_text(pressed)
        async with pool.acquire() as conn:
            assert await may_send_bulk(conn, ANA, "rise")
            assert not await may_send_bulk(conn, ANA, "ensemble")  # consent is per program
        clock.advance(timedelta(days=1))
        url = unsubscribe_url(settings, ANA_NORMAL, "rise")
        left = await client.post(path_of(url), data=ONE_CLICK)  # no cookie, no CSRF token
        assert left.status == 200 and await left.text() == "Unsubscribed."
        async with pool.acquire() as conn:
            assert not await may_send_bulk(conn, ANA, "rise")
            rows = await ledger(conn)
            state = await address_consent.subscription(conn, ANA_NORMAL, "rise")

    assert [(r["kind"], r["source"]) for r in rows] == [
        ("opt_in_requested", "web_form"), ("opt_in_confirmed", "confirm_link"),
        ("opted_out", "list_unsubscribe")]
    requested, confirmed, opted_out = rows
    assert (requested["wording"], requested["wording_version"]) == (BOX, BOX_VERSION)
    assert (requested["web_submission_id"], requested["client_ip"]) == (41, "192.0.2.7")
    assert requested["mail_outbox_id"] == asked.mail_id
    assert requested["confirmation_status"] == "queued"
    assert confirmed["wording"] == "I want to receive information about Rise Up Alerts by e-mail."
    assert confirmed["wording_version"] == "en-1" and confirmed["request_id"] == requested["id"]
    assert confirmed["client_ip"] == "127.0.0.1"
    assert "RFC 8058" in opted_out["wording"] and opted_out["client_ip"] is None
    assert {r["privacy_version"] for r in rows} == {"2024-05"}
    assert [r["occurred_at"] for r in rows] == [
        START, START + timedelta(hours=2), START + timedelta(hours=26)]
    assert state is not None and state.state == "unsubscribed"


async def test_a_second_press_and_a_replayed_post_change_nothing(
        pool: asyncpg.Pool, settings: Settings) -> None:
    settings = mailing_settings(settings)
    clock = ManualClock(START)
    async with pool.acquire() as conn:
        asked = await tick_box(conn, settings, ANA, clock(), evidence=Evidence(web_submission_id=7))
        again = await tick_box(conn, settings, ANA, clock(), evidence=Evidence(web_submission_id=7))
        assert asked.mail_id is not None
        link = await confirmation_path(conn, asked.mail_id)
    assert (again.outcome, again.event_id, again.mail_id) == (
        "replayed", asked.event_id, asked.mail_id)
    async with public_pages(pool, settings, clock) as client:
        first = await client.post(link)
        second = await client.post(link)
        assert first.status == second.status == 200
        assert "already confirmed" in await page_text(second)
    async with pool.acquire() as conn:
        rows = await ledger(conn)
        mails = await conn.fetchval("SELECT count(*) FROM mail_outbox")
    assert [r["kind"] for r in rows] == ["opt_in_requested", "opt_in_confirmed"]
    assert mails == 1


async def test_an_expired_link_is_refused_clearly_and_confirms_nothing(
        pool: asyncpg.Pool, settings: Settings) -> None:
    settings = mailing_settings(settings, mail_consent_link_hours=24)
    clock = ManualClock(START)
    async with pool.acquire() as conn:
        asked = await tick_box(conn, settings, ANA, clock(), language="fr")
        assert asked.mail_id is not None
        link = await confirmation_path(conn, asked.mail_id)
    clock.advance(timedelta(hours=24))
    async with public_pages(pool, settings, clock) as client:
        shown = await client.get(link)
        pressed = await client.post(link)
        page = await page_text(pressed)
    assert shown.status == pressed.status == 410
    assert "Ce lien a expiré" in page and 'lang="fr"' in page
    async with pool.acquire() as conn:
        assert [r["kind"] for r in await ledger(conn)] == ["opt_in_requested"]
        assert not await may_send_bulk(conn, ANA, "rise")
        # once the old link is dead, asking again sends a new one
        again = await tick_box(conn, settings, ANA, clock())
    assert again.outcome == "queued" and again.mail_id != asked.mail_id


async def test_asking_again_while_a_link_is_open_sends_no_second_mail(
        pool: asyncpg.Pool, settings: Settings) -> None:
    settings = mailing_settings(settings)
    async with pool.acquire() as conn:
        first = await tick_box(conn, settings, ANA, START)
        second = await tick_box(conn, settings, "ana.martin@EXAMPLE.org",
                                START + timedelta(hours=1))
        count = await conn.fetchval("SELECT count(*) FROM mail_outbox")
        rows = await ledger(conn)
    assert (second.outcome, second.mail_id) == ("already_pending", first.mail_id)
    assert count == 1 and [r["mail_outbox_id"] for r in rows] == [first.mail_id] * 2


async def test_unknown_and_malformed_links_get_a_page_in_both_languages(
        pool: asyncpg.Pool, settings: Settings) -> None:
    settings = mailing_settings(settings)
    async with public_pages(pool, settings, ManualClock(START)) as client:
        for path in ("/mail/confirm/" + "A" * 43, "/mail/confirm/short",
                     "/mail/unsubscribe/bm90LW91cnM.c2lnbmF0dXJl"):
            response = await client.post(path)
            text = await page_text(response)
            assert response.status == 404, path
            assert "This link is not valid" in text and "Ce lien n'est pas valide" in text
    unsigned = settings.model_copy(update={"mail_link_secret": None})
    async with public_pages(pool, unsigned, ManualClock(START)) as client:
        response = await client.get(path_of(unsubscribe_url(settings, ANA_NORMAL, "rise")))
    assert response.status == 503


async def test_a_forged_unsubscribe_link_for_someone_else_is_refused(
        pool: asyncpg.Pool, settings: Settings) -> None:
    settings = mailing_settings(settings)
    mine = path_of(unsubscribe_url(settings, "me@example.org", "rise")).rsplit("/", 1)[1]
    theirs = path_of(unsubscribe_url(settings, ANA_NORMAL, "rise")).rsplit("/", 1)[1]
    forged = theirs.split(".")[0] + "." + mine.split(".")[1]
    async with public_pages(pool, settings, ManualClock(START)) as client:
        response = await client.post("/mail/unsubscribe/" + forged, data=ONE_CLICK)
    assert response.status == 404


async def test_the_unsubscribe_page_asks_first_and_its_button_is_final(
        pool: asyncpg.Pool, settings: Settings) -> None:
    settings = mailing_settings(settings)
    clock = ManualClock(START)
    async with pool.acquire() as conn:
        asked = await tick_box(conn, settings, ANA, clock(), program="ensemble")
        assert asked.mail_id is not None
        link = await confirmation_path(conn, asked.mail_id)
    leave = path_of(unsubscribe_url(settings, ANA_NORMAL, "ensemble"))
    async with public_pages(pool, settings, clock) as client:
        await client.post(link)
        shown = await client.get(leave)
        assert "Me désinscrire" in await page_text(shown)
        async with pool.acquire() as conn:
            assert await may_send_bulk(conn, ANA, "ensemble")
        pressed = await client.post(leave)
        assert "Vous êtes désinscrit" in await page_text(pressed)
        again = await client.post(leave)  # a second press: the same page, nothing recorded
        assert again.status == 200
        stale = await client.post(link)  # the old confirmation link cannot undo it
        assert stale.status == 410
    async with pool.acquire() as conn:
        rows = await ledger(conn)
        assert not await may_send_bulk(conn, ANA, "ensemble")
        # only a new request, confirmed, brings the address back
        back = await tick_box(conn, settings, ANA, clock(), program="ensemble")
        assert back.outcome == "queued" and back.mail_id is not None
        assert not await may_send_bulk(conn, ANA, "ensemble")
        new_link = await confirmation_path(conn, back.mail_id)
    assert [(r["kind"], r["source"]) for r in rows] == [
        ("opt_in_requested", "web_form"), ("opt_in_confirmed", "confirm_link"),
        ("opted_out", "unsubscribe_link")]
    assert rows[2]["wording"] == "Ne plus m'envoyer d'e-mails de « Ensemble Citoyen »."
    async with public_pages(pool, settings, clock) as client:
        assert (await client.post(new_link)).status == 200
    async with pool.acquire() as conn:
        assert await may_send_bulk(conn, ANA, "ensemble")


async def test_an_import_never_overrides_an_opt_out(pool: asyncpg.Pool,
                                                    settings: Settings) -> None:
    settings = mailing_settings(settings)
    async with pool.acquire() as conn:
        await tick_box(conn, settings, ANA, START)
        assert await unsubscribe(conn, address=ANA, program="rise", source="unsubscribe_link",
                                 now=START)
        imported = await tick_box(conn, settings, ANA, START, source="import")
        asked = await tick_box(conn, settings, ANA, START, source="web_form")
    assert imported.outcome == "suppressed" and imported.event_id is None
    assert asked.outcome == "queued"  # the person's own new request is new consent


async def test_bad_requests_are_refused_with_what_is_wrong(pool: asyncpg.Pool,
                                                           settings: Settings) -> None:
    settings = mailing_settings(settings)
    async with pool.acquire() as conn:
        with pytest.raises(EmailAddressError, match="not an e-mail address"):
            await tick_box(conn, settings, "ana@", START)
        with pytest.raises(ValueError, match="no program 'nope'"):
            await tick_box(conn, settings, ANA, START, program="nope")
        with pytest.raises(ValueError, match="source"):
            await tick_box(conn, settings, ANA, START, source="question")
        with pytest.raises(ValueError, match="language"):
            await tick_box(conn, settings, ANA, START, language="de")
        assert await ledger(conn) == []


async def test_without_a_from_address_the_request_is_kept_but_not_mailed(
        pool: asyncpg.Pool, settings: Settings) -> None:
    settings = mailing_settings(settings, mail_from_address=None)
    async with pool.acquire() as conn:
        asked = await tick_box(conn, settings, ANA, START)
        assert await conn.fetchval("SELECT count(*) FROM mail_outbox") == 0
        assert [r["kind"] for r in await ledger(conn)] == ["opt_in_requested"]
    assert (asked.outcome, asked.mail_id) == ("not_mailed", None)


async def test_two_posts_at_once_queue_one_confirmation(pool: asyncpg.Pool,
                                                        settings: Settings) -> None:
    settings = mailing_settings(settings)

    async def post(submission: int) -> str:
        async with pool.acquire() as conn, conn.transaction():
            asked = await tick_box(conn, settings, ANA, START,
                                   evidence=Evidence(web_submission_id=submission))
            return asked.outcome

    async def someone_waits_for_a_lock() -> None:
        async with pool.acquire() as watcher:
            for _ in range(1000):  # a poll of the database's state, not a wait for time
                if await watcher.fetchval("SELECT count(*) FROM pg_locks "
                                          "WHERE locktype = 'advisory' AND NOT granted"):
                    return
                await asyncio.sleep(0.01)
            raise AssertionError("the second post never waited for the address's lock")

    async with pool.acquire() as conn, conn.transaction():
        first = await tick_box(conn, settings, ANA, START,
                               evidence=Evidence(web_submission_id=1))
        second = asyncio.create_task(post(2))  # starts while the first is not committed
        await someone_waits_for_a_lock()
    async with pool.acquire() as conn:
        outcome = await asyncio.wait_for(second, timeout=10)
        mails = await conn.fetchval("SELECT count(*) FROM mail_outbox")
        rows = await ledger(conn)
    assert (first.outcome, outcome) == ("queued", "already_pending")
    assert mails == 1 and len(rows) == 2
