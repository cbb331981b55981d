"""Delivery receipts: what the pipeline hands the store, and the parked ones it can apply.

Receipts are written with the segments and messages they settle, in
store/outbound.py (`record_receipts`: the receipt hot path is one statement
over all four tables, and outbound.py is their one writer). Here: the row
a receipt becomes, and the read that finds parked receipts whose segment has
been recorded since (the sweep in pipeline/receipts.py applies them).
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

LIST_PENDING_MATCHED = """
SELECT DISTINCT p.smsc_message_id
FROM pending_receipts p
JOIN outbound_segments s ON s.smsc_message_id = p.smsc_message_id AND s.status = 'submitted'
LIMIT $1
"""


@dataclass(frozen=True, slots=True)
class NewReceipt:
    smsc_message_id: str
    stat: str
    error_code: str
    final: bool
    number: str | None = None  # where the MT went, in SMPP form (kept only if parked)
    text_head: str | None = None  # the receipt's "text:", at most 20 characters


async def list_pending_matched(conn: asyncpg.Connection, limit: int = 1000) -> list[str]:
    """Parked receipts whose segment has been recorded since."""
    return [r["smsc_message_id"] for r in await conn.fetch(LIST_PENDING_MATCHED, limit)]
