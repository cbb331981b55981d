"""What an MO lane batch reads before deciding, in one statement: one round trip.

Why one statement: the engine needs, per (number, short code) of the batch,
the contact's state, the saved card's last four digits (GIVE offers the
express flow) and whether a donation waits for the donor's details; the
lane needs the unread acknowledgements its MOs may repeat (pipeline/redelivery.py).
Read as four statements, that was four round trips per batch for what is,
almost always, a contact row and three empty index probes (docs/performance.md).
The donations held for details are then read in full only for the keys that
have one (store/donations.py `held_for_details`), which is rare.

Read-only: each table keeps its one writer (tests/test_table_owners.py).
The plan (one index probe per key and table, never a scan) is pinned by
tests/test_lane_statement.py under a generic plan.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg

from gateway import jsontext
from gateway.store.inbound import Unacked

# $3: read saved cards; $4: look for details holds (the rules take cards, donations).
# Joins, not a subquery per key: whatever plan the cache holds, a table is read
# once per batch (an index probe per number, or at worst one scan), never once per key.
# Then, in the same round trip, the unread acknowledgements the batch's MOs may
# repeat ($5 digests, received since $6: pipeline/redelivery.py), as rows of their own.
READ_BATCH = """
SELECT k.msisdn, k.shortcode, c.opted_out, c.state::text AS state, s.last4,
       h.msisdn IS NOT NULL AS held,
       NULL::bigint AS unacked_id, NULL::bytea AS digest, NULL::timestamptz AS received_at,
       NULL::bigint AS inbound_id
FROM unnest($1::text[], $2::text[]) AS k(msisdn, shortcode)
LEFT JOIN contacts c ON c.msisdn = k.msisdn AND c.shortcode = k.shortcode
LEFT JOIN (
    SELECT DISTINCT ON (msisdn) msisdn, last4 FROM saved_cards
    WHERE $3::bool AND msisdn = ANY($1::text[])
    ORDER BY msisdn, created_at DESC, payment_method_id DESC
) s ON s.msisdn = k.msisdn
LEFT JOIN (
    SELECT DISTINCT msisdn, shortcode FROM donations
    WHERE $4::bool AND status = 'awaiting_details' AND msisdn = ANY($1::text[])
) h ON h.msisdn = k.msisdn AND h.shortcode = k.shortcode
UNION ALL
SELECT NULL, NULL, NULL, NULL, NULL, NULL, u.id, u.digest, u.received_at, u.inbound_id
FROM inbound_unacked u
WHERE u.digest = ANY($5::bytea[]) AND u.received_at >= $6
"""

Key = tuple[str, str]


@dataclass(frozen=True, slots=True)
class BatchRead:
    """Per key: the stored state (absent: a new contact), the saved card, a details hold."""

    states: dict[Key, tuple[bool, dict[str, Any]]] = field(default_factory=dict)
    cards: dict[str, str] = field(default_factory=dict)  # msisdn -> last4
    held: list[Key] = field(default_factory=list)  # keys with a donation held for details
    unacked: list[Unacked] = field(default_factory=list)  # in id order


async def read_batch(conn: asyncpg.Connection, keys: Sequence[Key], *, cards: bool,
                     holds: bool, digests: Sequence[bytes] = (),
                     since: datetime | None = None) -> BatchRead:
    """The contacts' states, (when asked) their saved cards and details holds, and the
    unread acknowledgements of these digests received since `since`."""
    found = BatchRead()
    if not keys and not digests:
        return found
    rows = await conn.fetch(READ_BATCH, [k[0] for k in keys], [k[1] for k in keys],
                            cards, holds, sorted(set(digests)), since)
    for r in rows:
        if r["unacked_id"] is not None:
            found.unacked.append(
                Unacked(r["unacked_id"], r["digest"], r["received_at"], r["inbound_id"]))
            continue
        key = (r["msisdn"], r["shortcode"])
        if r["state"] is not None:
            found.states[key] = (r["opted_out"], jsontext.loads(r["state"]))
        if r["last4"] is not None:
            found.cards[r["msisdn"]] = r["last4"]
        if r["held"]:
            found.held.append(key)
    found.unacked.sort(key=lambda u: u.id)
    return found
