"""Delivery receipts: stored as received, then applied to the segments they name.

A receipt may arrive before the submit_sm_resp that tells us its message id
(the SMSC's two paths race). So receipts are always stored first and applied
at once when their segment is known; a final receipt that matches no open
segment is parked in `pending_receipts`, and a periodic sweep applies it once
the segment's id is recorded. Only final receipts change a segment;
intermediate ones are kept for history.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from gateway.store.db import columns

INSERT_BATCH = """
INSERT INTO delivery_receipts (smsc_message_id, stat, error_code, final)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bool[])
"""

# The hot path in one statement: store the receipts, close the segments they
# name, and roll those segments up to their messages. All parts of a data-
# modifying statement see one snapshot, so the roll-up combines the segments
# closed here (from `closed`) with the message's other segments (from the table).
RECORD = """
WITH incoming AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bool[])
         WITH ORDINALITY AS k(smsc_message_id, stat, error_code, final, n)
),
stored AS (
    INSERT INTO delivery_receipts (smsc_message_id, stat, error_code, final)
    SELECT smsc_message_id, stat, error_code, final FROM incoming ORDER BY n
),
closed AS (
    UPDATE outbound_segments s
    SET status = r.stat, error_code = r.error_code, final_at = now()
    FROM (
        SELECT DISTINCT ON (smsc_message_id) smsc_message_id, stat, error_code
        FROM incoming WHERE final ORDER BY smsc_message_id, n
    ) r
    WHERE s.smsc_message_id = r.smsc_message_id AND s.status = 'submitted'
    RETURNING s.outbound_id, s.seq, s.status, s.smsc_message_id
),
parked AS (
    INSERT INTO pending_receipts (smsc_message_id)
    SELECT DISTINCT smsc_message_id FROM incoming
    WHERE final AND smsc_message_id NOT IN (SELECT smsc_message_id FROM closed)
),
all_segments AS (
    SELECT outbound_id, status FROM closed
    UNION ALL
    SELECT s.outbound_id, s.status FROM outbound_segments s
    WHERE s.outbound_id IN (SELECT outbound_id FROM closed)
      AND (s.outbound_id, s.seq) NOT IN (SELECT outbound_id, seq FROM closed)
),
rolled AS (
    SELECT outbound_id, count(*) AS n,
           CASE
             WHEN bool_or(status = 'REJECTD') THEN 'rejected'
             WHEN bool_or(status IN ('UNDELIV', 'EXPIRED', 'DELETED', 'UNKNOWN'))
               THEN 'undeliverable'
             WHEN bool_and(status = 'DELIVRD') THEN 'delivered'
           END AS new_status
    FROM all_segments GROUP BY outbound_id
)
UPDATE outbound o SET status = rolled.new_status, final_at = now()
FROM rolled
WHERE o.id = rolled.outbound_id AND rolled.new_status IS NOT NULL
  AND o.status = 'submitted' AND rolled.n = o.segments
RETURNING o.id, o.status
"""

# Apply final receipts to still-open segments, then roll segment states up to
# their messages. Returns the outbound ids whose status changed.
APPLY = """
WITH applied AS (
    UPDATE outbound_segments s
    SET status = r.stat, error_code = r.error_code, final_at = r.received_at
    FROM (
        SELECT DISTINCT ON (smsc_message_id) smsc_message_id, stat, error_code, received_at
        FROM delivery_receipts
        WHERE final AND smsc_message_id = ANY($1::text[])
        ORDER BY smsc_message_id, id
    ) r
    WHERE s.smsc_message_id = r.smsc_message_id AND s.status = 'submitted'
    RETURNING s.outbound_id
)
SELECT DISTINCT outbound_id FROM applied
"""

ROLL_UP = """
UPDATE outbound o
SET status = agg.new_status, final_at = now()
FROM (
    SELECT outbound_id,
           CASE
             WHEN bool_or(status = 'REJECTD') THEN 'rejected'
             WHEN bool_or(status IN ('UNDELIV', 'EXPIRED', 'DELETED', 'UNKNOWN'))
               THEN 'undeliverable'
             WHEN bool_and(status = 'DELIVRD') THEN 'delivered'
           END AS new_status,
           count(*) AS n
    FROM outbound_segments
    WHERE outbound_id = ANY($1::bigint[])
    GROUP BY outbound_id
) agg
WHERE o.id = agg.outbound_id AND agg.new_status IS NOT NULL
  AND o.status = 'submitted' AND agg.n = o.segments
RETURNING o.id, o.status
"""

LIST_PENDING_MATCHED = """
SELECT DISTINCT p.smsc_message_id
FROM pending_receipts p
JOIN outbound_segments s ON s.smsc_message_id = p.smsc_message_id AND s.status = 'submitted'
LIMIT $1
"""

DELETE_PENDING = """
DELETE FROM pending_receipts
WHERE smsc_message_id = ANY($1::text[]) OR received_at < now() - make_interval(secs => $2)
"""


@dataclass(frozen=True, slots=True)
class NewReceipt:
    smsc_message_id: str
    stat: str
    error_code: str
    final: bool


async def insert_batch(conn: asyncpg.Connection, receipts: Sequence[NewReceipt]) -> None:
    if receipts:
        await conn.execute(
            INSERT_BATCH,
            *columns(receipts, "smsc_message_id", "stat", "error_code", "final"),
        )


async def record(
    conn: asyncpg.Connection, receipts: Sequence[NewReceipt]
) -> list[tuple[int, str]]:
    """Store receipts and apply the final ones; return (outbound id, new status) changed."""
    if not receipts:
        return []
    rows = await conn.fetch(
        RECORD,
        *columns(receipts, "smsc_message_id", "stat", "error_code", "final"),
    )
    return [(r["id"], r["status"]) for r in rows]


async def apply(conn: asyncpg.Connection, smsc_message_ids: Sequence[str]) -> list[tuple[int, str]]:
    """Apply stored final receipts for these ids; return (outbound id, new status) changed."""
    if not smsc_message_ids:
        return []
    touched = [r["outbound_id"] for r in await conn.fetch(APPLY, list(smsc_message_ids))]
    if not touched:
        return []
    return [(r["id"], r["status"]) for r in await conn.fetch(ROLL_UP, touched)]


async def list_pending_matched(conn: asyncpg.Connection, limit: int = 1000) -> list[str]:
    """Parked receipts whose segment has been recorded since."""
    return [r["smsc_message_id"] for r in await conn.fetch(LIST_PENDING_MATCHED, limit)]


async def delete_pending(
    conn: asyncpg.Connection, smsc_message_ids: Sequence[str], *, older_than_seconds: float
) -> None:
    await conn.execute(DELETE_PENDING, list(smsc_message_ids), older_than_seconds)
