"""Finance functions take a pool (the web frame, the CLI) or a connection (a caller's
transaction, the tests); this gives them one connection either way."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TypeAlias

import asyncpg

Db: TypeAlias = "asyncpg.Pool | asyncpg.Connection"


@asynccontextmanager
async def connection(db: Db) -> AsyncIterator[asyncpg.Connection]:
    if isinstance(db, asyncpg.Pool):
        async with db.acquire() as conn:
            yield conn
    else:
        yield db
