"""What the contacts' name index costs each MO lane batch, by the form of its function.

The trigram index on `contact_names(state)` is evaluated for every row the
lane's upsert writes. A SQL function with a query in its body is planned
again in every statement that calls it (migration 411); a PL/pgSQL one once
per connection, but it still runs its query for every row (migration 550);
the inlined SQL expression of migration 571 runs that query only for a
profile with a name field (docs/performance.md). This builds three copies of
`contacts`, each indexed on one of those, and runs the lane's upsert into
each in turn, new numbers every time (a third new contacts with no profile,
as a JOIN makes them; a third with a ZIP code; a third with names), reading
the backend's CPU from /proc/<pid>/schedstat around each statement:
alternating on one connection is the steadiest comparison this machine
allows. Prints one JSON document.

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

# The body of contact_names as migration 411 (SQL) wrote it; migration 550's (PL/pgSQL)
# below; and the current one.
TABLES = """
CREATE FUNCTION contact_names_as_sql(state jsonb) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(string_agg(p.value, ' ' ORDER BY p.key), '')
    FROM jsonb_each_text(CASE WHEN jsonb_typeof(state->'profile') = 'object'
                              THEN state->'profile' ELSE '{}'::jsonb END) AS p
    WHERE p.key LIKE '%name'
$$;
"""
MIGRATION_550 = (Path(__file__).resolve().parent.parent / "migrations"
                 / "550_contact_names_planned_once.sql")
FUNCTION_550 = "CREATE OR REPLACE FUNCTION contact_names("


def as_plpgsql() -> str:
    """Migration 550's function, read from its file, under another name."""
    text = MIGRATION_550.read_text()
    if FUNCTION_550 not in text:
        raise SystemExit(f"{MIGRATION_550.name} no longer defines contact_names")
    return text.replace(FUNCTION_550, "CREATE FUNCTION contact_names_as_plpgsql(")
VERSIONS = {"sql": "contact_names_as_sql", "plpgsql": "contact_names_as_plpgsql",
            "inlined": "contact_names"}
COPY = """
CREATE TABLE contacts_{name} (LIKE contacts INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
ALTER TABLE contacts_{name} ADD PRIMARY KEY (msisdn, shortcode);
CREATE INDEX ON contacts_{name} USING gin ({function}(state) gin_trgm_ops);
CREATE INDEX ON contacts_{name} (updated_at);
"""
SIZES = (4, 13)  # MOs per lane batch at 1,000 MO/s and at full speed (bench/mo_roundtrip.py)
WARM_UP = 20


def backend_cpu_us(pid: int) -> float:
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1000


def batch(first: int, size: int, now: datetime) -> list[list[Any]]:
    """A lane batch's upsert arguments: new numbers, a third of them with no profile (a
    JOIN's), a third with a ZIP code, a third with names."""
    rows = []
    for n in range(first, first + size):
        state: dict[str, Any] = {"v": 1, "subs": {}}
        if n % 3 == 1:
            state["profile"] = {"zip": "10001"}
        elif n % 3 == 2:
            state["profile"] = {"first_name": "Ann", "last_name": f"Lee{n}", "zip": "10001"}
        rows.append((f"+1555{n:07d}", "12345", False, json.dumps(state)))
    return [[r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows],
            [r[3] for r in rows], [now] * size]


async def run(url: str, rounds: int) -> list[dict[str, Any]]:
    conn = await asyncpg.connect(url)
    try:
        await apply_migrations(conn)
        await conn.execute(TABLES)
        await conn.execute(as_plpgsql())
        for name, function in VERSIONS.items():
            await conn.execute(COPY.format(name=name, function=function))
        pid = await conn.fetchval("SELECT pg_backend_pid()")
        now = await conn.fetchval("SELECT now()")
        upserts = {
            name: await conn.prepare(UPSERT_STATES.replace("contacts", f"contacts_{name}", 1))
            for name in VERSIONS}
        results = []
        first = 0
        for size in SIZES:
            spent: dict[str, list[float]] = {name: [] for name in upserts}
            for n in range(WARM_UP + rounds):
                args = batch(first, size, now)
                first += size
                order = list(upserts)[n % 3:] + list(upserts)[:n % 3]
                for name in order:  # each gets the same rows, in its own transaction
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
