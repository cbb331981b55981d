"""Contact import throughput: a generated CSV, its dry run and its import, in rows per second.

The file is tests/support/imports.py's `contact_file` (duplicates, unusable
numbers, opt-outs and rows without consent mixed in); one runner
(gateway/services/imports/runner.py) with `--chunk` rows per transaction
runs the dry run, then the import, end to end: reading the CSV, classifying
every row (phonenumbers), COPY into the staging table, the set-based
statements, the commit per chunk. Local cluster, fsync on. Prints one JSON
document.

`--webhooks` subscribes a receiver to contact.opted_in and contact.opted_out
first, so the import also queues one webhook event per consent row (the
receiver is never called: only the queue's cost is measured); `--tag NAME`
puts a tag on every contact of the file.

Usage: PYTHONPATH=. python bench/bench_import.py [--rows N] [--chunk N] [--webhooks]
       [--tag NAME]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import time
from pathlib import Path
from typing import Any

import asyncpg

from gateway.devdb import LocalPostgres
from gateway.logs import configure_logging
from gateway.services.imports import service
from gateway.store import webhook_events, webhook_subscriptions
from gateway.store.migrate import apply_migrations
from tests.support.imports import contact_file, organizer, runner, uploaded

ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = ROOT / ".bench" / "imports"


async def phase(pool: asyncpg.Pool, chunk: int) -> float:
    started = time.perf_counter()
    assert await runner(pool, chunk_rows=chunk).run_once()
    return time.perf_counter() - started


async def measure(pool: asyncpg.Pool, rows: int, chunk: int, *, webhooks: bool = False,
                  tag: str | None = None) -> dict[str, Any]:
    content = contact_file(rows)
    async with pool.acquire() as conn:
        if webhooks:
            await webhook_subscriptions.insert(
                conn, url="https://crm.example.org/hooks", description="bench",
                secret="s" * 40, created_by=None,
                event_types=(webhook_events.CONTACT_OPTED_IN, webhook_events.CONTACT_OPTED_OUT))
        started = time.perf_counter()
        import_id = await uploaded(conn, content, tags=[tag] if tag else None)
        upload = time.perf_counter() - started
    dry = await phase(pool, chunk)
    async with pool.acquire() as conn:
        await service.queue(conn, await organizer(conn), "bench", import_id, phase="import",
                            mapping=None)
    real = await phase(pool, chunk)
    async with pool.acquire() as conn:
        found = await service.summary(conn, import_id, report_rows=0)
    assert found["result"] == found["dry_run"]
    async with pool.acquire() as conn:
        events = await conn.fetchval("SELECT count(*) FROM webhook_events")
        tagged = await conn.fetchval("SELECT count(*) FROM contact_tags")
    return {"rows": rows, "chunk_rows": chunk, "file_bytes": len(content),
            "webhook_events": events, "tagged": tagged,
            "upload_s": round(upload, 2),
            "dry_run_s": round(dry, 2), "dry_run_rows_per_s": round(rows / dry),
            "import_s": round(real, 2), "import_rows_per_s": round(rows / real),
            "counts": {k: v for k, v in found["result"].items() if isinstance(v, int)}}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--chunk", type=int, default=10_000)
    parser.add_argument("--webhooks", action="store_true",
                        help="subscribe to the consent events first")
    parser.add_argument("--tag", help="a tag for every contact of the file")
    args = parser.parse_args()
    configure_logging("WARNING")
    shutil.rmtree(BENCH_DIR, ignore_errors=True)
    cluster = LocalPostgres(BENCH_DIR / "pg", throwaway=False)
    url = cluster.start()
    try:
        pool = await asyncpg.create_pool(url, min_size=1, max_size=4)
        try:
            await apply_migrations(pool)
            result = await measure(pool, args.rows, args.chunk, webhooks=args.webhooks,
                                   tag=args.tag)
        finally:
            await pool.close()
    finally:
        cluster.stop()
        shutil.rmtree(BENCH_DIR, ignore_errors=True)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
