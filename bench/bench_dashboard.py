"""The dashboard's campaign sections over 90 days on a large campaign: how long each query takes.

Builds a private PostgreSQL cluster and fills it with generate_series: 20,000
supporters on one short code, ~120,000 MOs spread evenly over 90 days (in time
order, as they arrive), an opt-in for one MO in five and a STOP for one in
thirty-seven (the consent ledger), ~40,000 engine timeline rows, 45 broadcasts
(one every two days) to 3,000 supporters each (~135,000 outbox rows) plus a reply to
one MO in four, and ~20,000 confirmed gifts. Then times every query of
`gateway.services.campaign_stats.campaign_numbers` (the store functions in
gateway/store/dashboard_stats.py) and the whole call, for 7, 30 and 90 days.
With --explain, EXPLAIN (ANALYZE, BUFFERS) of each query over 90 days goes to
stderr. Prints one JSON document.

Usage (from the checkout): python -m bench.bench_dashboard [--runs N] [--fast] [--explain]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from bench._cluster import on_throwaway_cluster, report
from gateway.logs import configure_logging
from gateway.services import campaign_stats
from gateway.services.campaign_stats import Window
from gateway.store import dashboard_stats as store
from gateway.store.migrate import apply_migrations
from gateway.store.questions import WAITING

ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = ROOT / ".bench"
ZONE = "America/New_York"
CODE = "12345"
NOW = datetime(2026, 6, 10, 16, 0, tzinfo=UTC)  # fixed: two runs build the same rows

# $1: now, $2: supporters, $3: MOs. Numbers +1555 0000000..; MOs in time order.
INBOUND = """
INSERT INTO inbound (msisdn, shortcode, body, received_at)
SELECT '+1555' || lpad(((i * 7919) % $2::int)::text, 7, '0'), $4::text,
       (ARRAY['JOIN', 'RISE', 'VOTE', 'RALLY', 'hello', 'GIVE 10', 'Y', 'STOP'])[1 + i % 8],
       $1::timestamptz - interval '90 days' + (i * interval '90 days') / $3::int
FROM generate_series(1, $3::int) AS i
"""
CONSENT = """
INSERT INTO consent_events (msisdn, shortcode, program, program_name, kind, inbound_id,
                            mo_text, keyword, disclosure_text, disclosure_version,
                            privacy_url, privacy_version, occurred_at)
SELECT msisdn, shortcode, 'rise', 'Rise',
       CASE WHEN id % 37 = 1 THEN 'opted_out' ELSE 'opt_in_confirmed' END, id, body,
       CASE WHEN id % 37 = 1 THEN 'STOP'
            ELSE (ARRAY['JOIN', 'RALLY', 'VOTE', 'POSTER', 'RADIO', 'TV', 'DOOR'])[1 + id % 7]
       END,
       'Reply Y to confirm', 'v1', 'https://example.org/privacy', 'v1', received_at
FROM inbound WHERE id % 5 = 0 OR id % 37 = 1
"""
TIMELINE = """
INSERT INTO contact_events (msisdn, shortcode, inbound_id, name, data, occurred_at)
SELECT msisdn, shortcode, id, 'keyword_matched', '{}'::jsonb, received_at
FROM inbound WHERE id % 3 = 0
"""
BROADCASTS = """
INSERT INTO broadcasts (program, shortcode, template, status, created_by, created_at)
SELECT 'rise', $2::text, 'News ' || n, 'done', 'bench@example.org',
       $1::timestamptz - interval '90 days' + n * (interval '90 days' / $3::int)
FROM generate_series(0, $3::int - 1) AS n
"""
# Each broadcast goes to 3,000 supporters (a different slice each time), sent over an hour.
SENT = """
INSERT INTO outbound (msisdn, shortcode, body, priority, broadcast_id, status, created_at,
                      submitted_at)
SELECT '+1555' || lpad(((b.n * 3001 + r) % $1::int)::text, 7, '0'), b.shortcode, b.template, 1,
       b.id, 'delivered', b.created_at, b.created_at + r * interval '1.2 seconds'
FROM (SELECT id, shortcode, template, created_at, row_number() OVER (ORDER BY id) AS n
      FROM broadcasts) b, generate_series(0, $2::int - 1) AS r
ORDER BY 8
"""
REPLIES = """
INSERT INTO outbound (msisdn, shortcode, body, in_reply_to, status, created_at, submitted_at)
SELECT msisdn, shortcode, 'Thanks!', id, 'delivered', received_at,
       received_at + interval '2 seconds'
FROM inbound WHERE id % 4 = 1
"""
GIFTS = """
INSERT INTO donations (id, msisdn, shortcode, program, committee, method, amount_cents,
                       currency, requested_at, expires_at)
SELECT id, msisdn, shortcode, 'rise', 'c1', 'carrier', 500 + (id % 20) * 250, 'USD',
       received_at, received_at + interval '1 hour'
FROM inbound WHERE id % 6 = 3
"""
CONFIRMED = """
INSERT INTO donation_events (donation_id, kind, occurred_at)
SELECT id, 'confirmed', requested_at + interval '2 minutes' FROM donations
"""


async def build(conn: asyncpg.Connection, now: datetime, args: argparse.Namespace) -> None:
    supporters, mos = args.supporters, args.mos
    await conn.execute(INBOUND, now, supporters, mos, CODE)
    await conn.execute(CONSENT)
    await conn.execute(TIMELINE)
    await conn.execute(BROADCASTS, now, CODE, args.broadcasts)
    await conn.execute(SENT, supporters, args.recipients)
    await conn.execute(REPLIES)
    await conn.execute(GIFTS)
    await conn.execute(CONFIRMED)
    await conn.execute("VACUUM ANALYZE")


async def counts(conn: asyncpg.Connection) -> dict[str, int]:
    tables = ("inbound", "outbound", "consent_events", "contact_events", "donations")
    return {t: await conn.fetchval(f"SELECT count(*) FROM {t}") for t in tables}


async def timed(call: Callable[[], Awaitable[object]], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        await call()
        times.append(round((time.perf_counter() - started) * 1000, 1))
    return times


async def explain(conn: asyncpg.Connection, window: Window, now: datetime) -> None:
    since, until, zone = window.since, window.until, window.zone
    queries: list[tuple[str, str, tuple[object, ...]]] = [
        ("opt_ins_per_day", store.OPT_INS_PER_DAY, (since, until, zone, list(store.JOINED))),
        ("opt_outs_per_day", store.OPT_OUTS_PER_DAY, (since, until, zone)),
        ("gifts_per_day", store.GIFTS_PER_DAY, (since, until, zone)),
        ("broadcast_results", store.BROADCAST_RESULTS, (since, until, 20)),
        ("questions_waiting", store.QUESTIONS_WAITING, (now, list(WAITING))),
    ]
    for name, sql, args in queries:
        rows = await conn.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", *args)
        print(f"== {name}", file=sys.stderr)
        print("\n".join(r[0] for r in rows), file=sys.stderr)


async def time_window(pool: asyncpg.Pool, now: datetime, days: int,
                      args: argparse.Namespace) -> dict[str, list[float]]:
    window = Window.ending(now, ZONE, days)
    since, until = window.since, window.until
    per_query: dict[str, list[float]] = {}
    async with pool.acquire() as conn:
        per_query["opt_ins_per_day"] = await timed(lambda: store.opt_ins_per_day(
            conn, since=since, until=until, zone=ZONE), args.runs)
        per_query["opt_outs_per_day"] = await timed(lambda: store.opt_outs_per_day(
            conn, since=since, until=until, zone=ZONE), args.runs)
        per_query["gifts_per_day"] = await timed(lambda: store.gifts_per_day(
            conn, since=since, until=until, zone=ZONE), args.runs)
        per_query["broadcast_results"] = await timed(lambda: store.broadcast_results(
            conn, since=since, until=until), args.runs)
        per_query["questions_waiting"] = await timed(
            lambda: store.questions_waiting(conn, now=now), args.runs)
        if args.explain and days == 90:
            await explain(conn, window, now)
    per_query["campaign_numbers"] = await timed(lambda: campaign_stats.campaign_numbers(
        pool, rules=None, now=now, zone=ZONE, days=days), args.runs)
    return per_query


async def run(url: str, args: argparse.Namespace) -> dict[str, Any]:
    now = NOW
    pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
    assert pool is not None
    results: dict[str, Any] = {}
    try:
        async with pool.acquire() as conn:
            await apply_migrations(conn, ROOT / "migrations")
            started = time.perf_counter()
            await build(conn, now, args)
            results["build_s"] = round(time.perf_counter() - started, 1)
            results["rows"] = await counts(conn)
        for days in (7, 30, 90):
            results[f"{days}_days_ms"] = await time_window(pool, now, days, args)
        numbers = await campaign_stats.campaign_numbers(pool, rules=None, now=now, zone=ZONE,
                                                        days=90)
        results["check_90_days"] = {  # the same answer before and after a change
            "opt_ins": sum(s.opt_ins for s in numbers.sources),
            "broadcasts": [(b.id, b.recipients, b.replies, b.opt_outs,
                            [(m.currency, m.gifts, m.cents) for m in b.gifts])
                           for b in numbers.broadcasts],
        }
    finally:
        await pool.close()
    return results


async def main(args: argparse.Namespace) -> dict[str, Any]:
    results = await on_throwaway_cluster("pg-dashboard", args.fast, lambda url: run(url, args))
    return report("bench_dashboard", args.fast, results)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--supporters", type=int, default=20_000)
    parser.add_argument("--mos", type=int, default=120_000)
    parser.add_argument("--broadcasts", type=int, default=45, help="evenly over 90 days")
    parser.add_argument("--recipients", type=int, default=3_000, help="per broadcast")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--fast", action="store_true", help="fsync off (a throwaway cluster)")
    parser.add_argument("--explain", action="store_true",
                        help="EXPLAIN ANALYZE each query over 90 days, to stderr")
    configure_logging("warning")
    print(json.dumps(asyncio.run(main(parser.parse_args())), indent=2))
