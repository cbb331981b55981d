"""A gateway process killed with SIGKILL in the middle of an import: the next run goes on
from the last committed chunk and every row ends as the dry run said."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import asyncpg

from gateway.services.imports import service
from tests.support.imports import contact_file, organizer, runner, uploaded

ROOT = Path(__file__).resolve().parents[1]
ROWS = 30_000
PER_ROW = ("SELECT row_no, msisdn, outcome, effect, reason, column_name, duplicate_of"
           " FROM contact_import_rows WHERE import_id = $1 AND phase = $2 ORDER BY row_no")


async def test_kill_9_mid_import_then_restart(pool: asyncpg.Pool, db_url: str) -> None:
    async with pool.acquire() as conn:
        import_id = await uploaded(conn, contact_file(ROWS, seed=11))
    assert await runner(pool, chunk_rows=3_000).run_once()
    async with pool.acquire() as conn:
        await service.queue(conn, await organizer(conn), "t", import_id, phase="import",
                            mapping=None)
    worker = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.support.import_worker", db_url, "gw-k", "1000",
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    done = 0
    async with pool.acquire() as conn:
        for _ in range(6000):  # until two chunks are committed, then kill -9
            done = await conn.fetchval("SELECT next_row FROM contact_imports WHERE id = $1",
                                       import_id)
            if done >= 2_000 or worker.returncode is not None:
                break
            await asyncio.sleep(0.01)
    worker.send_signal(signal.SIGKILL)
    await worker.wait()
    async with pool.acquire() as conn:
        cut = await conn.fetchrow("SELECT status, next_row FROM contact_imports WHERE id = $1",
                                  import_id)
    assert cut["status"] == "running" and 2_000 <= cut["next_row"] < ROWS
    assert cut["next_row"] % 1_000 == 0  # whole chunks only
    again = runner(pool, owner="gw-k", chunk_rows=1_000)
    assert await again.release_own() == 1
    assert await again.run_once()
    async with pool.acquire() as conn:
        found = await service.summary(conn, import_id, report_rows=0)
        assert found["import"]["status"] == "done" and found["result"] == found["dry_run"]
        assert [tuple(r) for r in await conn.fetch(PER_ROW, import_id, "import")] == [
            tuple(r) for r in await conn.fetch(PER_ROW, import_id, "dry_run")]
        assert await conn.fetchval(
            "SELECT count(*) - count(DISTINCT import_row) FROM consent_events") == 0
        assert await conn.fetchval("SELECT count(*) FROM consent_events") == \
            found["result"]["subscribed"] + found["result"]["opted_out"]
