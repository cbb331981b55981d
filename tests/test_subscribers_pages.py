"""The staff pages of e-mail consent: each program's list and one address's history in plain
words, audited like a contact; the pages and the API on a real socket."""

from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta

import asyncpg

from gateway.email_consent import Evidence, confirm, unsubscribe, unsubscribe_by_reply
from gateway.store import address_consent
from tests.support.email_consent import (
    RULES,
    confirmation_path,
    mailing_settings,
    stored_reply,
    tick_box,
)
from tests.support.webapi import WebApi

NOW = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


async def three_addresses(conn: asyncpg.Connection, site: WebApi) -> None:
    """ana confirmed then left by reply, bob confirmed, carla only asked."""
    settings = mailing_settings(site.settings)
    for name in ("ana", "bob", "carla"):
        asked = await tick_box(conn, settings, f"{name}@example.org", NOW,
                               evidence=Evidence(web_submission_id=len(name),
                                                 client_ip="203.0.113.9"))
        if name != "carla":
            assert asked.mail_id is not None
            token = (await confirmation_path(conn, asked.mail_id)).rsplit("/", 1)[1]
            await confirm(conn, RULES, token=token, now=NOW + timedelta(hours=1),
                          client_ip="203.0.113.9")
    assert await address_consent.subscriptions_of(conn, "ana@example.org")


async def test_an_organizer_reads_the_list_and_one_history_in_plain_words(
        site: WebApi, pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await three_addresses(conn, site)
        await unsubscribe(conn, address="ana@example.org", program="rise",
                          source="list_unsubscribe", now=NOW + timedelta(days=2))
    await site.staff("organizer")
    await site.login("organizer@example.org")

    listed = html.unescape(await (await site.client.get("/subscribers?program=rise")).text())
    assert "ana@example.org" in listed and "bob@example.org" in listed
    assert "Waiting for confirmation" in listed
    only = html.unescape(await (await site.client.get(
        "/subscribers?program=rise&state=subscribed")).text())
    assert "bob@example.org" in only and "ana@example.org" not in only
    assert "carla@example.org" not in only

    response = await site.client.get("/subscribers/Ana%40Example.org")
    page = html.unescape(await response.text())
    assert response.status == 200
    for words in ("Asked to subscribe by ticking the box on the web form",
                  "Receive information about the campaign by e-mail",
                  "version form-box-v2", "Confirmed by pressing the button",
                  "Unsubscribed with the mail program's one-click button",
                  "Unsubscribed since",
                  "Confirmation e-mail #", "waiting to be sent", "203.0.113.9",
                  "Web form submission #3"):
        assert words in page, words
    async with pool.acquire() as conn:
        audited = await conn.fetch(
            "SELECT target, detail FROM audit_log WHERE action = 'contact.viewed' ORDER BY id")
    assert [a["target"] for a in audited] == [None, None, "email:ana@example.org"]


async def test_other_roles_and_bad_addresses_are_refused(site: WebApi,
                                                         pool: asyncpg.Pool) -> None:
    for role in ("finance", "expert"):
        staff = await site.staff(role)
        response = await site.client.get("/subscribers", headers=staff.bearer)
        assert response.status == 403, role
    organizer = await site.staff("organizer")
    bad = await site.client.get("/subscribers/not-an-address", headers=organizer.bearer)
    unknown = await site.client.get("/subscribers/nobody@example.org", headers=organizer.bearer)
    wrong = await site.client.get("/subscribers?program=nope", headers=organizer.bearer)
    assert (bad.status, unknown.status, wrong.status) == (400, 404, 400)


async def test_a_reply_unsubscribe_shows_what_the_citizen_wrote(site: WebApi,
                                                                pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await three_addresses(conn, site)
        mail_id = await stored_reply(conn, "bob@example.org", "Désinscription svp")
        assert await unsubscribe_by_reply(conn, "bob@example.org", mail_id,
                                          "Désinscription svp", NOW + timedelta(days=1))
    organizer = await site.staff("organizer")
    page = html.unescape(await (await site.client.get(
        "/subscribers/bob@example.org", headers=organizer.bearer)).text())
    assert "Unsubscribed by replying to one of our e-mails" in page
    assert "They wrote: \"Désinscription svp\"" in page.replace("<q>", '"').replace("</q>", '"')
    assert f"Received e-mail #{mail_id}" in page
