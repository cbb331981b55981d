"""The dashboard's broadcast results read indexes, not the whole outbox (migration 410).

On a large campaign the 90-day dashboard took seconds: the window's broadcasts
were found by scanning every outbox row of the window, and every credited act
called the attribution rule (migration 340) through outbound_msisdn_idx, reading
each outbox row of the number. bench/bench_dashboard.py measures it; here the
plans are checked on 100,000 generated outbox rows (ANALYZEd), so a change that
brings the scans back fails. The numbers themselves are checked by
tests/test_dashboard_campaign.py and tests/test_broadcast_attribution.py.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from gateway.store.dashboard_stats import BROADCAST_RESULTS

NOW = datetime(2024, 7, 10, 16, 0, tzinfo=UTC)

SEED = """
WITH b AS (
    INSERT INTO broadcasts (program, shortcode, template, status, created_by)
    SELECT 'rise', '12345', 'News ' || n, 'done', 'test@example.org'
    FROM generate_series(1, 40) AS n RETURNING id
)
INSERT INTO outbound (msisdn, shortcode, body, broadcast_id, status, submitted_at)
SELECT '+1555' || lpad(r::text, 7, '0'), '12345', 'news', b.id, 'delivered',
       $1::timestamptz - (b.id * interval '4 days') + r * interval '1 second'
FROM b, generate_series(1, 2000) AS r
"""
REPLIES = """
INSERT INTO outbound (msisdn, shortcode, body, status, submitted_at)
SELECT '+1555' || lpad((r % 2000)::text, 7, '0'), '12345', 'thanks', 'delivered',
       $1::timestamptz - r * interval '1 minute'
FROM generate_series(1, 20000) AS r
"""
# The body of broadcast_attributed (migration 340), with its parameters as values.
RULE = """
SELECT o.broadcast_id FROM outbound o
WHERE o.msisdn = '+15550000007' AND o.shortcode = '12345' AND o.broadcast_id IS NOT NULL
  AND o.submitted_at <= $1::timestamptz AND o.submitted_at > $1::timestamptz - interval '24 hours'
ORDER BY o.submitted_at DESC, o.id DESC LIMIT 1
"""


def nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    found = [plan]
    for child in plan.get("Plans", []):
        found += nodes(child)
    return found


async def plan_of(conn: asyncpg.Connection, sql: str, *args: object) -> list[dict[str, Any]]:
    raw = await conn.fetchval(f"EXPLAIN (FORMAT JSON) {sql}", *args)
    return nodes(json.loads(raw)[0]["Plan"])


async def seeded(pool: asyncpg.Pool) -> asyncpg.pool.PoolConnectionProxy:
    conn = await pool.acquire()
    await conn.execute(SEED, NOW)
    await conn.execute(REPLIES, NOW)
    await conn.execute("ANALYZE outbound; ANALYZE broadcasts")
    return conn


async def test_the_window_s_broadcasts_are_found_by_index(pool: asyncpg.Pool) -> None:
    conn = await seeded(pool)
    try:
        plan = await plan_of(conn, BROADCAST_RESULTS, NOW - timedelta(days=90), NOW, 20)
    finally:
        await pool.release(conn)
    # which broadcasts sent in the window, their first and last texts: index probes
    ctes = [n for n in plan if n.get("Subplan Name") in ("CTE shown", "CTE span")]
    assert len(ctes) == 2
    on_outbox = [n for cte in ctes for n in nodes(cte) if n.get("Relation Name") == "outbound"]
    assert len(on_outbox) == 3, on_outbox
    assert {(n["Node Type"], n.get("Index Name")) for n in on_outbox} == {
        ("Index Only Scan", "outbound_broadcast_sent_idx")}, on_outbox


async def test_the_attribution_rule_is_one_index_range(pool: asyncpg.Pool) -> None:
    conn = await seeded(pool)
    try:
        plan = await plan_of(conn, RULE, NOW)
        # the function's own plan is the body's: it answers what the body answers
        at = NOW - timedelta(days=4) + timedelta(hours=1)  # an hour after broadcast 1
        credited = await conn.fetchval(
            "SELECT broadcast_attributed('+15550000007', '12345', $1)", at)
        expected = await conn.fetchval(RULE, at)
    finally:
        await pool.release(conn)
    scans = [n for n in plan if n.get("Relation Name") == "outbound"]
    assert [(n["Node Type"], n.get("Index Name")) for n in scans] == [
        ("Index Only Scan", "outbound_attribution_idx")]
    assert credited is not None and credited == expected
