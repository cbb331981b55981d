"""The UIDs the IMAP poller has taken from a mailbox folder (migration 200). SQL only.

Why a row per UID rather than a cursor alone: the row is written in the
same transaction as the message it stored (store/mail_inbound.py), so
"stored" and "seen" can never disagree after a crash; its `moved_at` then
tells which stored messages still wait to be moved to the done folder. The
highest UID under the folder's UIDVALIDITY is where the next poll resumes.
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

LAST_UID = """
SELECT coalesce(max(uid), 0) FROM mail_imap_uids WHERE mailbox = $1 AND uidvalidity = $2
"""

RECORD_UID = """
INSERT INTO mail_imap_uids (mailbox, uidvalidity, uid, mail_id, skipped)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (mailbox, uidvalidity, uid) DO NOTHING
"""

UNMOVED = """
SELECT uid FROM mail_imap_uids
WHERE mailbox = $1 AND uidvalidity = $2 AND moved_at IS NULL AND skipped IS NULL
  AND mail_id IS NOT NULL
ORDER BY uid LIMIT $3
"""

MARK_MOVED = """
UPDATE mail_imap_uids SET moved_at = now()
WHERE mailbox = $1 AND uidvalidity = $2 AND uid = ANY($3::bigint[])
"""


async def last_uid(conn: asyncpg.Connection, mailbox: str, uidvalidity: int) -> int:
    return int(await conn.fetchval(LAST_UID, mailbox, uidvalidity))


async def record_uid(conn: asyncpg.Connection, mailbox: str, uidvalidity: int, uid: int, *,
                     mail_id: int | None, skipped: str | None = None) -> None:
    await conn.execute(RECORD_UID, mailbox, uidvalidity, uid, mail_id, skipped)


async def unmoved(conn: asyncpg.Connection, mailbox: str, uidvalidity: int,
                  limit: int = 500) -> list[int]:
    return [int(row["uid"]) for row in await conn.fetch(UNMOVED, mailbox, uidvalidity, limit)]


async def mark_moved(conn: asyncpg.Connection, mailbox: str, uidvalidity: int,
                     uids: Sequence[int]) -> None:
    await conn.execute(MARK_MOVED, mailbox, uidvalidity, list(uids))
