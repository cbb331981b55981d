"""Webhook deliveries (migration 400): the one writer of `webhook_deliveries`.

The leasing pattern of the SMS and e-mail outboxes (store/outbound.py,
store/mail_outbox.py): a claim takes due rows with FOR UPDATE SKIP LOCKED,
sets a lease owner and expiry and increments `attempts`, and commits before
any HTTP starts, so two gateways never hold one row at once. Every write
about an attempt is fenced by (id, lease_owner, attempts): a worker whose
lease ran out and was taken over writes nothing. Only `mark_delivered` is
not fenced: the receiver's 2xx is the truth, whoever holds the row now.

Time: every statement takes the worker's clock as `$1` and uses the later of
it and the database's `now()`, as the mail sender does: a test's clock moved
forward makes a backed-off row due without a sleep.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from gateway.store.db import affected
from gateway.store.lease_fence import Attempt as Attempt

EFFECTIVE_NOW = "greatest(now(), $1::timestamptz)"
RESPONSE_CHARS = 500  # of a receiver's answer kept for the log

# One row per (subscription, event) for the subscriptions enabled now that want
# the event and existed when it was emitted. The events are those the caller
# just took (store/webhook_events.py `take_unfanned`), in the same transaction.
FAN_OUT = """
INSERT INTO webhook_deliveries (subscription_id, event_id, not_before)
SELECT s.id, e.id, now()
FROM webhook_events e
JOIN webhook_subscriptions s
  ON s.enabled AND s.event_types @> ARRAY[e.event_type] AND s.created_at <= e.created_at
WHERE e.id = ANY($1::bigint[])
ORDER BY e.id, s.id
ON CONFLICT (subscription_id, event_id) DO NOTHING
"""

CLAIM = f"""
WITH due AS (
    SELECT d.id FROM webhook_deliveries d
    JOIN webhook_subscriptions s ON s.id = d.subscription_id
    WHERE d.status = 'pending' AND d.not_before <= {EFFECTIVE_NOW} AND s.enabled
    ORDER BY d.not_before, d.id
    LIMIT $2
    FOR UPDATE OF d SKIP LOCKED
)
UPDATE webhook_deliveries d
SET status = 'sending', lease_owner = $3,
    lease_until = {EFFECTIVE_NOW} + make_interval(secs => $4),
    attempts = d.attempts + 1, last_attempt_at = {EFFECTIVE_NOW}
FROM due, webhook_events e, webhook_subscriptions s
WHERE d.id = due.id AND e.id = d.event_id AND s.id = d.subscription_id
RETURNING d.id, d.attempts, d.subscription_id, d.event_id, e.event_type,
          e.payload::text AS payload, e.occurred_at, s.url, s.secret,
          CASE WHEN s.previous_secret_until > {EFFECTIVE_NOW} THEN s.previous_secret
          END AS previous_secret
"""

MARK_DELIVERED = f"""
UPDATE webhook_deliveries
SET status = 'delivered', delivered_at = {EFFECTIVE_NOW}, last_status_code = $3,
    last_response = left($4, {RESPONSE_CHARS}), last_error = NULL, last_latency_ms = $5,
    lease_owner = NULL, lease_until = NULL
WHERE id = $2 AND status IN ('pending', 'sending')
"""

# Back to pending after a failed attempt, due `$5` seconds from now.
REQUEUE = f"""
UPDATE webhook_deliveries
SET status = 'pending', not_before = {EFFECTIVE_NOW} + make_interval(secs => $5),
    last_status_code = $6, last_response = left($7, {RESPONSE_CHARS}), last_error = $8,
    last_latency_ms = $9, lease_owner = NULL, lease_until = NULL
WHERE id = $2 AND status = 'sending' AND lease_owner = $3 AND attempts = $4
"""

MARK_FAILED = f"""
UPDATE webhook_deliveries
SET status = 'failed', last_status_code = $4, last_response = left($5, {RESPONSE_CHARS}),
    last_error = $6, last_latency_ms = $7, lease_owner = NULL, lease_until = NULL
WHERE id = $1 AND status = 'sending' AND lease_owner = $2 AND attempts = $3
"""

# Rows left 'sending' by a worker that stopped: at start-up its own and every
# expired lease; while running, others' expired leases only. The POST may have
# reached the receiver: it is sent again (at-least-once; the event id lets a
# receiver drop the repeat). At the attempt limit the row fails instead.
_RELEASE = f"""
WITH stranded AS (
    SELECT id, attempts >= $3 AS spent FROM webhook_deliveries
    WHERE status = 'sending' AND (%s)
    FOR UPDATE SKIP LOCKED
)
UPDATE webhook_deliveries d
SET status = CASE WHEN s.spent THEN 'failed' ELSE 'pending' END,
    last_error = 'its worker stopped before the answer was recorded'
                 || CASE WHEN s.spent THEN ' (no attempt left)' ELSE '' END,
    not_before = {EFFECTIVE_NOW}, lease_owner = NULL, lease_until = NULL
FROM stranded s
WHERE d.id = s.id
RETURNING d.id
"""
RELEASE_AT_START = _RELEASE % f"lease_owner = $2 OR lease_until < {EFFECTIVE_NOW}"
RELEASE_OTHERS_EXPIRED = _RELEASE % (
    f"lease_owner IS DISTINCT FROM $2 AND lease_until < {EFFECTIVE_NOW}")

# A person asked for it again: a fresh set of attempts, due now.
REPLAY = f"""
UPDATE webhook_deliveries
SET status = 'pending', attempts = 0, not_before = {EFFECTIVE_NOW}, replays = replays + 1,
    delivered_at = NULL, lease_owner = NULL, lease_until = NULL
WHERE id = $2 AND subscription_id = $3 AND status IN ('delivered', 'failed', 'pending')
RETURNING id
"""

LOG = """
SELECT d.id, d.event_id, e.event_type, e.occurred_at, d.created_at, d.status, d.attempts,
       d.not_before, d.last_attempt_at, d.last_status_code, d.last_response, d.last_error,
       d.delivered_at, d.replays, d.last_latency_ms
FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id
WHERE d.subscription_id = $1 AND ($2::text IS NULL OR d.status = $2)
ORDER BY d.id DESC
LIMIT $3
"""

COUNT_PENDING = "SELECT count(*) FROM webhook_deliveries WHERE status IN ('pending', 'sending')"


@dataclass(frozen=True, slots=True)
class ClaimedDelivery:
    """A delivery leased to one worker for one attempt (`attempts` is that attempt's number)."""

    id: int
    attempts: int
    subscription_id: int
    event_id: int
    event_type: str
    payload: str  # the event's data, JSON
    occurred_at: datetime
    url: str
    secret: str
    previous_secret: str | None = None  # still signing after a rotation


async def fan_out(conn: asyncpg.Connection, event_ids: list[int]) -> int:
    if not event_ids:
        return 0
    return affected(await conn.execute(FAN_OUT, event_ids))


async def claim(conn: asyncpg.Connection, *, now: datetime, limit: int, owner: str,
                lease_seconds: float) -> list[ClaimedDelivery]:
    rows = await conn.fetch(CLAIM, now, limit, owner, lease_seconds)
    claimed = [ClaimedDelivery(
        id=r["id"], attempts=r["attempts"], subscription_id=r["subscription_id"],
        event_id=r["event_id"], event_type=r["event_type"], payload=r["payload"],
        occurred_at=r["occurred_at"], url=r["url"], secret=r["secret"],
        previous_secret=r["previous_secret"]) for r in rows]
    claimed.sort(key=lambda d: d.id)  # UPDATE ... RETURNING keeps no order
    return claimed


async def mark_delivered(conn: asyncpg.Connection, delivery_id: int, *, now: datetime,
                         status_code: int, response: str, latency_ms: int | None = None) -> bool:
    return affected(await conn.execute(
        MARK_DELIVERED, now, delivery_id, status_code, response, latency_ms)) == 1


async def requeue(conn: asyncpg.Connection, attempt: Attempt, *, now: datetime, delay: float,
                  status_code: int | None, response: str | None, error: str,
                  latency_ms: int | None = None) -> bool:
    return affected(await conn.execute(
        REQUEUE, now, attempt.id, attempt.owner, attempt.attempts, delay, status_code,
        response, error, latency_ms)) == 1


async def mark_failed(conn: asyncpg.Connection, attempt: Attempt, *,
                      status_code: int | None, response: str | None, error: str,
                      latency_ms: int | None = None) -> bool:
    return affected(await conn.execute(
        MARK_FAILED, attempt.id, attempt.owner, attempt.attempts, status_code, response,
        error, latency_ms)) == 1


async def release_leases(conn: asyncpg.Connection, owner: str, *, now: datetime,
                         max_attempts: int, others_expired_only: bool = False) -> int:
    sql = RELEASE_OTHERS_EXPIRED if others_expired_only else RELEASE_AT_START
    return len(await conn.fetch(sql, now, owner, max_attempts))


async def replay(conn: asyncpg.Connection, subscription_id: int, delivery_id: int, *,
                 now: datetime) -> bool:
    """Due again now with a fresh set of attempts; False: no such delivery, or in flight."""
    return await conn.fetchval(REPLAY, now, delivery_id, subscription_id) is not None


async def log_of(conn: asyncpg.Connection, subscription_id: int, *, status: str | None,
                 limit: int) -> list[asyncpg.Record]:
    return list(await conn.fetch(LOG, subscription_id, status, limit))


async def count_pending(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval(COUNT_PENDING))
