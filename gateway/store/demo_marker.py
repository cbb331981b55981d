"""Read the database's comment: where `make demo`'s cluster manager marks a demo database.

Only reading lives here: the mark is set by gateway/devdb.py when it makes
the demo's database, and `gateway demo seed` refuses a database without it.
"""

from __future__ import annotations

import asyncpg

DATABASE_COMMENT = """
SELECT shobj_description(d.oid, 'pg_database')
FROM pg_database d WHERE d.datname = current_database()
"""

DATABASE_NAME = "SELECT current_database()"


async def database_comment(conn: asyncpg.Connection) -> str | None:
    comment: str | None = await conn.fetchval(DATABASE_COMMENT)
    return comment


async def database_name(conn: asyncpg.Connection) -> str:
    name: str = await conn.fetchval(DATABASE_NAME)
    return name
