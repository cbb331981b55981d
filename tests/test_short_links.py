"""Tracked short links: written with the outbox rows, followed over real HTTP.

A preview bot is redirected but not counted; a person's clicks count once per
token for "unique" and each time for "total"; the redirect keeps the
destination's query string; a near token is a 404; the destination is the
one fixed at send time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer

from gateway import smstext
from gateway.broadcast import service
from gateway.config import Settings
from gateway.store import short_links
from gateway.web.short_links import add_short_link_routes
from tests.support.broadcasts import (
    CODE,
    NOW,
    OPTED_OUT,
    PEOPLE,
    RULES,
    VARIABLES,
    create,
    materialize,
    seed,
)

BASE = "https://go.example.org/"
DESTINATION = "https://example.org/rally?src=sms&day=sat"
TEXT = f"Rally Saturday! RSVP {DESTINATION}. Map: https://maps.example.org/x Reply STOP to end"
IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
          "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1")
IMESSAGE_PREVIEW = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_11_1) AppleWebKit/601.2.4 "
                    "(KHTML, like Gecko) Version/9.0.1 Safari/601.2.4 facebookexternalhit/1.1 "
                    "Facebot Twitterbot/1.0")


@dataclass
class Links:
    conn: asyncpg.Connection
    http: ClientSession
    url: str
    broadcast_id: int

    async def tokens(self, position: int = 0) -> dict[str, str]:
        rows = await self.conn.fetch(
            "SELECT msisdn, token FROM short_links WHERE broadcast_id = $1 AND position = $2",
            self.broadcast_id, position)
        return {r["msisdn"]: r["token"] for r in rows}

    async def get(self, token: str, agent: str = IPHONE, method: str = "GET") -> Any:
        return await self.http.request(method, f"{self.url}/l/{token}",
                                       headers={"User-Agent": agent}, allow_redirects=False)


@pytest.fixture
async def links(pool: asyncpg.Pool, settings: Settings) -> AsyncIterator[Links]:
    app = web.Application()
    add_short_link_routes(app, pool=pool, settings=settings, clock=lambda: NOW)
    server = TestServer(app)
    await server.start_server()
    async with pool.acquire() as conn, ClientSession() as http:
        await seed(conn)
        broadcast_id = await create(conn, text=TEXT)
        await materialize(conn, broadcast_id, link_base=BASE)
        yield Links(conn, http, str(server.make_url("")).rstrip("/"), broadcast_id)
    await server.close()


async def test_each_recipient_gets_its_own_short_links_in_place_of_the_links(
    links: Links,
) -> None:
    rows = await links.conn.fetch(
        "SELECT msisdn, body FROM outbound WHERE broadcast_id = $1", links.broadcast_id)
    first, second = await links.tokens(0), await links.tokens(1)
    recipients = {msisdn for msisdn, *_ in PEOPLE.values()}
    assert {r["msisdn"] for r in rows} == recipients == set(first) == set(second)
    assert OPTED_OUT not in first
    for row in rows:
        assert row["body"] == (f"Rally Saturday! RSVP {BASE}{first[row['msisdn']]}. "
                               f"Map: {BASE}{second[row['msisdn']]} Reply STOP to end")
    every = list(first.values()) + list(second.values())
    assert len(set(every)) == len(every) and all(len(t) == 16 for t in every)


async def test_a_rerun_of_the_materialization_makes_no_second_link(links: Links) -> None:
    before = await links.conn.fetchval("SELECT count(*) FROM short_links")
    await links.conn.execute("UPDATE broadcasts SET materialized_at = NULL, "
                             "materialized_through = NULL WHERE id = $1", links.broadcast_id)
    await materialize(links.conn, links.broadcast_id, link_base=BASE)
    assert await links.conn.fetchval("SELECT count(*) FROM short_links") == before


async def test_a_person_is_redirected_with_the_query_string_and_counted_once_as_unique(
    links: Links,
) -> None:
    number = PEOPLE["new_york"][0]
    token = (await links.tokens())[number]
    for _ in range(3):
        answer = await links.get(token)
        assert answer.status == 302
        assert answer.headers["Location"] == DESTINATION
        assert answer.headers["Cache-Control"] == "no-store"
        assert answer.headers["Referrer-Policy"] == "no-referrer"
    other = (await links.tokens())[PEOPLE["paris"][0]]
    assert (await links.get(other)).status == 302
    clicks = await short_links.clicks_of(links.conn, links.broadcast_id)
    assert (clicks.unique, clicks.total, clicks.people, clicks.bot_visits) == (2, 4, 2, 0)
    events = await links.conn.fetch(
        "SELECT name, data->>'broadcast_id' AS b FROM contact_events WHERE msisdn = $1", number)
    assert [(e["name"], e["b"]) for e in events] == [("link_clicked", str(links.broadcast_id))] * 3


@pytest.mark.parametrize("agent", [
    IMESSAGE_PREVIEW,
    "WhatsApp/2.23.20.0",
    "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
    "TelegramBot (like TwitterBot)",
    "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
    "SkypeUriPreview Preview/0.5",
    "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "SomeNewThing-bot/0.1",
    "",
])
async def test_a_preview_bot_is_redirected_but_not_counted(links: Links, agent: str) -> None:
    token = (await links.tokens())[PEOPLE["chicago"][0]]
    answer = await links.get(token, agent)
    assert answer.status == 302 and answer.headers["Location"] == DESTINATION
    clicks = await short_links.clicks_of(links.conn, links.broadcast_id)
    assert (clicks.unique, clicks.total, clicks.bot_visits) == (0, 0, 1)
    assert await links.conn.fetchval("SELECT count(*) FROM contact_events") == 0


async def test_a_head_request_is_redirected_but_not_counted(links: Links) -> None:
    token = (await links.tokens())[PEOPLE["chicago"][0]]
    answer = await links.get(token, method="HEAD")
    assert answer.status == 302 and answer.headers["Location"] == DESTINATION
    clicks = await short_links.clicks_of(links.conn, links.broadcast_id)
    assert (clicks.total, clicks.bot_visits) == (0, 1)


async def test_a_near_token_is_not_found(links: Links) -> None:
    token = (await links.tokens())[PEOPLE["chicago"][0]]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    near = [token[:-1] + next(c for c in alphabet if c != token[-1]),
            token[1:] + token[0], token[:-1], token + "A", token.lower()
            if token.lower() != token else token.upper(), "x" * 16, "../etc/passwd"]
    for guess in near:
        answer = await links.get(guess)
        assert answer.status == 404, guess
        assert "Location" not in answer.headers
    assert "Link not found" in await (await links.get(near[0])).text()
    clicks = await short_links.clicks_of(links.conn, links.broadcast_id)
    assert (clicks.total, clicks.bot_visits) == (0, 0)


async def test_the_destination_is_the_one_fixed_at_send_time(links: Links) -> None:
    await links.conn.execute("UPDATE broadcasts SET template = $2 WHERE id = $1",
                             links.broadcast_id, "Changed: https://elsewhere.example.org/")
    token = (await links.tokens())[PEOPLE["chicago"][0]]
    assert (await links.get(token)).headers["Location"] == DESTINATION


async def test_without_a_link_domain_the_text_goes_as_written(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await seed(conn)
        broadcast_id = await create(conn, text=TEXT)
        await materialize(conn, broadcast_id)
        bodies = {r["body"] for r in await conn.fetch(
            "SELECT body FROM outbound WHERE broadcast_id = $1", broadcast_id)}
        assert bodies == {TEXT}
        assert await conn.fetchval("SELECT count(*) FROM short_links") == 0


async def test_the_preview_counts_segments_on_the_text_as_sent(pool: asyncpg.Pool) -> None:
    long_link = "https://example.org/" + "events/2024/saturday-rally-downtown/" * 4 + "?src=sms"
    text = f"Rally Saturday at noon, bring a friend! Details: {long_link} Reply STOP to end"
    async with pool.acquire() as conn:
        await seed(conn)
        as_written = await service.preview(
            conn, rules=RULES, program="rise", shortcode=CODE, where="", text=text,
            variables=VARIABLES, now=NOW)
        as_sent = await service.preview(
            conn, rules=RULES, program="rise", shortcode=CODE, where="", text=text,
            variables=VARIABLES, now=NOW, link_base=BASE)
        broadcast_id = await create(conn, text=text)
        await materialize(conn, broadcast_id, link_base=BASE)
        bodies = [r["body"] for r in await conn.fetch(
            "SELECT body FROM outbound WHERE broadcast_id = $1", broadcast_id)]
    assert as_written.text.base.segments == 2
    assert as_sent.text.base.segments == 1 == as_sent.text.worst_case_segments
    assert {len(b) for b in bodies} == {as_sent.text.base.characters}
    assert {smstext.segment_count(b) for b in bodies} == {1}
