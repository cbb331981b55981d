"""What an erasure leaves behind, read from the database itself.

Why read every column of every table rather than a list of known ones: a
table added later that keeps the number must fail the erasure tests, not
slip past a list nobody updated.
"""

from __future__ import annotations

import asyncpg

from tests.support.e2e import wait_for


async def opted_out_when_back(pool: asyncpg.Pool, number: str) -> bool:
    """Wait for an erased number's new contact row (its MO is decided in another task)."""
    back: bool | None = None

    async def created() -> bool:
        nonlocal back
        async with pool.acquire() as conn:
            back = await conn.fetchval("SELECT opted_out FROM contacts WHERE msisdn = $1",
                                       number)
        return back is not None

    await wait_for(created, within=10)
    return bool(back)


async def traces(conn: asyncpg.Connection, number: str) -> list[str]:
    """table.column of every text or JSON value anywhere that still contains the number."""
    digits = number.lstrip("+")
    columns = await conn.fetch(
        """SELECT c.table_name, c.column_name FROM information_schema.columns c
           JOIN information_schema.tables t USING (table_schema, table_name)
           WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'
             AND c.data_type IN ('text', 'jsonb', 'json', 'character varying', 'ARRAY')""")
    found = []
    for row in columns:
        table, column = row["table_name"], row["column_name"]
        hit = await conn.fetchval(
            f'SELECT count(*) FROM "{table}" WHERE "{column}"::text LIKE $1', f"%{digits}%")
        if hit:
            found.append(f"{table}.{column}")
    return found
