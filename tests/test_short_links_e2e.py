"""A broadcast's link end to end: the SMSC simulator receives the short link, the gateway's
own HTTP port redirects it. Real PostgreSQL, a real gateway, real sockets.

Quiet hours are kept out of the way as in tests/test_broadcast_e2e.py: the
contacts live where it is early afternoon now.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import asyncpg
from aiohttp import ClientSession

from gateway.broadcast import control, service
from gateway.config import Settings
from gateway.smpp.simulator import SmscSimulator
from gateway.store import broadcasts as broadcast_store
from gateway.store import short_links
from tests.support.broadcasts import RULES, afternoon_zone
from tests.support.e2e import SHORTCODE, gateway_settings, running_gateway, stop_gateway, wait_for

NUMBERS = [f"+1212555{n:04d}" for n in range(3)]
DESTINATION = "https://example.org/rally?src=sms&utm_campaign=sat"
TEXT = f"Rally Saturday at noon: {DESTINATION} Reply STOP to end"
SHORT = re.compile(r"https://go\.example\.org/([A-Za-z0-9_-]{16})")


async def test_the_phone_gets_a_short_link_that_redirects_and_counts(
    pool: asyncpg.Pool, settings: Settings, smsc: SmscSimulator,
) -> None:
    gateway = await running_gateway(
        gateway_settings(settings, smsc, link_domain="go.example.org"), smsc)
    try:
        zone = afternoon_zone(datetime.now(UTC))
        state = json.dumps({"v": 1, "subs": {"rise": {"status": "subscribed"}}, "profile": {}})
        async with pool.acquire() as conn:
            await conn.executemany(
                "INSERT INTO contacts (msisdn, shortcode, opted_out, state, zip, region,"
                " country, timezones, geo_source)"
                " VALUES ($1, $2, false, $3::jsonb, '10001', 'NY', 'US', $4, 'zip')",
                [(m, SHORTCODE, state, [zone]) for m in NUMBERS])
            broadcast_id = await service.create(
                conn, rules=RULES, program="rise", shortcode=SHORTCODE, where="", text=TEXT,
                created_by="e2e", now=datetime.now(UTC))
            await control.start(conn, broadcast_id)

        async def done() -> bool:
            async with pool.acquire() as conn:
                return await broadcast_store.get_status(conn, broadcast_id) == "done"

        await wait_for(done, within=60)
        received = {m: smsc.texts_to(m) for m in NUMBERS}
        tokens = {}
        for number, texts in received.items():
            assert len(texts) == 1
            found = SHORT.search(texts[0])
            assert found is not None, texts
            assert texts[0] == TEXT.replace(DESTINATION, found[0])
            tokens[number] = found[1]
        assert len(set(tokens.values())) == len(NUMBERS)
        url = f"http://127.0.0.1:{gateway.http_port}/l/{tokens[NUMBERS[0]]}"
        async with ClientSession() as http:
            for agent in ("Mozilla/5.0 (iPhone) Safari/604.1", "WhatsApp/2.24", ""):
                answer = await http.get(url, headers={"User-Agent": agent},
                                        allow_redirects=False)
                assert answer.status == 302
                assert answer.headers["Location"] == DESTINATION
            near = await http.get(url[:-1] + ("A" if url[-1] != "A" else "B"),
                                  allow_redirects=False)
            assert near.status == 404
        async with pool.acquire() as conn:
            counted = await short_links.clicks_of(conn, broadcast_id)
        assert (counted.unique, counted.total, counted.bot_visits) == (1, 1, 2)
    finally:
        await stop_gateway(gateway)
