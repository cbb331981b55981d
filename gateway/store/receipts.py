"""Delivery receipts: stored as received, then applied to the segments they name.

A receipt may arrive before the submit_sm_resp that tells us its message id
(the SMSC's two paths race). So receipts are always stored first, and
applied from both sides: when a receipt arrives (segment known) and when a
segment's id is recorded (receipt already there). A periodic sweep closes the
gap when both transactions commit concurrently and neither sees the other.
Only final receipts change a segment; intermediate ones are kept for history.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

INSERT_BATCH = """
INSERT INTO delivery_receipts (smsc_message_id, stat, error_code, final)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bool[])
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

OPEN_IDS_WITH_RECEIPTS = """
SELECT DISTINCT s.smsc_message_id
FROM outbound_segments s JOIN delivery_receipts r ON r.smsc_message_id = s.smsc_message_id
WHERE s.status = 'submitted' AND r.final
LIMIT $1
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
            [r.smsc_message_id for r in receipts],
            [r.stat for r in receipts],
            [r.error_code for r in receipts],
            [r.final for r in receipts],
        )


async def apply(conn: asyncpg.Connection, smsc_message_ids: Sequence[str]) -> list[tuple[int, str]]:
    """Apply stored final receipts for these ids; return (outbound id, new status) changed."""
    if not smsc_message_ids:
        return []
    touched = [r["outbound_id"] for r in await conn.fetch(APPLY, list(smsc_message_ids))]
    if not touched:
        return []
    return [(r["id"], r["status"]) for r in await conn.fetch(ROLL_UP, touched)]


async def list_unapplied(conn: asyncpg.Connection, limit: int = 1000) -> list[str]:
    return [r["smsc_message_id"] for r in await conn.fetch(OPEN_IDS_WITH_RECEIPTS, limit)]
