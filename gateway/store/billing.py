"""Reads the billing service, the MO shell and the Stripe webhook need. SQL only.

Kept apart from store/donations.py (the ledger's own writes and claims):
these are the joins across tables (saved cards, billed MTs and their
segments) that the billing side of the gateway reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from gateway.resend_rules import BILLED_UNKNOWN
from gateway.store.donations import DonationRow

EXISTING = "SELECT id FROM donations WHERE id = ANY($1::bigint[])"

STALE_CHARGES = """
SELECT d.id, d.msisdn, d.shortcode, d.program, d.committee, d.method, d.amount_cents,
       d.currency, d.requested_at, d.expires_at, d.confirmed_at, d.status, d.last_event_at
FROM donations d
WHERE d.status = 'charge_requested' AND d.last_event_at < $1
ORDER BY d.id LIMIT $2
"""

# Card requests from numbers without a saved card: the Checkout page is their
# confirmation, so they wait in `requested` until the billing service sends the link.
CHECKOUT_DUE = """
SELECT d.id, d.msisdn, d.shortcode, d.program, d.committee, d.method, d.amount_cents,
       d.currency, d.requested_at, d.expires_at, d.confirmed_at, d.status, d.last_event_at
FROM donations d
WHERE d.status = 'requested' AND d.method = 'card' AND d.expires_at > $1
  AND EXISTS (SELECT 1 FROM donation_events e WHERE e.donation_id = d.id
              AND e.kind = 'requested' AND e.data->>'flow' = 'checkout')
ORDER BY d.id LIMIT $2
FOR UPDATE OF d SKIP LOCKED
"""

# Billed MTs whose message is final, with the worst segment (a failed part means
# the charge failed). A send cut off (`billed_unknown`) is left for finance.
BILLED_DUE = f"""
SELECT d.id AS donation_id, d.amount_cents, d.currency, o.id AS outbound_id,
       o.status AS outbound_status, o.last_error, o.final_at,
       s.status AS stat, s.error_code, s.smsc_message_id
FROM donations d
JOIN outbound o ON o.donation_id = d.id
LEFT JOIN LATERAL (
    SELECT g.status, g.error_code, g.smsc_message_id FROM outbound_segments g
    WHERE g.outbound_id = o.id
    ORDER BY (g.status = 'DELIVRD'), g.seq LIMIT 1
) s ON true
WHERE d.status = 'billing_submitted'
  AND o.status IN ('delivered', 'undeliverable', 'rejected', 'failed')
  AND NOT (o.status = 'failed' AND coalesce(o.last_error, '') LIKE '{BILLED_UNKNOWN}%')
ORDER BY d.id LIMIT $1
FOR UPDATE OF d SKIP LOCKED
"""

LOCK_DONATION = """
SELECT d.status, d.amount_cents, d.currency, d.method,
       coalesce((SELECT sum(e.amount_cents) FROM donation_events e
                 WHERE e.donation_id = d.id AND e.kind = 'refunded'), 0) AS refunded_cents
FROM donations d WHERE d.id = $1 FOR UPDATE
"""

BY_PAYMENT_INTENT = """
SELECT donation_id FROM donation_events
WHERE external_ref = $1 AND kind IN ('charged', 'requires_action', 'failed')
ORDER BY id LIMIT 1
"""


@dataclass(frozen=True, slots=True)
class FinalBilledMt:
    donation_id: int
    amount_cents: int
    currency: str
    outbound_id: int
    outbound_status: str  # delivered | undeliverable | rejected | failed
    last_error: str | None
    final_at: datetime | None
    stat: str | None  # the worst segment's receipt stat; None if refused at submit
    error_code: str | None
    smsc_message_id: str | None


@dataclass(frozen=True, slots=True)
class LockedDonation:
    status: str
    amount_cents: int
    currency: str
    method: str
    refunded_cents: int


async def existing_donations(conn: asyncpg.Connection, ids: Sequence[int]) -> set[int]:
    if not ids:
        return set()
    return {r["id"] for r in await conn.fetch(EXISTING, list(ids))}


async def stale_charges(conn: asyncpg.Connection, *, before: datetime, limit: int
                        ) -> list[DonationRow]:
    """Card donations whose charge was requested before `before` and never settled."""
    return [DonationRow(**dict(r)) for r in await conn.fetch(STALE_CHARGES, before, limit)]


async def checkout_due(conn: asyncpg.Connection, *, now: datetime, limit: int
                       ) -> list[DonationRow]:
    """Card requests waiting for their Checkout link; locked until the transaction ends."""
    return [DonationRow(**dict(r)) for r in await conn.fetch(CHECKOUT_DUE, now, limit)]


async def final_billed_mts(conn: asyncpg.Connection, *, limit: int) -> list[FinalBilledMt]:
    """Locks the donations (SKIP LOCKED) until the caller's transaction ends."""
    return [FinalBilledMt(**dict(r)) for r in await conn.fetch(BILLED_DUE, limit)]


async def lock_donation(conn: asyncpg.Connection, donation_id: int) -> LockedDonation | None:
    row = await conn.fetchrow(LOCK_DONATION, donation_id)
    return None if row is None else LockedDonation(**dict(row))


async def donation_of_payment_intent(conn: asyncpg.Connection, payment_intent_id: str
                                     ) -> int | None:
    found: int | None = await conn.fetchval(BY_PAYMENT_INTENT, payment_intent_id)
    return found
