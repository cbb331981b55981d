"""The webhook outbox (migration 400): the one writer of `webhook_events`.

Why an outbox written by the transaction that makes the change: a rollback
then emits nothing and a commit never loses an event, with no two-phase
anything. Why one statement per emission and nothing else: the MO path
(pipeline/decide.py) and the receipt path call it, and must not slow down.
Every emit is a single INSERT ... SELECT that keeps only the events some
enabled subscription wants (`WHERE EXISTS`): with nobody listening, the
table stays empty. The delivery task (gateway/hooks/) fans each event out
to one webhook_deliveries row per subscription (store/webhook_deliveries.py)
and marks it here (`take_unfanned`).

`EVENT_TYPES` is the fixed list a subscription chooses from, named once.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import asyncpg

from gateway.store.db import affected

CONTACT_OPTED_IN: Final = "contact.opted_in"
CONTACT_OPTED_OUT: Final = "contact.opted_out"
GIFT_CONFIRMED: Final = "gift.confirmed"
GIFT_PAID: Final = "gift.paid"
GIFT_FAILED: Final = "gift.failed"
GIFT_REFUNDED: Final = "gift.refunded"
QUESTION_ASKED: Final = "question.asked"
QUESTION_ANSWERED: Final = "question.answered"
MESSAGE_DELIVERED: Final = "message.delivered"
MESSAGE_FAILED: Final = "message.failed"
CALL_STARTED: Final = "call.started"
CALL_ENDED: Final = "call.ended"
BROADCAST_COMPLETED: Final = "broadcast.completed"  # with its results (broadcast/results.py)

EVENT_TYPES: Final[tuple[str, ...]] = (
    CONTACT_OPTED_IN, CONTACT_OPTED_OUT, GIFT_CONFIRMED, GIFT_PAID, GIFT_FAILED,
    GIFT_REFUNDED, QUESTION_ASKED, QUESTION_ANSWERED, MESSAGE_DELIVERED, MESSAGE_FAILED,
    CALL_STARTED, CALL_ENDED, BROADCAST_COMPLETED)

# The consent ledger's kinds (store/consent.py) that are an event here.
CONSENT_EVENT: Final[Mapping[str, str]] = {
    "opt_in_confirmed": CONTACT_OPTED_IN, "resubscribed": CONTACT_OPTED_IN,
    "opted_out": CONTACT_OPTED_OUT}
# The donation ledger's kinds (migration 100) that are an event here.
DONATION_EVENT: Final[Mapping[str, str]] = {
    "confirmed": GIFT_CONFIRMED, "billed": GIFT_PAID,
    "charged": GIFT_PAID, "failed": GIFT_FAILED, "refunded": GIFT_REFUNDED}
# An outbound row's final status (store/outbound.py) that is an event here.
MESSAGE_EVENT: Final[Mapping[str, str]] = {
    "delivered": MESSAGE_DELIVERED, "undeliverable": MESSAGE_FAILED,
    "rejected": MESSAGE_FAILED, "failed": MESSAGE_FAILED}

_WANTED = """EXISTS (SELECT 1 FROM webhook_subscriptions s
                     WHERE s.enabled AND s.event_types @> ARRAY[{type}]::text[])"""

EMIT = f"""
INSERT INTO webhook_events (event_type, payload, msisdn, occurred_at)
SELECT k.event_type, k.payload::jsonb, k.msisdn, k.occurred_at
FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[])
     WITH ORDINALITY AS k(event_type, payload, msisdn, occurred_at, n)
WHERE {_WANTED.format(type="k.event_type")}
ORDER BY k.n
"""

# Set-based from rows the same transaction just wrote: the statement reads the
# donation ledger and the outbox itself, so the caller passes ids only.
EMIT_DONATION_EVENTS = f"""
INSERT INTO webhook_events (event_type, payload, msisdn, occurred_at)
SELECT m.event_type,
       jsonb_build_object('gift_id', d.id, 'msisdn', d.msisdn, 'shortcode', d.shortcode,
                          'program', d.program, 'committee', d.committee,
                          'method', d.method, 'amount_cents', d.amount_cents,
                          'currency', d.currency, 'ledger_kind', e.kind,
                          'refunded_cents', CASE WHEN e.kind = 'refunded'
                                                 THEN e.amount_cents END),
       d.msisdn, e.occurred_at
FROM donation_events e
JOIN donations d ON d.id = e.donation_id
JOIN unnest($2::text[], $3::text[]) AS m(kind, event_type) ON m.kind = e.kind
WHERE e.id = ANY($1::bigint[]) AND {_WANTED.format(type="m.event_type")}
ORDER BY e.id
"""

EMIT_MESSAGES = f"""
INSERT INTO webhook_events (event_type, payload, msisdn, occurred_at)
SELECT m.event_type,
       jsonb_build_object('message_id', o.id, 'msisdn', o.msisdn, 'shortcode', o.shortcode,
                          'status', o.status, 'segments', o.segments,
                          'in_reply_to', o.in_reply_to),
       o.msisdn, coalesce(o.final_at, now())
FROM outbound o
JOIN unnest($2::text[], $3::text[]) AS m(status, event_type) ON m.status = o.status
WHERE o.id = ANY($1::bigint[]) AND {_WANTED.format(type="m.event_type")}
ORDER BY o.id
"""

EMIT_QUESTIONS = f"""
INSERT INTO webhook_events (event_type, payload, msisdn, occurred_at)
SELECT $1::text,
       jsonb_build_object('question_id', q.id, 'channel', q.channel, 'msisdn', q.msisdn,
                          'shortcode', q.shortcode, 'program', q.program, 'theme', q.theme,
                          'language', q.language, 'status', q.status,
                          'asked_at', q.asked_at, 'answered_at', q.answered_at,
                          'round', q.round),
       q.msisdn, coalesce($3::timestamptz, q.asked_at)
FROM questions q
WHERE q.id = ANY($2::bigint[]) AND {_WANTED.format(type="$1::text")}
ORDER BY q.id
"""

# The delivery task's side: events not yet fanned out, oldest first, each taken
# by one task (SKIP LOCKED) in the transaction that inserts its deliveries.
TAKE_UNFANNED = """
WITH next AS (
    SELECT id FROM webhook_events WHERE fanned_at IS NULL
    ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED
)
UPDATE webhook_events e SET fanned_at = now()
FROM next WHERE e.id = next.id
RETURNING e.id
"""

GET_EVENT = """
SELECT id, event_type, payload::text AS payload, occurred_at, created_at
FROM webhook_events WHERE id = $1
"""

# Erasure (store/privacy.py ERASE_STEPS): the events about a number go, their
# deliveries with them (ON DELETE CASCADE); the receivers have what they were sent.
DELETE_OF = "DELETE FROM webhook_events WHERE msisdn = $1"

# Retention: delivered or given-up events older than the cut-off go.
PURGE_OLDER_THAN = """
DELETE FROM webhook_events e
WHERE e.created_at < $1 AND e.fanned_at IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d
                  WHERE d.event_id = e.id AND d.status IN ('pending', 'sending'))
"""


# Whether an event is worth building at all (its data is costly: a broadcast's results).
WANTED = f"SELECT {_WANTED.format(type='$1::text')}"


@dataclass(frozen=True, slots=True)
class NewWebhookEvent:
    """One event: its type (EVENT_TYPES), its JSON data, the number it is about."""

    event_type: str
    data: Mapping[str, Any]
    occurred_at: datetime
    msisdn: str | None = None


async def emit(conn: asyncpg.Connection, events: Sequence[NewWebhookEvent]) -> int:
    """Queue `events` in the caller's transaction (one statement); how many were wanted."""
    if not events:
        return 0
    for event in events:
        if event.event_type not in EVENT_TYPES:
            raise ValueError(f"webhook event type {event.event_type!r} is not one of "
                             f"EVENT_TYPES (gateway/store/webhook_events.py)")
    return affected(await conn.execute(
        EMIT, [e.event_type for e in events],
        [json.dumps(dict(e.data), default=str) for e in events],
        [e.msisdn for e in events], [e.occurred_at for e in events]))


async def wanted(conn: asyncpg.Connection, event_type: str) -> bool:
    """True when some enabled subscription wants `event_type`."""
    return bool(await conn.fetchval(WANTED, event_type))


async def emit_donation_events(conn: asyncpg.Connection, event_ids: Sequence[int]) -> int:
    """The gift events among donation_events `event_ids` just recorded (one statement)."""
    if not event_ids:
        return 0
    return affected(await conn.execute(
        EMIT_DONATION_EVENTS, list(event_ids), list(DONATION_EVENT),
        list(DONATION_EVENT.values())))


async def emit_messages(conn: asyncpg.Connection, outbound_ids: Sequence[int]) -> int:
    """message.delivered / message.failed for outbound rows whose status just became final."""
    if not outbound_ids:
        return 0
    return affected(await conn.execute(
        EMIT_MESSAGES, list(outbound_ids), list(MESSAGE_EVENT), list(MESSAGE_EVENT.values())))


async def emit_questions(conn: asyncpg.Connection, event_type: str, question_ids: Sequence[int],
                         *, at: datetime | None = None) -> int:
    """question.asked (at: the asking) or question.answered (`at`: the answer) for these."""
    if not question_ids:
        return 0
    return affected(await conn.execute(EMIT_QUESTIONS, event_type, list(question_ids), at))


async def take_unfanned(conn: asyncpg.Connection, *, limit: int) -> list[int]:
    """Mark up to `limit` waiting events fanned out (inside the fan-out's transaction)."""
    return sorted(r["id"] for r in await conn.fetch(TAKE_UNFANNED, limit))


async def get_event(conn: asyncpg.Connection, event_id: int) -> asyncpg.Record | None:
    return await conn.fetchrow(GET_EVENT, event_id)


async def delete_of(conn: asyncpg.Connection, msisdn: str) -> int:
    return affected(await conn.execute(DELETE_OF, msisdn))


async def purge_older_than(conn: asyncpg.Connection, cutoff: datetime) -> int:
    return affected(await conn.execute(PURGE_OLDER_THAN, cutoff))
