"""Tracked links in keyword replies: shortened per reply in the MO's transaction, followed
over real HTTP, bots apart; only links the organizer wrote; never a segment more."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg
import pytest
from aiohttp import ClientResponse, ClientSession, web
from aiohttp.test_utils import TestServer

from gateway.config import Settings
from gateway.engine import parse_rules
from gateway.engine.holder import RulesHolder
from gateway.pipeline.decide import DecisionWriter
from gateway.pipeline.reply_links import shorten_replies, written_links
from gateway.smstext import segment_count
from gateway.store import inbound as inbound_store
from gateway.store.inbound import NewInbound
from gateway.store.outbound import NewOutbound
from gateway.web.short_links import add_short_link_routes
from tests.support.rules_text import BASE as RULES_TEXT
from tests.support.webapi import WebApi

NOW = datetime(2026, 3, 3, 15, 0, tzinfo=UTC)
LINK_BASE = "https://go.example.org/"
RALLY = "https://example.org/events/2026/rally-downtown?src=sms&day=sat"
LONG_LINK = "https://example.org/" + "long-path/" * 10
# FACTS answers with a link; LONG with a reply near a segment's end and a short link
# that makes it longer; WHO with a link that runs into the supporter's name.
MORE_KEYWORDS = (
    "  - word: LONG\n    program: news\n    action: reply\n"
    f'    reply: "{"x" * 130} https://e.io"\n'
    "  - word: WHO\n    program: news\n    action: reply\n"
    '    reply: "Your page: https://example.org/p/{first_name|you}"\n')
RULES = parse_rules(
    RULES_TEXT.replace('reply: "Hi {first_name|there}!"',
                       f'reply: "Rally Saturday, RSVP: {RALLY} See you!"')
    .replace("dialogs:\n", MORE_KEYWORDS + "dialogs:\n"))
IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) Safari/604.1"


@dataclass
class Lane:
    pool: asyncpg.Pool
    http: ClientSession
    url: str
    writer: DecisionWriter
    ids: inbound_store.IdReserve

    async def text(self, msisdn: str, body: str) -> tuple[int, list[str]]:
        """One MO through the decision writer, as the ingest lane runs it; its replies."""
        mo = NewInbound(msisdn, "12345", body, 0, 1, NOW)
        async with self.pool.acquire() as conn, conn.transaction():
            [mo_id] = await self.ids.take(conn, 1)
            await inbound_store.insert_batch(conn, [mo], [mo_id])
            await self.writer.decide_and_write(conn, [(mo_id, mo)])
            replies = await conn.fetch(
                "SELECT body FROM outbound WHERE in_reply_to = $1 ORDER BY id", mo_id)
        return mo_id, [r["body"] for r in replies]

    async def follow(self, token: str, agent: str = IPHONE) -> ClientResponse:
        answer: ClientResponse = await self.http.get(
            f"{self.url}/l/{token}", headers={"User-Agent": agent}, allow_redirects=False)
        return answer


@pytest.fixture
async def lane(pool: asyncpg.Pool, settings: Settings) -> AsyncIterator[Lane]:
    app = web.Application()
    add_short_link_routes(app, pool=pool, settings=settings, clock=lambda: NOW)
    server = TestServer(app)
    await server.start_server()
    async with ClientSession() as http:
        yield Lane(pool, http, str(server.make_url("")).rstrip("/"),
                   DecisionWriter(RulesHolder(RULES), link_base=LINK_BASE),
                   inbound_store.IdReserve("inbound_id_seq", block=1))
    await server.close()


async def test_a_reply_link_is_shortened_per_reply_and_its_clicks_counted(
        lane: Lane, site: WebApi) -> None:
    first_mo, [first] = await lane.text("+12025550101", "FACTS")
    second_mo, [second] = await lane.text("+12025550102", "FACTS")
    async with lane.pool.acquire() as conn:
        rows = {r["in_reply_to"]: dict(r) for r in await conn.fetch(
            "SELECT token, in_reply_to, msisdn, broadcast_id, destination FROM short_links")}
    assert set(rows) == {first_mo, second_mo}
    assert rows[first_mo]["token"] != rows[second_mo]["token"]
    assert {r["destination"] for r in rows.values()} == {RALLY}
    assert {r["broadcast_id"] for r in rows.values()} == {None}
    token = rows[first_mo]["token"]
    assert first == f"Rally Saturday, RSVP: {LINK_BASE}{token} See you!"
    assert RALLY not in second and len(token) == 16
    assert segment_count(first) == 1  # the long campaign link would have made it two
    bot = await lane.follow(token, "facebookexternalhit/1.1")
    assert (bot.status, bot.headers["Location"]) == (302, RALLY)
    for _ in range(2):
        person = await lane.follow(token)
        assert (person.status, person.headers["Location"]) == (302, RALLY)
    async with lane.pool.acquire() as conn:
        counted = await conn.fetchrow(
            "SELECT clicks, bot_visits FROM short_links WHERE token = $1", token)
        events = await conn.fetch(
            "SELECT name, (data->>'in_reply_to')::bigint AS mo FROM contact_events"
            " WHERE msisdn = '+12025550101' AND name LIKE '%link%'")
    assert (counted["clicks"], counted["bot_visits"]) == (2, 1)
    assert [(e["name"], e["mo"]) for e in events] == [("reply_link_clicked", first_mo)] * 2
    await site.staff("organizer")
    await site.login("organizer@example.org")
    contact = await (await site.client.get("/contacts/+12025550101")).text()
    assert contact.count("Opened a link from a reply") == 2


async def test_a_reply_without_a_link_writes_no_link(lane: Lane) -> None:
    _, [help_text] = await lane.text("+12025550103", "HELP")
    assert "://" not in help_text
    async with lane.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM short_links") == 0


async def test_a_link_that_would_cost_a_segment_or_is_personalized_goes_as_written(
    lane: Lane,
) -> None:
    _, [long_reply] = await lane.text("+12025550104", "LONG")
    assert long_reply.endswith(" https://e.io") and segment_count(long_reply) == 1
    _, [who] = await lane.text("+12025550105", "WHO")
    assert who == "Your page: https://example.org/p/you"
    async with lane.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM short_links") == 0


async def test_without_a_link_domain_replies_go_as_written(pool: asyncpg.Pool) -> None:
    writer = DecisionWriter(RulesHolder(RULES))
    mo = NewInbound("+12025550106", "12345", "FACTS", 0, 1, NOW)
    async with pool.acquire() as conn, conn.transaction():
        [mo_id] = await inbound_store.IdReserve("inbound_id_seq", block=1).take(conn, 1)
        await inbound_store.insert_batch(conn, [mo], [mo_id])
        await writer.decide_and_write(conn, [(mo_id, mo)])
        body = await conn.fetchval("SELECT body FROM outbound WHERE in_reply_to = $1", mo_id)
        assert body == f"Rally Saturday, RSVP: {RALLY} See you!"
        assert await conn.fetchval("SELECT count(*) FROM short_links") == 0


def test_only_links_the_organizer_wrote_are_shortened() -> None:
    written = written_links(RULES)
    assert RALLY in written and "https://e.io" in written
    assert not any(link.startswith("https://example.org/p/") for link in written)
    typed = NewOutbound("+12025550107", "12345", f"Thanks https://evil.example/x! {RALLY}",
                        0, False, 7, NOW)
    [reply], links = shorten_replies([typed], written, LINK_BASE, lambda n: ["t" * 16] * n)
    assert reply.body == f"Thanks https://evil.example/x! {LINK_BASE}{'t' * 16}"
    assert [(k.destination, k.in_reply_to, k.position) for k in links] == [(RALLY, 7, 0)]
