"""Unsure sends and the parked receipts that may settle them (migration 015).

An unsure row is queued with `unsure_since` set and `not_before` at the end
of its hold. The resolver reads a batch of them with the parked receipts of
their numbers, decides in pure code (pipeline/unsure_match.py) which are
proven taken, and settles those here: the row becomes 'submitted' with the
receipts' ids as its segments, so the receipts apply to it as if its
submit_sm_resp had been read. The row is settled only while still queued
and unsure, so a claim that took it meanwhile (its hold ended) wins and the
settlement is a no-op for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import asyncpg

from gateway.store.receipts import apply as apply_receipts

# Only rows some parked receipt could be about (receipts hold numbers in SMPP form).
# A billed MT cut off mid-send is failed at once (never resent), but its receipt
# still settles it, and the donation with it, for as long as receipts are kept.
UNSURE = """
o.unsure_since IS NOT NULL
AND (o.status = 'queued'
     OR (o.status = 'failed' AND o.donation_id IS NOT NULL
         AND o.unsure_since > now() - interval '2 days'))
"""
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

SETTLE = """
WITH settled AS (
    UPDATE outbound o
    SET status = 'submitted', segments = k.segments, submitted_at = now(), final_at = NULL,
        lease_owner = NULL, lease_until = NULL, unsure_since = NULL,
        last_error = 'settled by a receipt: the SMSC had taken the cut-off send'
    FROM unnest($1::bigint[], $2::int2[]) AS k(id, segments)
    WHERE o.id = k.id AND """ + UNSURE + """
    RETURNING o.id
)
INSERT INTO outbound_segments (outbound_id, seq, smsc_message_id)
SELECT s.id, s.seq, s.smsc_message_id
FROM unnest($3::bigint[], $4::int2[], $5::text[]) AS s(id, seq, smsc_message_id)
WHERE s.id IN (SELECT id FROM settled)
ON CONFLICT (outbound_id, seq) DO UPDATE
    SET smsc_message_id = EXCLUDED.smsc_message_id, status = 'submitted', final_at = NULL
RETURNING outbound_id, smsc_message_id
"""

DELETE_PARKED = "DELETE FROM pending_receipts WHERE smsc_message_id = ANY($1::text[])"


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


async def settle(
    conn: asyncpg.Connection, settled: Sequence[tuple[int, Sequence[str]]]
) -> set[int]:
    """Settle (outbound id, part ids) rows still unsure and apply their receipts.

    One transaction. Returns the ids settled (a row claimed meanwhile is not).
    """
    if not settled:
        return set()
    ids, seqs, message_ids = [], [], []
    for outbound_id, parts in settled:
        for seq, message_id in enumerate(parts, start=1):
            ids.append(outbound_id)
            seqs.append(seq)
            message_ids.append(message_id)
    async with conn.transaction():
        rows = await conn.fetch(
            SETTLE, [s[0] for s in settled], [len(s[1]) for s in settled], ids, seqs, message_ids
        )
        applied = [r["smsc_message_id"] for r in rows]
        await apply_receipts(conn, applied)
        await conn.execute(DELETE_PARKED, applied)
    return {r["outbound_id"] for r in rows}
