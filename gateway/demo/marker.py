"""The seed's guard: made-up supporters go only into a database marked as the demo's.

Why a mark and not a name or a port: a production DATABASE_URL can look like
anything, and a wrong environment variable is the likeliest way for demo data
to reach real supporters' records. The mark is a database comment that only
`python -m gateway.devdb start --demo` sets (what `make demo` runs).
"""

from __future__ import annotations

import asyncpg

from gateway.devdb import DEMO_COMMENT
from gateway.store import demo_marker


class NotADemoDatabase(RuntimeError):
    """The database lacks the demo mark; the message says which and how to get one."""


async def require_demo_database(conn: asyncpg.Connection) -> None:
    if await demo_marker.database_comment(conn) == DEMO_COMMENT:
        return
    name = await demo_marker.database_name(conn)
    raise NotADemoDatabase(
        f"database {name!r} is not marked as a demo database, so no demo data was written. "
        "The demo seed runs only on the database `make demo` creates (python -m gateway.devdb "
        "start --demo marks it); unset DATABASE_URL and run `make demo`.")
