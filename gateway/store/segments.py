"""Saved segments (migration 440): the one writer of `segments`.

A segment is a name for a program and a filter in the audience language
(gateway/audience.py); what it reaches is computed by store/audience.py
each time it is counted, sent to or exported, never stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg
from asyncpg.exceptions import UniqueViolationError

INSERT = """
INSERT INTO segments (name, program, filter, created_by, updated_by)
VALUES ($1, $2, $3, $4, $4)
RETURNING id, name, program, filter, created_by, created_at, updated_by, updated_at
"""

UPDATE = """
UPDATE segments SET name = $2, program = $3, filter = $4, updated_by = $5,
                    updated_at = clock_timestamp()
WHERE id = $1
RETURNING id, name, program, filter, created_by, created_at, updated_by, updated_at
"""

DELETE = "DELETE FROM segments WHERE id = $1 RETURNING id"

GET = """
SELECT id, name, program, filter, created_by, created_at, updated_by, updated_at
FROM segments WHERE id = $1
"""

LIST = """
SELECT id, name, program, filter, created_by, created_at, updated_by, updated_at
FROM segments ORDER BY lower(name)
"""


class NameTaken(Exception):
    """Another segment has this name (names are unique, ignoring case)."""


@dataclass(frozen=True, slots=True)
class Segment:
    id: int
    name: str
    program: str
    filter: str
    created_by: str
    created_at: datetime
    updated_by: str
    updated_at: datetime


async def insert(conn: asyncpg.Connection, *, name: str, program: str, filter: str,
                 by: str) -> Segment:
    try:
        row = await conn.fetchrow(INSERT, name, program, filter, by)
    except UniqueViolationError:
        raise NameTaken(name) from None
    assert row is not None
    return Segment(**dict(row))


async def update(conn: asyncpg.Connection, segment_id: int, *, name: str, program: str,
                 filter: str, by: str) -> Segment | None:
    try:
        row = await conn.fetchrow(UPDATE, segment_id, name, program, filter, by)
    except UniqueViolationError:
        raise NameTaken(name) from None
    return None if row is None else Segment(**dict(row))


async def delete(conn: asyncpg.Connection, segment_id: int) -> bool:
    return await conn.fetchval(DELETE, segment_id) is not None


async def get(conn: asyncpg.Connection, segment_id: int) -> Segment | None:
    row = await conn.fetchrow(GET, segment_id)
    return None if row is None else Segment(**dict(row))


async def list_all(conn: asyncpg.Connection) -> list[Segment]:
    return [Segment(**dict(r)) for r in await conn.fetch(LIST)]
