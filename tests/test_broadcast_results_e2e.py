"""A/B test and results end to end: every number comes from the real path.

A running gateway sends the broadcast's test share to the SMSC simulator, which
answers with delivery receipts; supporters' phones reply, text STOP and give
(GIVE then YES) as MOs through the simulator; one follows their short link over
HTTP (a preview bot follows another); an organizer asks the API for the best
variant by replies; the winner goes to everyone else, whose texts the simulator
reports undeliverable (carrier error 011). Then the results API and the
broadcast's page must say exactly what happened, and nobody got two variants.
No row is written by hand but the contacts.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer

from gateway.app import Gateway
from gateway.clock import utc_now
from gateway.config import Settings
from gateway.smpp.simulator import Faults, SmscSimulator
from gateway.web.short_links import add_short_link_routes
from tests.support.broadcasts import afternoon_zone
from tests.support.donation_e2e import NOT_CHARGING, give_and_confirm
from tests.support.e2e import (
    SHORTCODE,
    Phone,
    gateway_settings,
    outbox_drained,
    running_gateway,
    stop_gateway,
    wait_for,
)
from tests.support.pages_site import start_site
from tests.support.webapi import WebApi

NUMBERS = [f"+1212555{n:04d}" for n in range(300, 340)]
TEXTS = ("Rally Saturday at noon: https://example.org/rally Reply STOP to end",
         "Bring a friend Saturday! https://example.org/rally?v=2 Reply STOP to end")
SHORT = re.compile(r"https://go\.example\.org/([A-Za-z0-9_-]{16})")
IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) Safari/604.1"


async def seed(pool: asyncpg.Pool) -> None:
    zone = afternoon_zone(datetime.now(UTC))
    state = json.dumps({"v": 1, "subs": {"rise": {"status": "subscribed"}}, "profile": {}})
    async with pool.acquire() as conn:
        await conn.executemany(
            """INSERT INTO contacts (msisdn, shortcode, opted_out, state, zip, region, country,
                                     timezones, geo_source)
               VALUES ($1, $2, false, $3::jsonb, '10001', 'NY', 'US', $4, 'zip')""",
            [(m, SHORTCODE, state, [zone]) for m in NUMBERS])


@pytest.fixture
async def gateway(settings: Settings, smsc: SmscSimulator) -> AsyncIterator[Gateway]:
    """A gateway that shortens links (GATEWAY_LINK_DOMAIN) and leaves billing to the test."""
    gw = await running_gateway(
        gateway_settings(settings, smsc, link_domain="go.example.org", **NOT_CHARGING), smsc)
    try:
        yield gw
    finally:
        await stop_gateway(gw)


@pytest.fixture
async def links(pool: asyncpg.Pool, settings: Settings) -> AsyncIterator[str]:
    """The short links' own route (`/l/{token}`) on a socket."""
    app = web.Application()
    add_short_link_routes(app, pool=pool, settings=settings, clock=utc_now)
    server = TestServer(app)
    await server.start_server()
    yield str(server.make_url("")).rstrip("/")
    await server.close()


@pytest.fixture
async def site(pool: asyncpg.Pool, settings: Settings) -> AsyncIterator[WebApi]:
    web_site = await start_site(pool, settings)
    try:
        yield web_site
    finally:
        await web_site.client.close()


def variant_of(smsc: SmscSimulator, msisdn: str) -> list[int]:
    """The broadcast's variants this phone received (by their words), in order."""
    words = {1: "Rally Saturday at noon", 2: "Bring a friend Saturday"}
    return [v for text in smsc.texts_to(msisdn) for v, w in words.items() if text.startswith(w)]


async def final_statuses(pool: asyncpg.Pool, broadcast_id: int) -> bool:
    async with pool.acquire() as conn:
        left: int = await conn.fetchval(
            "SELECT count(*) FROM outbound WHERE broadcast_id = $1"
            " AND status NOT IN ('delivered', 'undeliverable')", broadcast_id)
    return left == 0


async def test_results_and_the_winner_come_from_receipts_replies_stops_gifts_and_clicks(
    pool: asyncpg.Pool, smsc: SmscSimulator, gateway: Gateway, site: WebApi, links: str,
) -> None:
    await seed(pool)
    organizer = await site.staff("organizer")
    made = await site.client.post("/api/v1/broadcasts", headers=organizer.bearer, json={
        "program": "rise", "text": TEXTS[0], "ab_test": {
            "variants": [TEXTS[1]], "test_percent": 50, "metric": "replies",
            "wait_hours": 24, "auto": False}})
    assert made.status == 201, await made.text()
    broadcast_id = (await made.json())["broadcast"]["id"]
    started = await site.client.post(f"/api/v1/broadcasts/{broadcast_id}/start",
                                     headers=organizer.bearer)
    assert started.status == 200, await started.text()

    async def waiting() -> bool:
        async with pool.acquire() as conn:
            phase = await conn.fetchval("SELECT ab_phase FROM broadcasts WHERE id = $1",
                                        broadcast_id)
        return phase == "waiting" and await final_statuses(pool, broadcast_id)

    await wait_for(waiting, within=20)  # the test share sent and delivered
    tested = {m: variant_of(smsc, m) for m in NUMBERS if variant_of(smsc, m)}
    first = sorted(m for m, v in tested.items() if v == [1])
    second = sorted(m for m, v in tested.items() if v == [2])
    assert len(first) >= 3 and len(second) >= 3 and len(tested) < len(NUMBERS)

    # variant 2: two replies and a gift; variant 1: a STOP, and a click by a person
    for msisdn in second[:2]:
        await Phone(smsc, msisdn).text("Count me in", expect=1)
    await give_and_confirm(gateway, Phone(smsc, second[2]), "10")
    await Phone(smsc, first[0]).text("STOP", expect=1)
    [clicker_text] = smsc.texts_to(first[1])
    [bot_text] = smsc.texts_to(first[2])
    async with ClientSession() as http:
        for token, agent in [(SHORT.search(clicker_text), IPHONE),
                             (SHORT.search(bot_text), "WhatsApp/2.23.20.0")]:
            assert token is not None
            answer = await http.get(f"{links}/l/{token.group(1)}", allow_redirects=False,
                                    headers={"User-Agent": agent})
            assert (answer.status, answer.headers["Location"]) == (302,
                                                                   "https://example.org/rally")

    smsc.faults = Faults(receipt_stat="UNDELIV", receipt_err="011")  # the rest: undelivered
    chosen = await site.client.post(f"/api/v1/broadcasts/{broadcast_id}/winner",
                                    headers=organizer.bearer, json={})
    assert chosen.status == 200, await chosen.text()
    assert (await chosen.json())["winner"] == 2  # 3 of its recipients replied, none of 1's

    async def done() -> bool:
        async with pool.acquire() as conn:
            status = await conn.fetchval("SELECT status FROM broadcasts WHERE id = $1",
                                         broadcast_id)
        return status == "done" and await final_statuses(pool, broadcast_id)

    await wait_for(done, within=20)
    await outbox_drained(pool)
    rest = [m for m in NUMBERS if m not in tested]
    assert all(variant_of(smsc, m) == [2] for m in rest)  # the winner, once
    assert all(len(variant_of(smsc, m)) == 1 for m in tested)  # nobody got two variants

    got = await site.client.get(f"/api/v1/broadcasts/{broadcast_id}/results",
                                headers=organizer.bearer)
    results = await got.json()
    assert results == {
        "broadcast_id": broadcast_id, "sent": len(NUMBERS), "delivered": len(tested),
        "failed": len(rest),
        "failed_by_reason": [{"status": "undeliverable", "reason": "011",
                              "count": len(rest)}],
        "not_sent": 0, "waiting": 0, "clicks": {"unique": 1, "total": 1, "people": 1},
        "replies": 3, "opt_outs": 1,
        "gifts": [{"currency": "USD", "count": 1, "amount_cents": 1_000}],
        "attribution_window_hours": 24}

    await site.login(organizer.user.email)
    page = await (await site.client.get(f"/broadcasts/{broadcast_id}")).text()
    assert f'<td data-result="sent">{len(NUMBERS)}</td>' in page
    assert '<td data-result="replies">3</td>' in page
    assert '<td data-result="opt_outs">1</td>' in page
    assert '<td data-result="gifts-USD">1 for $10.00</td>' in page
    rows = re.findall(r'<tr(?: class="winner")?><th scope="row">(\d)[^<]*</th>'
                      r'<td class="sms">[^<]*</td>((?:<td>\d+</td>){5})</tr>', page)
    shown = {int(n): [int(x) for x in re.findall(r"\d+", cells)] for n, cells in rows}
    assert shown == {1: [len(first), 1, 0, 0, 1],
                     2: [len(second) + len(rest), 0, 3, 1, 0]}
    assert "Variant 2 won and goes to everyone else." in page
