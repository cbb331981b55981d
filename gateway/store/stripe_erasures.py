"""Stripe customers waiting to be deleted at Stripe after an erasure (migration 018).

Queued inside the erasure's transaction (store/privacy.py), worked off by
privacy/stripe_erasure.py; a failed attempt is retried later, never dropped.
"""

from __future__ import annotations

import asyncpg

from gateway.store.db import affected

DUE = """
SELECT customer_id FROM stripe_erasures
WHERE done_at IS NULL AND next_try_at <= now()
ORDER BY next_try_at LIMIT $1
"""

DONE = "UPDATE stripe_erasures SET done_at = now(), attempts = attempts + 1 WHERE customer_id = $1"

# Back off by attempt: 1, 2, 4 ... minutes, at most a day.
FAILED = """
UPDATE stripe_erasures
SET attempts = attempts + 1, last_error = $2,
    next_try_at = now() + least(interval '1 day', interval '1 minute' * power(2, attempts))
WHERE customer_id = $1
"""

PENDING = "SELECT count(*) FROM stripe_erasures WHERE done_at IS NULL"


async def due(conn: asyncpg.Connection, limit: int) -> list[str]:
    return [r["customer_id"] for r in await conn.fetch(DUE, limit)]


async def mark_done(conn: asyncpg.Connection, customer_id: str) -> None:
    await conn.execute(DONE, customer_id)


async def mark_failed(conn: asyncpg.Connection, customer_id: str, error: str) -> None:
    await conn.execute(FAILED, customer_id, error)


async def pending(conn: asyncpg.Connection) -> int:
    count: int = await conn.fetchval(PENDING)
    return count


# -- erasure (store/privacy.py runs these in its one transaction) ------------------------

# the number's Stripe customers, deleted at Stripe afterwards (privacy/stripe_erasure.py)
QUEUE_CUSTOMERS_OF = """
INSERT INTO stripe_erasures (customer_id)
SELECT DISTINCT customer_id FROM saved_cards WHERE msisdn = $1
ON CONFLICT (customer_id) DO NOTHING
"""


async def queue_customers_of(conn: asyncpg.Connection, msisdn: str) -> int:
    """Before the number's saved cards go: their customers, to be deleted at Stripe."""
    return affected(await conn.execute(QUEUE_CUSTOMERS_OF, msisdn))
