"""One-time messages of a browser session (migration 412). SQL only.

Why a table and not the process's memory: the redirect's GET may reach another
gateway instance (docs/multi-instance.md). A new message of the same kind
replaces the unread one; taking it deletes it, so it is shown once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

PUT_FLASH = """
INSERT INTO web_flashes (session_hash, kind, subject_id, sealed, expires_at)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (session_hash, kind) DO UPDATE
    SET subject_id = EXCLUDED.subject_id, sealed = EXCLUDED.sealed,
        expires_at = EXCLUDED.expires_at
"""

TAKE_FLASH = """
DELETE FROM web_flashes WHERE session_hash = $1 AND kind = $2
RETURNING subject_id, sealed, expires_at
"""


@dataclass(frozen=True, slots=True)
class Flash:
    subject_id: int
    sealed: bytes


async def put_flash(conn: asyncpg.Connection, *, session_hash: bytes, kind: str,
                    subject_id: int, sealed: bytes, expires_at: datetime) -> None:
    await conn.execute(PUT_FLASH, session_hash, kind, subject_id, sealed, expires_at)


async def take_flash(conn: asyncpg.Connection, *, session_hash: bytes, kind: str,
                     now: datetime) -> Flash | None:
    """The session's unread message of this kind, deleted as it is read; None if none
    or expired."""
    row = await conn.fetchrow(TAKE_FLASH, session_hash, kind)
    if row is None or row["expires_at"] <= now:
        return None
    return Flash(row["subject_id"], bytes(row["sealed"]))
