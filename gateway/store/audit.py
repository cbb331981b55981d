"""The audit log (migration 008): insert and read, never change. SQL only.

The table refuses UPDATE, DELETE and TRUNCATE by trigger, so this module has
no function that could try.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from gateway.store.db import affected

INSERT_ENTRY = """
INSERT INTO audit_log (actor_id, actor, action, target, detail, client)
VALUES ($1, $2, $3, $4, $5::jsonb, $6)
RETURNING id
"""

# Newest first, keyset-paged by id; every filter is optional (NULL matches all).
LIST_ENTRIES = """
SELECT id, occurred_at, actor_id, actor, action, target, detail::text AS detail, client
FROM audit_log
WHERE ($1::text IS NULL OR action = $1)
  AND ($2::bigint IS NULL OR actor_id = $2)
  AND ($3::text IS NULL OR target = $3)
  AND ($4::bigint IS NULL OR id < $4)
ORDER BY id DESC
LIMIT $5
"""


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    occurred_at: datetime
    actor_id: int | None
    actor: str
    action: str
    target: str | None
    detail: Mapping[str, Any]
    client: str | None


async def insert_entry(
    conn: asyncpg.Connection, *, actor_id: int | None, actor: str, action: str,
    target: str | None = None, detail: Mapping[str, Any] | None = None,
    client: str | None = None,
) -> int:
    entry_id: int = await conn.fetchval(
        INSERT_ENTRY, actor_id, actor, action, target,
        json.dumps(dict(detail or {}), separators=(",", ":"), default=str), client,
    )
    return entry_id


async def list_entries(
    conn: asyncpg.Connection, *, action: str | None = None, actor_id: int | None = None,
    target: str | None = None, before_id: int | None = None, limit: int = 100,
) -> list[AuditEntry]:
    rows = await conn.fetch(LIST_ENTRIES, action, actor_id, target, before_id, limit)
    return [
        AuditEntry(**{**dict(row), "detail": json.loads(row["detail"])}) for row in rows
    ]


# When each of these actors last did `action` (the users page: last login).
LAST_BY_ACTOR = """
SELECT actor_id, max(occurred_at) AS last_at FROM audit_log
WHERE action = $1 AND actor_id = ANY($2::bigint[])
GROUP BY actor_id
"""


async def last_by_actor(conn: asyncpg.Connection, action: str,
                        actor_ids: Sequence[int]) -> dict[int, datetime]:
    """actor id -> when they last did `action`; an actor who never did is left out."""
    rows = await conn.fetch(LAST_BY_ACTOR, action, list(actor_ids))
    return {row["actor_id"]: row["last_at"] for row in rows}


# -- erasure (store/privacy.py runs these in its one transaction) ------------------------

PSEUDONYMIZE = """
UPDATE audit_log
SET target = replace(target, $1, $2),
    detail = replace(replace(detail::text, $1, $2), ltrim($1, '+'), $2)::jsonb
WHERE target LIKE '%' || $1 || '%' OR detail::text LIKE '%' || ltrim($1, '+') || '%'
"""


async def pseudonymize(conn: asyncpg.Connection, msisdn: str, pseudonym: str) -> int:
    """The number replaced in targets and details, with or without its '+'."""
    return affected(await conn.execute(PSEUDONYMIZE, msisdn, pseudonym))
