"""Newsletter segments: the SMS audience filter read from the contact of a number verified to
be the subscriber's person. Real PostgreSQL; the queue's step and the page's preview."""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from gateway.broadcast import control, newsletters
from gateway.broadcast.compose_checks import ComposeError
from gateway.broadcast.newsletters import NewsletterQueue
from gateway.config import Settings
from gateway.services.persons.membership import join, split
from tests.support.email_consent import RULES, confirmed_subscriber, mailing_settings, tick_box
from tests.support.pages_site import form_token
from tests.support.webapi import WebApi

NOW = datetime.now(UTC) - timedelta(days=3)
CODE = "12345"  # rise's short code in keywords.yaml


async def contact(conn: asyncpg.Connection, msisdn: str, *, zip_code: str | None,
                  shortcode: str = CODE, opted_out: bool = False) -> None:
    state = {"v": 1, "subs": {"rise": {"status": "subscribed"}}, "profile": {}}
    await conn.execute(
        "INSERT INTO contacts (msisdn, shortcode, opted_out, state, zip) "
        "VALUES ($1, $2, $3, $4::jsonb, $5)", msisdn, shortcode, opted_out, json.dumps(state),
        zip_code)


async def linked(conn: asyncpg.Connection, email: str, msisdn: str) -> int:
    joined = await join(conn, msisdn, email, method="expert_merge", evidence={},
                        linked_by="expert@example.org", reason="same person, checked", now=NOW)
    return joined.link_id


async def audience(conn: asyncpg.Connection, settings: Settings) -> None:
    """ana (zip 10001) and bob (zip 94110) linked; cid a lone address; dan linked to a
    number opted out of SMS (zip 10002); eve's number is on another code (zip 10003);
    fay only asked (pending); gus linked (zip 10004) to a subscriber of another program."""
    for address in ("ana", "bob", "cid", "dan", "eve"):
        await confirmed_subscriber(conn, settings, f"{address}@example.org", NOW)
    await confirmed_subscriber(conn, settings, "gus@example.org", NOW, program="ensemble")
    await tick_box(conn, settings, "fay@example.org", NOW)
    for name, msisdn, zip_code, code, out in (
            ("ana", "+15555550101", "10001", CODE, False),
            ("bob", "+15555550102", "94110", CODE, False),
            ("dan", "+15555550104", "10002", CODE, True),
            ("eve", "+15555550105", "10003", "99999", False),
            ("fay", "+15555550106", "10005", CODE, False),
            ("gus", "+15555550107", "10004", CODE, False)):
        await contact(conn, msisdn, zip_code=zip_code, shortcode=code, opted_out=out)
        await linked(conn, f"{name}@example.org", msisdn)


async def queued_for(conn: asyncpg.Connection, settings: Settings, where: str) -> list[str]:
    broadcast_id = await newsletters.create(
        conn, RULES, program="rise", subject="News", text="Saturday, noon.",
        created_by="org@example.org", now=NOW, where=where)
    await control.start(conn, broadcast_id)
    await NewsletterQueue(settings, lambda: RULES).tick(conn, NOW)
    return [r["address"] for r in await conn.fetch(
        "SELECT address FROM newsletter_recipients WHERE broadcast_id = $1 ORDER BY address",
        broadcast_id)]


async def test_a_segment_picks_only_linked_subscribers_whose_number_matches(
        pool: asyncpg.Pool, settings: Settings) -> None:
    settings = mailing_settings(settings)
    async with pool.acquire() as conn:
        await audience(conn, settings)
        # dan opted out of texts, not of e-mail: his profile still places him
        assert await queued_for(conn, settings, 'zip starts with "100"') == [
            "ana@example.org", "dan@example.org"]
        assert await queued_for(conn, settings, 'not zip starts with "100"') == [
            "bob@example.org"]  # cid has no number: out of every non-empty segment
        assert await conn.fetchval(
            "SELECT filter FROM broadcasts ORDER BY id LIMIT 1") == 'zip starts with "100"'


async def test_an_empty_filter_still_reaches_every_confirmed_subscriber(
        pool: asyncpg.Pool, settings: Settings) -> None:
    settings = mailing_settings(settings)
    async with pool.acquire() as conn:
        await audience(conn, settings)
        assert await queued_for(conn, settings, "") == [
            f"{n}@example.org" for n in ("ana", "bob", "cid", "dan", "eve")]


async def test_the_preview_counts_the_segment_and_the_unlinked(
        pool: asyncpg.Pool, settings: Settings) -> None:
    settings = mailing_settings(settings)
    async with pool.acquire() as conn:
        await audience(conn, settings)
        segment = await newsletters.preview(conn, RULES, program="rise",
                                            where="zip starts with 100", now=NOW)
        everyone = await newsletters.preview(conn, RULES, program="rise", where=" ", now=NOW)
        # eve's number is on no code of rise's: she counts as unlinked for rise
        assert (segment.recipients, segment.subscribers, segment.unlinked) == (2, 5, 2)
        assert (everyone.recipients, everyone.subscribers) == (5, 5)
        link_id = await conn.fetchval(
            "SELECT id FROM person_links WHERE address_b = 'ana@example.org'")
        await split(conn, link_id, by="expert@example.org", reason="not the same", now=NOW)
        after = await newsletters.preview(conn, RULES, program="rise",
                                          where="zip starts with 100", now=NOW)
    assert (after.recipients, after.unlinked) == (1, 3)  # an undone link no longer counts


@pytest.mark.parametrize("where", ["zip starts", "zip = 100", "state in (FL", "x" * 2_001])
async def test_a_bad_filter_is_refused_naming_the_field(pool: asyncpg.Pool, where: str) -> None:
    async with pool.acquire() as conn:
        for attempt in (
                newsletters.create(conn, RULES, program="rise", subject="News", text="Hi",
                                   created_by="org@example.org", now=NOW, where=where),
                newsletters.preview(conn, RULES, program="rise", where=where, now=NOW)):
            with pytest.raises(ComposeError) as refused:
                await attempt
            assert refused.value.field == "where"
            assert "filter" in refused.value.message
        assert await conn.fetchval("SELECT count(*) FROM broadcasts") == 0


async def test_the_page_previews_then_keeps_what_was_typed_on_error(
        site: WebApi, pool: asyncpg.Pool) -> None:
    settings = mailing_settings(site.settings)
    async with pool.acquire() as conn:
        await audience(conn, settings)
    await site.staff("organizer")
    await site.login("organizer@example.org")
    token = form_token(await (await site.client.get("/newsletters")).text())
    form = {"csrf_token": token, "program": "rise", "subject": "Rally", "text": "Noon.",
            "scheduled_at": "", "time_zone": "UTC"}
    shown = await site.client.post("/newsletters", data={
        **form, "where": "zip starts with 100", "action": "preview"})
    assert shown.status == 200
    page = html.unescape(await shown.text())
    assert 'id="preview-recipients">2<' in page
    assert "2 subscribers have no linked number and are left out of a segment." in page
    refused = await site.client.post("/newsletters", data={
        **form, "where": "zip = 100", "action": "create"})
    assert refused.status == 400
    page = html.unescape(await refused.text())
    assert 'id="where-error"' in page and ">zip = 100</textarea>" in page
    assert 'value="Rally"' in page
    made = await site.client.post("/newsletters", data={
        **form, "where": "zip starts with 100", "action": "create"}, allow_redirects=False)
    assert made.status == 303
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT filter FROM broadcasts") == "zip starts with 100"
