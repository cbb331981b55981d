"""Broadcast materialization: 1,000,000 subscribers into the outbox (issue 5: under 60 s).

Builds a private PostgreSQL cluster, applies the migrations, generates the
subscribers with set-based SQL (generate_series: 15 US areas with their
zips, states and zones, some only known by area code, 70% with a first
name), plus 2% opted-out and 2% pending numbers the broadcast must skip.
Then times `gateway.broadcast.service.materialize` for one broadcast to all
of them (personalized text rendered in SQL, quiet hours per recipient),
checks there is exactly one row per eligible number, and prints one JSON
document with rows/s and this process's peak RSS.

The cluster keeps PostgreSQL's safe defaults (fsync on) unless --fast.
Usage: python bench/bench_materialize.py [--subscribers N] [--batch N] [--fast]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from bench._cluster import on_throwaway_cluster, report
from gateway.broadcast import service
from gateway.broadcast.policy import QuietHoursPolicy
from gateway.engine import load_rules
from gateway.logs import configure_logging
from gateway.store import outbound as outbound_store
from gateway.store.migrate import apply_migrations

ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = ROOT / ".bench"
CODE = "12345"
TEXT = (
    "Hi {first_name|friend}, Rise Up here: polls are open 7am-8pm tomorrow. "
    "Find your place at https://riseup.example.org/vote - Reply STOP to quit"
)

# (area code, zip or NULL when only the area code is known, state, zones)
AREAS = """
(VALUES ('212', '10001', 'NY', '{America/New_York}'),
        ('305', '33101', 'FL', '{America/New_York}'),
        ('918', NULL, 'OK', '{America/Chicago}'),
        ('312', '60601', 'IL', '{America/Chicago}'),
        ('213', '90012', 'CA', '{America/Los_Angeles}'),
        ('208', NULL, 'ID', '{America/Boise,America/Los_Angeles}'),
        ('410', '21201', 'MD', '{America/New_York}'),
        ('602', '85001', 'AZ', '{America/Phoenix}'),
        ('303', '80202', 'CO', '{America/Denver}'),
        ('808', '96813', 'HI', '{Pacific/Honolulu}'),
        ('907', '99501', 'AK', '{America/Anchorage}'),
        ('617', '02108', 'MA', '{America/New_York}'),
        ('713', '77002', 'TX', '{America/Chicago}'),
        ('206', '98101', 'WA', '{America/Los_Angeles}'),
        ('404', '30303', 'GA', '{America/New_York}'))
"""

# Numbers 1..N are subscribed; N+1..N*1.04 are opted out (even) or pending (odd).
GENERATE = f"""
WITH areas AS (
    SELECT row_number() OVER () - 1 AS slot, a.* FROM {AREAS} AS a(npa, zip, region, zones)
)
INSERT INTO contacts (msisdn, shortcode, opted_out, state, zip, region, country, timezones,
                      geo_source)
SELECT '+1' || a.npa || lpad(n::text, 7, '0'), '{CODE}', n > $1 AND n % 2 = 0,
       jsonb_build_object(
           'v', 1,
           'subs', jsonb_build_object('rise', jsonb_build_object(
               'status', CASE WHEN n <= $1 THEN 'subscribed'
                              WHEN n % 2 = 0 THEN 'opted_out' ELSE 'pending' END,
               'since', '2024-05-01T12:00:00+00:00', 'keyword', 'JOIN')),
           'profile', CASE WHEN n % 10 < 7
               THEN jsonb_build_object(
                   'first_name', (ARRAY['Ana', 'Bob', 'Chloé', 'Dmitri', 'Ebony', 'Farid',
                                        'Grace', 'Hiroshi'])[1 + n % 8],
                   'gender', (ARRAY['F', 'M', 'other'])[1 + n % 3])
               ELSE '{{}}'::jsonb END),
       a.zip, a.region, 'US', a.zones::text[],
       CASE WHEN a.zip IS NULL THEN 'area_code' ELSE 'zip' END
FROM generate_series(1, ($1 * 1.04)::bigint) AS n
JOIN areas a ON a.slot = n % 15
"""


async def claim_ms(conn: asyncpg.Connection, broadcast_id: int, *, deferred: bool) -> float:
    """One claim of 500 with the broadcast's rows all deferred (night) or all due; rolled back.

    Not a target of this issue: it shows what the existing claim query costs
    once a million broadcast rows sit in the outbox (see the report).
    """
    tx = conn.transaction()
    await tx.start()
    try:
        await conn.execute(
            "UPDATE outbound SET not_before = now() + make_interval(days => $2)"
            " WHERE broadcast_id = $1", broadcast_id, 1 if deferred else -1,
        )
        await conn.execute(
            "INSERT INTO outbound (msisdn, shortcode, body) VALUES ('+12125550000', $1, 'reply')",
            CODE,
        )
        started = time.perf_counter()
        await outbound_store.claim(conn, limit=500, owner="bench", lease_seconds=60)
        return round((time.perf_counter() - started) * 1000, 1)
    finally:
        await tx.rollback()


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # KiB on Linux


async def run(url: str, args: argparse.Namespace) -> dict[str, Any]:
    conn = await asyncpg.connect(url)
    try:
        await apply_migrations(conn, ROOT / "migrations")
        started = time.perf_counter()
        await conn.execute(GENERATE, args.subscribers)
        await conn.execute("VACUUM ANALYZE contacts")
        generated_s = time.perf_counter() - started
        contacts = await conn.fetchval("SELECT count(*) FROM contacts")
        rss_before = peak_rss_mb()
        broadcast_id = await service.create(
            conn, rules=load_rules(ROOT / "keywords.yaml"), program="rise", shortcode=CODE,
            where="", text=TEXT, created_by="bench", now=datetime.now(UTC),
        )
        started = time.perf_counter()
        result = await service.materialize(
            conn, broadcast_id, policy=QuietHoursPolicy(),
            variables={"program": "Rise Up", "shortcode": CODE},
            clock=lambda: datetime.now(UTC), batch_size=args.batch,
        )
        materialize_s = time.perf_counter() - started
        rows, numbers = await conn.fetchrow(
            "SELECT count(*), count(DISTINCT msisdn) FROM outbound WHERE broadcast_id = $1",
            broadcast_id,
        )
        skipped = await conn.fetchval(
            "SELECT count(*) FROM outbound o JOIN contacts c USING (msisdn)"
            " WHERE o.broadcast_id = $1 AND (c.opted_out OR c.state->'subs'->'rise'->>'status'"
            " <> 'subscribed')", broadcast_id,
        )
        deferred = await conn.fetchval(
            "SELECT count(*) FROM outbound WHERE broadcast_id = $1 AND not_before > now()",
            broadcast_id,
        )
        started = time.perf_counter()
        again = await service.materialize(
            conn, broadcast_id, policy=QuietHoursPolicy(), variables={},
            clock=lambda: datetime.now(UTC), batch_size=args.batch,
        )
        await conn.execute(
            "UPDATE broadcasts SET materialized_through = NULL, materialized_at = NULL"
            " WHERE id = $1", broadcast_id,
        )
        rerun = await service.materialize(
            conn, broadcast_id, policy=QuietHoursPolicy(),
            variables={"program": "Rise Up", "shortcode": CODE},
            clock=lambda: datetime.now(UTC), batch_size=args.batch,
        )
        rerun_s = time.perf_counter() - started
        claim_deferred = await claim_ms(conn, broadcast_id, deferred=True)
        claim_due = await claim_ms(conn, broadcast_id, deferred=False)
    finally:
        await conn.close()
    assert rows == numbers == args.subscribers, (rows, numbers)
    assert skipped == 0 and again.inserted == 0 and rerun.inserted == 0
    return {
        "contacts": contacts,
        "eligible_subscribers": args.subscribers,
        "generate_s": round(generated_s, 2),
        "batch_size": args.batch,
        "batches": result.batches,
        "materialize_s": round(materialize_s, 2),
        "rows_per_s": round(rows / materialize_s),
        "outbox_rows": rows,
        "distinct_numbers": numbers,
        "deferred_by_quiet_hours": deferred,
        "rerun_from_scratch_s": round(rerun_s, 2),
        "rerun_rows_added": rerun.inserted,
        "existing_claim_ms_1m_rows_deferred": claim_deferred,
        "existing_claim_ms_1m_rows_due": claim_due,
        "peak_rss_mb_before_materialize": rss_before,
        "peak_rss_mb": peak_rss_mb(),
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    results = await on_throwaway_cluster("pg-materialize", args.fast, lambda url: run(url, args))
    return report("bench_materialize", args.fast, results,
                  target="materialize 1,000,000 subscribers in under 60 s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscribers", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=service.DEFAULT_BATCH)
    parser.add_argument("--fast", action="store_true", help="fsync off (a throwaway cluster)")
    configure_logging("warning")
    wall = time.monotonic()
    printed = asyncio.run(main(parser.parse_args()))
    printed["wall_s"] = round(time.monotonic() - wall, 1)
    print(json.dumps(printed, indent=2))
