"""ReadMarks against a real PostgreSQL: read records are deleted, old ones pruned."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg

from gateway.pipeline.read_marks import ReadMarks
from gateway.store import inbound as inbound_store
from gateway.store.inbound import Unacked

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=5)


async def left(pool: asyncpg.Pool) -> list[int]:
    async with pool.acquire() as conn:
        return [r["id"] for r in await conn.fetch("SELECT id FROM inbound_unacked ORDER BY id")]


async def test_read_records_are_deleted_and_remembered_meanwhile(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await inbound_store.insert_unacked(
            conn, [Unacked(n, bytes([n]) * 16, NOW) for n in (1, 2, 3)])
    marks = ReadMarks(pool, window=WINDOW, clock=lambda: NOW)
    marks.start()
    marks.read(1)
    marks.read(3)
    assert marks.was_read(1) and marks.was_read(3) and not marks.was_read(2)
    await marks.close()
    assert await left(pool) == [2]
    assert marks.forgotten == 2
    assert marks.was_read(3)  # a lookup that read the table before the delete still knows


async def test_records_past_the_window_are_pruned(pool: asyncpg.Pool) -> None:
    old = NOW - WINDOW - timedelta(seconds=1)
    async with pool.acquire() as conn:
        await inbound_store.insert_unacked(
            conn, [Unacked(1, b"a" * 16, old), Unacked(2, b"b" * 16, NOW - WINDOW)])
    marks = ReadMarks(pool, window=WINDOW, clock=lambda: NOW)
    await marks.prune()
    assert await left(pool) == [2]
