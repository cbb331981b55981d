"""A gateway's import runner alone in a process, for the test that kills it with SIGKILL.

Usage: python -m tests.support.import_worker DATABASE_URL OWNER CHUNK_ROWS
Runs one claimed import to its end (or to its death).
"""

from __future__ import annotations

import asyncio
import sys

import asyncpg

from gateway.logs import configure_logging
from tests.support.imports import runner


async def main(url: str, owner: str, chunk_rows: int) -> None:
    configure_logging("WARNING")
    pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
    try:
        await runner(pool, owner=owner, chunk_rows=chunk_rows).run_once()
    finally:
        await pool.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
