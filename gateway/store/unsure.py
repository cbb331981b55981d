"""Unsure sends and the parked receipts that may settle them (migration 015): the reads.

An unsure row is queued with `unsure_since` set and `not_before` at the end
of its hold. The resolver reads a batch of them with the parked receipts of
their numbers, decides in pure code (pipeline/unsure_match.py) which are
proven taken, and settles those with store/outbound.py `settle_unsure` (the
one writer of the outbox): the row becomes 'submitted' with the receipts'
ids as its segments, so the receipts apply to it as if its submit_sm_resp
had been read.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import asyncpg

from gateway.store.outbound import UNSURE

# Only rows some parked receipt could be about (receipts hold numbers in SMPP form).
LIST_UNSURE = """
SELECT o.id, o.msisdn, o.body, o.unsure_since
FROM outbound o
WHERE """ + UNSURE + """
  AND EXISTS (SELECT 1 FROM pending_receipts p
              WHERE p.number = ltrim(o.msisdn, '+') AND p.received_at >= o.unsure_since)
ORDER BY o.id
LIMIT $1
"""

# Receipts whose id is recorded on some segment are someone's receipt already.
LIST_PARKED = """
SELECT p.smsc_message_id, p.number, p.text_head, p.received_at
FROM pending_receipts p
WHERE p.number = ANY($1::text[])
  AND NOT EXISTS (SELECT 1 FROM outbound_segments s
                  WHERE s.smsc_message_id = p.smsc_message_id)
"""


async def list_unsure(conn: asyncpg.Connection, limit: int) -> list[tuple[int, str, str, datetime]]:
    """(id, msisdn, body, unsure_since) of unsure rows with a parked receipt, oldest first."""
    rows = await conn.fetch(LIST_UNSURE, limit)
    return [(r["id"], r["msisdn"], r["body"], r["unsure_since"]) for r in rows]


async def list_parked(
    conn: asyncpg.Connection, numbers: Sequence[str]
) -> list[tuple[str, str, str | None, datetime]]:
    """(message id, number, text head, received at) of unclaimed parked receipts to `numbers`."""
    if not numbers:
        return []
    rows = await conn.fetch(LIST_PARKED, list(numbers))
    return [(r["smsc_message_id"], r["number"], r["text_head"], r["received_at"]) for r in rows]
