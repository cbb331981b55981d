"""A broadcast's final results reach the webhook stream once, a day after it finished.

Why: `broadcast.completed` is emitted when the last text leaves, but replies,
opt-outs and gifts keep being credited to the broadcast for 24 hours after
each recipient's text. A CRM wants the numbers once that window has closed:
`broadcast.results_final`, emitted by the broadcast ticker exactly once (a
second gateway ticking at the same moment emits nothing), never before the
window's end, and with what arrived during that day.
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import asyncpg
import pytest

from gateway.broadcast import results
from gateway.broadcast.control import BroadcastTicker
from gateway.broadcast.policy import QuietHoursPolicy
from gateway.store import inbound as inbound_store
from gateway.store import webhook_events, webhook_subscriptions
from gateway.store.inbound import NewInbound
from tests.support.broadcasts import CODE, NOW

NUMBER = "+12125550001"
SECRET = "whsec_" + "f" * 40


async def sent_broadcast(conn: asyncpg.Connection) -> int:
    """A running broadcast whose one text was delivered at NOW: nothing left to send."""
    broadcast_id: int = await conn.fetchval(
        "INSERT INTO broadcasts (program, shortcode, template, status, created_by,"
        " materialized_at) VALUES ('rise', $1, 'Rally Saturday', 'running',"
        " 'o@example.org', $2) RETURNING id", CODE, NOW)
    await conn.execute(
        "INSERT INTO outbound (msisdn, shortcode, body, broadcast_id, status, submitted_at)"
        " VALUES ($1, $2, 'Rally Saturday', $3, 'delivered', $4)",
        NUMBER, CODE, broadcast_id, NOW)
    return broadcast_id


async def reply(conn: asyncpg.Connection, after: timedelta) -> None:
    mo = NewInbound(NUMBER, CODE, "see you there", 0, 1, NOW + after)
    [mo_id] = await inbound_store.IdReserve("inbound_id_seq", block=1).take(conn, 1)
    await inbound_store.insert_batch(conn, [mo], [mo_id])


async def finals(conn: asyncpg.Connection) -> list[dict[str, object]]:
    rows = await conn.fetch("SELECT payload FROM webhook_events WHERE event_type = $1"
                            " ORDER BY id", webhook_events.BROADCAST_RESULTS_FINAL)
    return [data_of(r["payload"]) for r in rows]


def data_of(payload: str) -> dict[str, object]:
    """The event's `data`, as the receiver will get it."""
    event = json.loads(payload)
    data: dict[str, object] = event.get("data", event)
    return data


@pytest.fixture
async def conn(pool: asyncpg.Pool) -> asyncpg.Connection:
    async with pool.acquire() as connection:
        await webhook_subscriptions.insert(
            connection, url="https://crm.example.org/hooks", description="CRM",
            event_types=(webhook_events.BROADCAST_COMPLETED,
                         webhook_events.BROADCAST_RESULTS_FINAL),
            secret=SECRET, created_by=None)
        yield connection


async def test_the_final_results_come_once_after_the_window_with_the_day_s_replies(
        pool: asyncpg.Pool, conn: asyncpg.Connection) -> None:
    broadcast_id = await sent_broadcast(conn)
    now = [NOW + timedelta(minutes=1)]
    ticker = BroadcastTicker(pool, policy=QuietHoursPolicy(), clock=lambda: now[0])
    await ticker.tick()  # done: broadcast.completed, with no reply yet
    [completed] = await conn.fetch(
        "SELECT payload FROM webhook_events WHERE event_type = $1",
        webhook_events.BROADCAST_COMPLETED)
    assert data_of(completed["payload"])["replies"] == 0

    await reply(conn, timedelta(hours=20))  # within the day: credited to the broadcast
    now[0] = NOW + timedelta(minutes=1) + results.ATTRIBUTION_WINDOW - timedelta(seconds=1)
    await ticker.tick()
    assert await finals(conn) == []  # the window has not closed yet

    now[0] += timedelta(seconds=2)
    await ticker.tick()
    [final] = await finals(conn)
    assert final["broadcast_id"] == broadcast_id
    assert (final["sent"], final["delivered"], final["replies"]) == (1, 1, 1)
    assert final["attribution_window_hours"] == 24

    now[0] += timedelta(days=3)
    await ticker.tick()
    assert len(await finals(conn)) == 1  # once


async def test_two_gateways_ticking_at_once_emit_the_final_results_once(
        pool: asyncpg.Pool, conn: asyncpg.Connection) -> None:
    for _ in range(5):
        await sent_broadcast(conn)
    now = [NOW + timedelta(minutes=1)]
    first = BroadcastTicker(pool, policy=QuietHoursPolicy(), clock=lambda: now[0])
    await first.tick()
    now[0] += timedelta(days=2)
    second = BroadcastTicker(pool, policy=QuietHoursPolicy(), clock=lambda: now[0])
    await asyncio.gather(first.tick(), second.tick(), first.tick(), second.tick())
    assert sorted(int(str(f["broadcast_id"])) for f in await finals(conn)) == sorted(
        r["id"] for r in await conn.fetch("SELECT id FROM broadcasts"))


async def test_the_window_is_the_attribution_rule_s_own(conn: asyncpg.Connection) -> None:
    """The Python window and the SQL function that credits acts say the same 24 hours."""
    broadcast_id = await sent_broadcast(conn)
    edge = NOW + results.ATTRIBUTION_WINDOW
    credited = "SELECT broadcast_attributed($1, $2, $3)"
    assert await conn.fetchval(credited, NUMBER, CODE, edge - timedelta(seconds=1)) \
        == broadcast_id
    assert await conn.fetchval(credited, NUMBER, CODE, edge + timedelta(seconds=1)) is None
