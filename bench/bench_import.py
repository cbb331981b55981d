"""Contact import throughput: a generated CSV, its dry run and its import, in rows per second.

The file is tests/support/imports.py's `contact_file` (duplicates, unusable
numbers, opt-outs and rows without consent mixed in); one runner
(gateway/services/imports/runner.py) with `--chunk` rows per transaction
runs the dry run, then the import, end to end: reading the CSV, classifying
every row (phonenumbers), COPY into the staging table, the set-based
statements, the commit per chunk. Local cluster, fsync on. Prints one JSON
document.

Usage: PYTHONPATH=. python bench/bench_import.py [--rows N] [--chunk N]
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
from gateway.store.migrate import apply_migrations
from tests.support.imports import contact_file, organizer, runner, uploaded

ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = ROOT / ".bench" / "imports"


async def phase(pool: asyncpg.Pool, chunk: int) -> float:
    started = time.perf_counter()
    assert await runner(pool, chunk_rows=chunk).run_once()
    return time.perf_counter() - started


async def measure(pool: asyncpg.Pool, rows: int, chunk: int) -> dict[str, Any]:
    content = contact_file(rows)
    async with pool.acquire() as conn:
        started = time.perf_counter()
        import_id = await uploaded(conn, content)
        upload = time.perf_counter() - started
    dry = await phase(pool, chunk)
    async with pool.acquire() as conn:
        await service.queue(conn, await organizer(conn), "bench", import_id, phase="import",
                            mapping=None)
    real = await phase(pool, chunk)
    async with pool.acquire() as conn:
        found = await service.summary(conn, import_id, report_rows=0)
    assert found["result"] == found["dry_run"]
    return {"rows": rows, "chunk_rows": chunk, "file_bytes": len(content),
            "upload_s": round(upload, 2),
            "dry_run_s": round(dry, 2), "dry_run_rows_per_s": round(rows / dry),
            "import_s": round(real, 2), "import_rows_per_s": round(rows / real),
            "counts": {k: v for k, v in found["result"].items() if isinstance(v, int)}}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--chunk", type=int, default=10_000)
    args = parser.parse_args()
    configure_logging("WARNING")
    shutil.rmtree(BENCH_DIR, ignore_errors=True)
    cluster = LocalPostgres(BENCH_DIR / "pg", throwaway=False)
    url = cluster.start()
    try:
        pool = await asyncpg.create_pool(url, min_size=1, max_size=4)
        try:
            await apply_migrations(pool)
            result = await measure(pool, args.rows, args.chunk)
        finally:
            await pool.close()
    finally:
        cluster.stop()
        shutil.rmtree(BENCH_DIR, ignore_errors=True)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
