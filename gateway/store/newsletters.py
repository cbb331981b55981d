"""Who a newsletter was queued for (migration 251). SQL only; the one writer of
`newsletter_recipients`.

Why a table beside mail_outbox rather than a column in it: the outbox is the
sender's (every mail of every purpose), while "this row is newsletter 12's
copy for ana@" is the broadcast's knowledge: it makes a materialization cut
off by a crash resumable without queuing anyone twice, gives the progress
counts, and lets the send-time check see that a newsletter was cancelled.
Who is next in a newsletter's segment is read by `newsletter_segments`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import asyncpg

from gateway.store.db import affected

INSERT_RECIPIENTS = """
INSERT INTO newsletter_recipients (broadcast_id, address, mail_outbox_id, queued_at)
SELECT $1, r.address, r.mail_id, $4
FROM unnest($2::text[], $3::bigint[]) AS r(address, mail_id)
ON CONFLICT (broadcast_id, address) DO NOTHING
"""

# Copies still waiting or being sent: the newsletter queues more only below its window.
IN_FLIGHT = """
SELECT count(*) FROM newsletter_recipients r JOIN mail_outbox m ON m.id = r.mail_outbox_id
WHERE r.broadcast_id = $1 AND m.status IN ('queued', 'sending')
"""

CANCELLED_COPY = """
SELECT EXISTS (SELECT 1 FROM newsletter_recipients r JOIN broadcasts b ON b.id = r.broadcast_id
               WHERE r.mail_outbox_id = $1 AND b.status = 'cancelled')
"""

PROGRESS = """
SELECT id, status, recipients, materialized_at, queued, sending, sent, failed, suppressed
FROM newsletter_progress WHERE id = $1
"""

ERASE_ADDRESS = "UPDATE newsletter_recipients SET address = $2 WHERE address = $1"

LIST_NEWSLETTERS = """
SELECT p.id, p.status, p.recipients, p.queued, p.sending, p.sent, p.failed, p.suppressed,
       b.program, b.subject, b.scheduled_at, b.created_by, b.created_at
FROM newsletter_progress p JOIN broadcasts b ON b.id = p.id
ORDER BY p.id DESC LIMIT $1
"""


async def add_recipients(conn: asyncpg.Connection, broadcast_id: int,
                         queued: Sequence[tuple[str, int]], now: datetime) -> None:
    """(address, mail_outbox id) pairs queued for the newsletter, in one statement."""
    if queued:
        await conn.execute(INSERT_RECIPIENTS, broadcast_id, [a for a, _ in queued],
                           [m for _, m in queued], now)


async def in_flight(conn: asyncpg.Connection, broadcast_id: int) -> int:
    count: int = await conn.fetchval(IN_FLIGHT, broadcast_id)
    return count


async def is_cancelled_copy(conn: asyncpg.Connection, mail_id: int) -> bool:
    """Is this mail_outbox row a copy of a newsletter that was cancelled?"""
    return bool(await conn.fetchval(CANCELLED_COPY, mail_id))


async def progress(conn: asyncpg.Connection, broadcast_id: int) -> dict[str, object] | None:
    row = await conn.fetchrow(PROGRESS, broadcast_id)
    return None if row is None else dict(row)


async def list_newsletters(conn: asyncpg.Connection, limit: int = 50) -> list[asyncpg.Record]:
    return list(await conn.fetch(LIST_NEWSLETTERS, limit))


async def erase_address(conn: asyncpg.Connection, address: str, pseudonym: str) -> int:
    """Erasure: the copies stay counted in their newsletter's progress, under the pseudonym."""
    return affected(await conn.execute(ERASE_ADDRESS, address, pseudonym))
