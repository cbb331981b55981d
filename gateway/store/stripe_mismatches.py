"""Stripe events that disagree with their donation (migration 090): insert and list. SQL only.

The only writer of `stripe_event_mismatches`. One row per event (its id is
unique), so a redelivered event cannot add a second; the event's own row in
`stripe_webhook_events` already makes a redelivery a no-op before this.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

INSERT = """
INSERT INTO stripe_event_mismatches (event_id, event_type, donation_id, problem, expected,
                                     received, amount_cents, currency, event_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (event_id) DO NOTHING
"""

LIST = """
SELECT m.id, m.event_id, m.event_type, m.donation_id, m.problem, m.expected, m.received,
       m.amount_cents, m.currency, m.event_at, d.method, d.amount_cents AS donation_cents,
       d.currency AS donation_currency
FROM stripe_event_mismatches m JOIN donations d ON d.id = m.donation_id
ORDER BY m.id
"""


@dataclass(frozen=True, slots=True)
class MismatchRow:
    id: int
    event_id: str
    event_type: str
    donation_id: int
    problem: str
    expected: str
    received: str
    amount_cents: int | None
    currency: str | None
    event_at: datetime
    method: str
    donation_cents: int
    donation_currency: str


async def insert(conn: asyncpg.Connection, *, event_id: str, event_type: str,
                 donation_id: int, problem: str, expected: str, received: str,
                 amount_cents: int | None, currency: str | None,
                 event_at: datetime) -> None:
    await conn.execute(INSERT, event_id, event_type, donation_id, problem, expected, received,
                       amount_cents, currency, event_at)


async def list_all(conn: asyncpg.Connection) -> list[MismatchRow]:
    """Every mismatch, oldest first, with the donation it names."""
    return [MismatchRow(**dict(r)) for r in await conn.fetch(LIST)]
