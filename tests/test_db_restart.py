"""PostgreSQL restarted (immediate mode: a crash and recovery) under a real `gateway run`.

The gateway must keep answering: every MO is answered once the database is
back, each reply is sent once, and the process stays healthy. The cluster is
this test's own, so restarting it disturbs no other test.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from gateway.devdb import LocalPostgres, free_port
from gateway.smpp.chat import number_key
from gateway.smpp.constants import CommandStatus
from gateway.smpp.simulator import SmscSimulator
from gateway.store.migrate import apply_migrations
from tests.support.e2e import SHORTCODE, start_gateway_process

COUNT = 2000
REDELIVER_AFTER = 0.2  # seconds; an SMSC redelivers an MO the gateway could not take


@pytest.fixture
async def own_cluster(tmp_path: Path) -> AsyncIterator[tuple[LocalPostgres, str]]:
    cluster = LocalPostgres(tmp_path / "pg", throwaway=True)
    url = await asyncio.to_thread(cluster.start)
    try:
        conn = await asyncpg.connect(url)
        try:
            await apply_migrations(conn)
        finally:
            await conn.close()
        yield cluster, url
    finally:
        await asyncio.to_thread(cluster.stop)


async def deliver_until_taken(smsc: SmscSimulator, number: str) -> int:
    """One MO, redelivered while the gateway answers "try later"; how many tries it took."""
    tries = 1
    while await smsc.inject_mo(number, SHORTCODE, "JOIN") != CommandStatus.ESME_ROK:
        tries += 1
        await asyncio.sleep(REDELIVER_AFTER)
    return tries


async def load(smsc: SmscSimulator, numbers: list[str], window: int) -> list[int]:
    slots = asyncio.Semaphore(window)

    async def one(number: str) -> int:
        async with slots:
            return await deliver_until_taken(smsc, number)

    return list(await asyncio.gather(*(one(n) for n in numbers)))


async def test_a_database_restart_mid_load_loses_and_doubles_no_reply(
    own_cluster: tuple[LocalPostgres, str], smsc: SmscSimulator
) -> None:
    cluster, url = own_cluster
    numbers = [f"+1555400{n:04d}" for n in range(COUNT)]
    http_port = free_port()
    gateway = start_gateway_process(url, smsc.port, GATEWAY_HTTP_PORT=str(http_port))
    try:
        async with asyncio.timeout(30):
            await smsc.wait_for_receiver()
        sending = asyncio.create_task(load(smsc, numbers, window=50))
        async with asyncio.timeout(60):  # mid-load: MOs coming in, replies going out
            await smsc.wait_until(lambda: len(smsc.submitted) >= COUNT // 4)
        await asyncio.to_thread(cluster.restart, mode="immediate")
        restarted_at = len(smsc.submitted)
        async with asyncio.timeout(180):
            tries = await sending
            await smsc.wait_until(lambda: len(smsc.destination_counts()) >= COUNT)
        assert restarted_at < COUNT  # the restart really was mid-load
        assert gateway.poll() is None  # still running

        conn = await asyncpg.connect(url)
        try:
            async with asyncio.timeout(60):  # the last replies' outcomes are recorded
                while await conn.fetchval(  # noqa: ASYNC110 - the state lives in PostgreSQL
                        "SELECT count(*) FROM outbound WHERE status IN ('queued', 'sending')"):
                    await asyncio.sleep(0.05)
            inbound = {r["msisdn"]: r["n"] for r in await conn.fetch(
                "SELECT msisdn, count(*) AS n FROM inbound GROUP BY msisdn")}
            statuses = dict(await conn.fetch(
                "SELECT status, count(*) FROM outbound GROUP BY status"))
        finally:
            await conn.close()
        # every MO taken and stored, once
        assert max(tries) > 1  # some MOs met the database down and were redelivered
        assert set(inbound) == set(numbers) and set(inbound.values()) == {1}
        # every MO answered, once: one reply per number, and no row sent twice
        sent = Counter(number_key(r.destination) for r in smsc.submitted)
        assert set(sent) == {number_key(n) for n in numbers}
        assert set(sent.values()) == {1}, {n: c for n, c in sent.items() if c > 1}
        assert smsc.duplicates() == {}
        assert set(statuses) <= {"submitted", "delivered"}, statuses
        async with (aiohttp.ClientSession() as http,
                    http.get(f"http://127.0.0.1:{http_port}/healthz") as resp):
            body = await resp.json()
        assert resp.status == 200, body
        assert set(body["tasks"].values()) == {"running"}
    finally:
        gateway.kill()
        await asyncio.to_thread(gateway.wait, 10)
