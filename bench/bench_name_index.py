"""What the contacts' name index costs each MO lane batch, by the language of its function.

The trigram index on `contact_names(state)` is evaluated for every row the
lane's upsert writes. A SQL function with a query in its body is planned
again in every statement that calls it; a PL/pgSQL one once per connection
(migration 550, docs/performance.md). This builds two copies of `contacts`,
one indexed on the SQL body as it was before migration 550, one on the
function as it is, and runs the lane's upsert into each in turn, new numbers
every time, reading the backend's CPU from /proc/<pid>/schedstat around each
statement: alternating on one connection is the steadiest comparison this
machine allows. Prints one JSON document.

Usage (from the checkout): python -m bench.bench_name_index [--rounds N] [--fast]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg

from bench._cluster import on_throwaway_cluster, report
from gateway.logs import configure_logging
from gateway.store.contacts import UPSERT_STATES
from gateway.store.migrate import apply_migrations

# The body of contact_names as migration 411 wrote it (SQL), next to the current one.
TABLES = """
CREATE FUNCTION contact_names_as_sql(state jsonb) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(string_agg(p.value, ' ' ORDER BY p.key), '')
    FROM jsonb_each_text(CASE WHEN jsonb_typeof(state->'profile') = 'object'
                              THEN state->'profile' ELSE '{}'::jsonb END) AS p
    WHERE p.key LIKE '%name'
$$;
CREATE TABLE contacts_sql (LIKE contacts INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
ALTER TABLE contacts_sql ADD PRIMARY KEY (msisdn, shortcode);
CREATE INDEX ON contacts_sql USING gin (contact_names_as_sql(state) gin_trgm_ops);
CREATE INDEX ON contacts_sql (updated_at);
CREATE TABLE contacts_now (LIKE contacts_sql INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
ALTER TABLE contacts_now ADD PRIMARY KEY (msisdn, shortcode);
CREATE INDEX ON contacts_now USING gin (contact_names(state) gin_trgm_ops);
CREATE INDEX ON contacts_now (updated_at);
"""
SIZES = (4, 13)  # MOs per lane batch at 1,000 MO/s and at full speed (bench/mo_roundtrip.py)
WARM_UP = 20


def backend_cpu_us(pid: int) -> float:
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1000


def batch(first: int, size: int, now: datetime) -> list[list[Any]]:
    """A lane batch's upsert arguments: new numbers, a third of them with names."""
    rows = []
    for n in range(first, first + size):
        profile = {"first_name": "Ann", "last_name": f"Lee{n}", "zip": "10001"} if n % 3 == 0 \
            else {"zip": "10001"}
        rows.append((f"+1555{n:07d}", "12345", False,
                     json.dumps({"v": 1, "subs": {}, "profile": profile})))
    return [[r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows],
            [r[3] for r in rows], [now] * size]


async def run(url: str, rounds: int) -> list[dict[str, Any]]:
    conn = await asyncpg.connect(url)
    try:
        await apply_migrations(conn)
        await conn.execute(TABLES)
        pid = await conn.fetchval("SELECT pg_backend_pid()")
        now = await conn.fetchval("SELECT now()")
        upserts = {name: await conn.prepare(UPSERT_STATES.replace("contacts", table, 1))
                   for name, table in (("sql", "contacts_sql"), ("plpgsql", "contacts_now"))}
        results = []
        first = 0
        for size in SIZES:
            spent: dict[str, list[float]] = {name: [] for name in upserts}
            for n in range(WARM_UP + rounds):
                args = batch(first, size, now)
                first += size
                order = list(upserts) if n % 2 else list(reversed(upserts))
                for name in order:  # both get the same rows, each in its own transaction
                    async with conn.transaction():
                        before = backend_cpu_us(pid)
                        await upserts[name].fetch(*args)
                        spent[name].append(backend_cpu_us(pid) - before)
            results.append({
                "rows_per_statement": size,
                "rounds": rounds,
                **{f"{name}_us_per_statement_median": round(statistics.median(v[WARM_UP:]), 1)
                   for name, v in spent.items()},
            })
        return results
    finally:
        await conn.close()


async def main(args: argparse.Namespace) -> dict[str, Any]:
    configure_logging("warning")
    results = await on_throwaway_cluster("pg-name-index", args.fast,
                                         lambda url: run(url, args.rounds))
    return report("bench_name_index", args.fast, results)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=400, help="statements per version and size")
    parser.add_argument("--fast", action="store_true", help="fsync off (a throwaway cluster)")
    print(json.dumps(asyncio.run(main(parser.parse_args())), indent=2))
