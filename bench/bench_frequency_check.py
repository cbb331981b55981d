"""The frequency check at broadcast creation: how long counting who is at the limit takes.

Builds a private PostgreSQL cluster with N subscribers of `rise` (the same
generated population as bench_materialize.py), gives half of them the
program's six broadcast messages of the last month (6 x N/2 outbox rows,
submitted over the last days) plus replies that must not count, then times
`gateway.broadcast.frequency.pushed_past` for a broadcast to everyone and to
a narrow audience, and checks the count it finds. Prints one JSON document.

Usage (from the checkout): python -m bench.bench_frequency_check [--subscribers N] [--fast]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from bench._cluster import on_throwaway_cluster, report
from bench.bench_materialize import CODE, GENERATE
from gateway.audience import parse_audience
from gateway.broadcast import frequency, service
from gateway.engine import load_rules
from gateway.logs import configure_logging
from gateway.store.migrate import apply_migrations

ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = ROOT / ".bench"
PAST_BROADCASTS = 6  # keywords.yaml: rise promises up to 6 a month

# Half the subscribers (even numbers) got every past broadcast, days apart.
SENT = """
INSERT INTO outbound (msisdn, shortcode, body, priority, broadcast_id, status, submitted_at)
SELECT c.msisdn, c.shortcode, 'news', 1, $1, 'submitted', now() - make_interval(days => $2)
FROM contacts c
WHERE right(c.msisdn, 1)::int % 2 = 0 AND NOT c.opted_out
  AND c.state @> '{"subs": {"rise": {"status": "subscribed"}}}'
"""
# A reply to every subscriber: answers to their own texts, which must not count.
REPLIES = """
INSERT INTO outbound (msisdn, shortcode, body, status, submitted_at)
SELECT msisdn, shortcode, 'HELP answer', 'submitted', now() - interval '1 hour' FROM contacts
"""


async def timed(conn: asyncpg.Connection, where: str, runs: int) -> tuple[int, list[float]]:
    rules = load_rules(ROOT / "keywords.yaml").programs["rise"]
    times, found = [], 0
    for _ in range(runs):
        started = time.perf_counter()
        past = await frequency.pushed_past(
            conn, rules, shortcode=CODE, audience=parse_audience(where), at=None,
            now=datetime.now(UTC))
        times.append(round((time.perf_counter() - started) * 1000, 1))
        found = past.recipients
    return found, times


async def run(url: str, args: argparse.Namespace) -> dict[str, Any]:
    conn = await asyncpg.connect(url)
    try:
        await apply_migrations(conn, ROOT / "migrations")
        await conn.execute(GENERATE, args.subscribers)
        for day in range(PAST_BROADCASTS):
            broadcast_id = await service.create(
                conn, rules=load_rules(ROOT / "keywords.yaml"), program="rise", shortcode=CODE,
                where="", text="news", created_by="bench", now=datetime.now(UTC),
                override_frequency=True)
            await conn.execute(SENT, broadcast_id, 2 + day * 4)
        await conn.execute(REPLIES)
        await conn.execute("VACUUM ANALYZE")
        outbox_rows = await conn.fetchval("SELECT count(*) FROM outbound")
        everyone, everyone_ms = await timed(conn, "", args.runs)
        narrow, narrow_ms = await timed(conn, "state = NY", args.runs)
    finally:
        await conn.close()
    return {
        "eligible_subscribers": args.subscribers,
        "outbox_rows": outbox_rows,
        "at_limit_everyone": everyone,
        "check_ms_everyone": everyone_ms,
        "at_limit_state_ny": narrow,
        "check_ms_state_ny": narrow_ms,
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    results = await on_throwaway_cluster("pg-frequency", args.fast, lambda url: run(url, args))
    return report("bench_frequency_check", args.fast, results)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscribers", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--fast", action="store_true", help="fsync off (a throwaway cluster)")
    configure_logging("warning")
    print(json.dumps(asyncio.run(main(parser.parse_args())), indent=2))
