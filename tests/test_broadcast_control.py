"""Broadcast control: the status machine, cancel, the gateway's tick, and late-night re-deferral."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import pytest

from gateway.broadcast import control
from gateway.broadcast.control import BroadcastTicker, IllegalTransition
from gateway.broadcast.service import BroadcastError
from gateway.store import broadcasts as broadcast_store
from gateway.store import outbound as outbound_store
from tests.support.broadcasts import NOW, PEOPLE, POLICY, create, materialize, seed, utc


@pytest.fixture
async def conn(pool: asyncpg.Pool) -> Any:
    async with pool.acquire() as connection:
        await seed(connection)
        yield connection


async def status_of(conn: asyncpg.Connection, broadcast_id: int) -> str | None:
    return await broadcast_store.get_status(conn, broadcast_id)


async def test_the_life_of_a_broadcast_and_every_refused_step(conn: asyncpg.Connection) -> None:
    broadcast_id = await create(conn)
    for refused in (control.pause, control.resume):
        with pytest.raises(IllegalTransition, match="it is draft"):
            await refused(conn, broadcast_id)
    later = NOW + timedelta(hours=1)
    assert await control.schedule(conn, broadcast_id, later, now=NOW) == "scheduled"
    assert await control.start(conn, broadcast_id) == "running"
    with pytest.raises(IllegalTransition, match=r"cannot start broadcast \d+: it is running"):
        await control.start(conn, broadcast_id)
    assert await control.pause(conn, broadcast_id) == "paused"
    with pytest.raises(IllegalTransition, match="it is paused"):
        await control.pause(conn, broadcast_id)
    assert await control.resume(conn, broadcast_id) == "running"
    assert await control.cancel(conn, broadcast_id) == 0
    for refused in (control.start, control.pause, control.resume):
        with pytest.raises(IllegalTransition, match="it is cancelled"):
            await refused(conn, broadcast_id)
    with pytest.raises(IllegalTransition, match=r"cannot cancel broadcast \d+: it is cancelled"):
        await control.cancel(conn, broadcast_id)
    assert await status_of(conn, broadcast_id) == "cancelled"
    with pytest.raises(BroadcastError, match="does not exist"):
        await control.start(conn, 999_999)
    with pytest.raises(BroadcastError, match="time zone"):
        await control.schedule(conn, broadcast_id, NOW.replace(tzinfo=None), now=NOW)


async def test_cancel_stops_waiting_rows_and_lets_a_leased_one_finish(
    conn: asyncpg.Connection,
) -> None:
    broadcast_id = await create(conn, where="state in (NY, IL, CA)")
    await materialize(conn, broadcast_id)
    leased = PEOPLE["chicago"][0]
    await conn.execute(
        "UPDATE outbound SET status = 'sending' WHERE broadcast_id = $1 AND msisdn = $2",
        broadcast_id, leased,
    )
    await control.start(conn, broadcast_id)
    assert await control.cancel(conn, broadcast_id) == 3
    progress = await broadcast_store.get_progress(conn, broadcast_id)
    assert progress is not None
    assert (progress["cancelled"], progress["sending"], progress["queued"]) == (3, 1, 0)
    assert progress["status"] == "cancelled"


async def test_tick_starts_a_due_broadcast_materializes_it_and_finishes_it(
    pool: asyncpg.Pool, conn: asyncpg.Connection
) -> None:
    now = [NOW]
    ticker = BroadcastTicker(pool, policy=POLICY, clock=lambda: now[0])
    broadcast_id = await create(conn, where="state = NY", at=NOW + timedelta(minutes=10))
    assert await ticker.tick() == 0
    assert await status_of(conn, broadcast_id) == "scheduled"
    now[0] = NOW + timedelta(minutes=10)
    await ticker.tick()
    broadcast = await broadcast_store.get_broadcast(conn, broadcast_id)
    assert broadcast is not None and broadcast.status == "running"
    assert broadcast.materialized_at is not None and broadcast.recipients == 2
    await ticker.tick()
    assert await status_of(conn, broadcast_id) == "running"  # rows still queued
    await conn.execute(
        "UPDATE outbound SET status = 'submitted' WHERE broadcast_id = $1", broadcast_id
    )
    await ticker.tick()
    assert await status_of(conn, broadcast_id) == "done"
    with pytest.raises(IllegalTransition, match="it is done"):
        await control.pause(conn, broadcast_id)


async def test_a_paused_broadcast_is_not_materialized_until_resumed(
    pool: asyncpg.Pool, conn: asyncpg.Connection
) -> None:
    ticker = BroadcastTicker(pool, policy=POLICY, clock=lambda: NOW)
    broadcast_id = await create(conn)
    await control.start(conn, broadcast_id)
    await control.pause(conn, broadcast_id)
    await ticker.tick()
    assert await conn.fetchval("SELECT count(*) FROM outbound") == 0
    await control.resume(conn, broadcast_id)
    await ticker.tick()
    assert await conn.fetchval("SELECT count(*) FROM outbound") == len(PEOPLE)


async def test_a_row_whose_window_closed_is_not_claimed_and_moves_to_the_next_window(
    pool: asyncpg.Pool, conn: asyncpg.Connection
) -> None:
    broadcast_id = await create(conn, where="state = NY")
    await materialize(conn, broadcast_id)  # at 20:30 New York time, allowed until 21:00
    await control.start(conn, broadcast_id)
    new_york = PEOPLE["new_york"][0]
    row = await conn.fetchrow(
        "SELECT not_before, not_after FROM outbound WHERE msisdn = $1", new_york
    )
    assert (row["not_before"], row["not_after"]) == (NOW, utc(2024, 7, 1, 1, 0))
    # the sender reaches it at 21:30 (real now() is long past 2024): not sent late
    assert await outbound_store.claim(conn, limit=10, owner="t", lease_seconds=60) == ([], 0)
    late = utc(2024, 7, 1, 1, 30)
    ticker = BroadcastTicker(pool, policy=POLICY, clock=lambda: late)
    assert await ticker.redefer_expired(conn) == 1  # the other NY row opens next morning
    row = await conn.fetchrow(
        "SELECT status, not_before, not_after FROM outbound WHERE msisdn = $1", new_york
    )
    # 08:00 EDT the next morning, until 21:00 EDT
    assert dict(row) == {"status": "queued", "not_before": utc(2024, 7, 1, 12, 0),
                         "not_after": utc(2024, 7, 2, 1, 0)}
    assert await ticker.redefer_expired(conn) == 0  # nothing left that is expired at 21:30


async def test_one_broken_broadcast_does_not_stop_the_tick_for_the_others(
    pool: asyncpg.Pool, conn: asyncpg.Connection
) -> None:
    broken = await broadcast_store.insert_broadcast(
        conn, program="rise", shortcode="12345", filter="state = = NY", template="x",
        status="running", scheduled_at=None, created_by="someone editing the table by hand",
    )
    good = await create(conn, where="state = NY")
    await control.start(conn, good)
    await BroadcastTicker(pool, policy=POLICY, clock=lambda: NOW).tick()
    assert await conn.fetchval(
        "SELECT count(*) FROM outbound WHERE broadcast_id = $1", good) == 2
    assert await status_of(conn, broken) == "running"  # left for a person to cancel


async def test_cancel_during_materialization_leaves_no_row_waiting(
    pool: asyncpg.Pool, conn: asyncpg.Connection
) -> None:
    """Whichever commits first, a batch or the cancel, no row of the broadcast stays queued."""
    broadcast_id = await create(conn)
    await control.start(conn, broadcast_id)
    cancels: list[asyncio.Task[int]] = []
    clock_reads = [0]

    async def cancel_elsewhere() -> int:
        async with pool.acquire() as other:
            return await control.cancel(other, broadcast_id)

    def clock() -> datetime:
        clock_reads[0] += 1
        if clock_reads[0] == 3:  # during the second batch
            cancels.append(asyncio.get_running_loop().create_task(cancel_elsewhere()))
        return NOW

    ticker = BroadcastTicker(pool, policy=POLICY, clock=clock, batch_size=2)
    assert await ticker.tick() >= 0
    await asyncio.gather(*cancels)
    statuses = await conn.fetch(
        "SELECT DISTINCT status FROM outbound WHERE broadcast_id = $1", broadcast_id
    )
    assert cancels and await status_of(conn, broadcast_id) == "cancelled"
    assert {r["status"] for r in statuses} <= {"cancelled"}


async def test_the_tick_re_times_expired_rows_at_most_every_interval(
    pool: asyncpg.Pool, conn: asyncpg.Connection
) -> None:
    broadcast_id = await create(conn, where="state = NY")
    await materialize(conn, broadcast_id)
    await control.start(conn, broadcast_id)
    now = [utc(2024, 7, 1, 1, 30)]
    ticker = BroadcastTicker(pool, policy=POLICY, clock=lambda: now[0])
    expire = "UPDATE outbound SET not_after = $1 WHERE msisdn = $2"
    new_york = PEOPLE["new_york"][0]

    async def moved() -> bool:
        row = await conn.fetchrow("SELECT not_after FROM outbound WHERE msisdn = $1", new_york)
        return bool(row["not_after"] > now[0])

    await ticker.tick()
    assert await moved()
    await conn.execute(expire, now[0], new_york)
    await ticker.tick()
    assert not await moved()  # within the interval: left for the next pass
    now[0] += control.REDEFER_EVERY
    await ticker.tick()
    assert await moved()
