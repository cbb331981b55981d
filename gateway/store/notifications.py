"""Notifications to staff (migration 260): the experts' digest watermarks, and the reads
the notices need. SQL only; the one writer of `expert_digests`.

Why a watermark of transaction ids and not of question ids: see the migration.
In short, `horizon` is the oldest transaction still running when a statement's
snapshot was taken (`pg_snapshot_xmin`); every question inserted by an older
transaction is either visible to that statement or never will be. A digest
covers [watermark, horizon) and then stores horizon as the new watermark, in
the transaction that queues the mail: the next digest starts exactly where
this one ended. The horizon is read in the same statement as the questions,
so they share one snapshot.

Why `last_slot`: two gateways tick at the same time. The due row is locked
(`FOR UPDATE ... SKIP LOCKED`) and re-checked (`last_slot < slot`) before
anything is read, so the second finds it taken or done and sends nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from gateway.store.db import affected

_HORIZON = "pg_snapshot_xmin(pg_current_snapshot())::text::bigint"

# An expert seen for the first time starts from now: no digest of the past.
ADD_NEW_EXPERTS = f"""
INSERT INTO expert_digests (user_id, watermark, last_slot)
SELECT u.id, {_HORIZON}, $1 FROM users u
WHERE u.role = 'expert' AND NOT EXISTS (SELECT 1 FROM expert_digests d WHERE d.user_id = u.id)
ON CONFLICT (user_id) DO NOTHING
"""

_ELIGIBLE = ("u.role = 'expert' AND u.disabled_at IS NULL AND d.enabled "
             "AND cardinality(u.themes) > 0")

# Users who get no digest this slot (disabled, digests off, no themes, no longer an
# expert) move on with the others, so turning digests back on brings no backlog.
PASS_OVER_IDLE = f"""
UPDATE expert_digests d
SET watermark = {_HORIZON}, last_slot = $1, updated_at = clock_timestamp()
FROM users u
WHERE u.id = d.user_id AND d.last_slot < $1 AND NOT ({_ELIGIBLE})
"""

LIST_DUE = f"""
SELECT d.user_id FROM expert_digests d JOIN users u ON u.id = d.user_id
WHERE d.last_slot < $1 AND {_ELIGIBLE}
ORDER BY d.user_id
"""

LOCK_DUE = f"""
SELECT d.user_id, d.watermark, u.email, u.themes
FROM expert_digests d JOIN users u ON u.id = d.user_id
WHERE d.user_id = $1 AND d.last_slot < $2 AND {_ELIGIBLE}
FOR UPDATE OF d SKIP LOCKED
"""

# One statement, so the horizon and the rows read share one snapshot. Answered
# questions are not news. With none, one row: the horizon and a NULL theme.
NEW_QUESTIONS = f"""
WITH horizon AS (SELECT {_HORIZON} AS xid)
SELECT h.xid AS horizon, q.theme, q.program, count(q.id) AS new
FROM horizon h
LEFT JOIN questions q
  ON q.insert_xid >= $1 AND q.insert_xid < h.xid AND q.theme = ANY($2::text[])
     AND q.status <> 'answered'
GROUP BY h.xid, q.theme, q.program
ORDER BY q.theme, q.program
"""

# Per theme, what no expert holds yet: how many, and the one waiting longest (one
# index probe per theme on questions_queue_idx, no sort of the whole backlog).
OLDEST_UNCLAIMED = """
SELECT t.theme, o.id, o.program, o.asked_at, c.unclaimed
FROM unnest($1::text[]) AS t (theme)
CROSS JOIN LATERAL (
    SELECT id, program, asked_at FROM questions
    WHERE theme = t.theme AND status IN ('open', 'escalated')
    ORDER BY asked_at, id LIMIT 1) o
CROSS JOIN LATERAL (
    SELECT count(*) AS unclaimed FROM questions
    WHERE theme = t.theme AND status IN ('open', 'escalated')) c
ORDER BY t.theme
"""

RECORD_DIGEST = """
UPDATE expert_digests
SET watermark = $2, last_slot = $3, last_sent_at = coalesce($4, last_sent_at),
    updated_at = clock_timestamp()
WHERE user_id = $1
"""

SET_ENABLED = f"""
INSERT INTO expert_digests (user_id, enabled, watermark, last_slot)
VALUES ($1, $2, {_HORIZON}, $3)
ON CONFLICT (user_id) DO UPDATE SET enabled = EXCLUDED.enabled, updated_at = clock_timestamp()
RETURNING enabled
"""

GET_ENABLED = "SELECT enabled FROM expert_digests WHERE user_id = $1"

DISABLED_USERS_AMONG = """
SELECT email FROM users WHERE email = ANY($1::text[]) AND disabled_at IS NOT NULL
"""


@dataclass(frozen=True, slots=True)
class DueExpert:
    """An expert whose digest this slot is theirs to send, their row locked."""

    user_id: int
    email: str
    themes: tuple[str, ...]
    watermark: int


@dataclass(frozen=True, slots=True)
class NewCount:
    theme: str
    program: str
    new: int


@dataclass(frozen=True, slots=True)
class Unclaimed:
    theme: str
    program: str
    count: int
    oldest_id: int
    oldest_asked_at: datetime


async def add_new_experts(conn: asyncpg.Connection, slot: datetime) -> int:
    """A row for every expert without one, starting at `slot`; how many were added."""
    return affected(await conn.execute(ADD_NEW_EXPERTS, slot))


async def pass_over_idle(conn: asyncpg.Connection, slot: datetime) -> int:
    """Move the watermark of users who get no digest this slot; how many."""
    return affected(await conn.execute(PASS_OVER_IDLE, slot))


async def list_due(conn: asyncpg.Connection, slot: datetime) -> list[int]:
    """Users whose digest for `slot` is not done yet (unlocked: `lock_due` decides)."""
    return [row["user_id"] for row in await conn.fetch(LIST_DUE, slot)]


async def lock_due(conn: asyncpg.Connection, user_id: int, slot: datetime) -> DueExpert | None:
    """The user's row, locked to the end of the transaction, if the slot is still to do
    and no other transaction holds it; else None."""
    row = await conn.fetchrow(LOCK_DUE, user_id, slot)
    if row is None:
        return None
    return DueExpert(row["user_id"], row["email"], tuple(row["themes"]), row["watermark"])


async def new_questions(
    conn: asyncpg.Connection, themes: Sequence[str], watermark: int,
) -> tuple[int, list[NewCount]]:
    """The horizon, and unanswered questions per (theme, program) inserted since `watermark`."""
    rows = await conn.fetch(NEW_QUESTIONS, watermark, list(themes))
    counts = [NewCount(r["theme"], r["program"], r["new"]) for r in rows if r["theme"]]
    return int(rows[0]["horizon"]), counts


async def oldest_unclaimed(conn: asyncpg.Connection, themes: Sequence[str]) -> list[Unclaimed]:
    rows = await conn.fetch(OLDEST_UNCLAIMED, list(themes))
    return [Unclaimed(r["theme"], r["program"], r["unclaimed"], r["id"], r["asked_at"])
            for r in rows]


async def record_digest(conn: asyncpg.Connection, user_id: int, *, horizon: int,
                        slot: datetime, sent_at: datetime | None) -> None:
    """The slot is done up to `horizon`; `sent_at` when a digest was queued."""
    await conn.execute(RECORD_DIGEST, user_id, horizon, slot, sent_at)


async def set_enabled(conn: asyncpg.Connection, user_id: int, enabled: bool, *,
                      now: datetime) -> bool:
    """The user's own choice; a new row starts at `now` (no digest of the past)."""
    return bool(await conn.fetchval(SET_ENABLED, user_id, enabled, now))


async def get_enabled(conn: asyncpg.Connection, user_id: int) -> bool:
    """Digests are on until the user turns them off."""
    value = await conn.fetchval(GET_ENABLED, user_id)
    return True if value is None else bool(value)


async def disabled_users_among(conn: asyncpg.Connection, emails: Sequence[str]) -> set[str]:
    """Those of `emails` (normalized) that belong to a disabled account."""
    return {row["email"] for row in await conn.fetch(DISABLED_USERS_AMONG, list(emails))}
