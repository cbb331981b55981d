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

Why `WantedTypes`: with nobody subscribed to a type, even the INSERT that
inserts nothing is a round trip on the MO path. A gateway keeps the set of
types some enabled subscription wants; its pool's connections carry it
(store/db.py `GatewayConnection`), and an emit whose types are all outside
it issues no statement. The set is only trusted while `fresh`: every change
to webhook_subscriptions NOTIFYs (migration 460's triggers), the listener
(gateway/hooks/wanted.py) marks the set stale the moment the notice arrives
and re-reads it; while stale, lost or never read, every emit runs its
statement and the database decides, as without a cache. The guarantee:
once a gateway has received the notice of a subscription's commit, every
emit on it that wants the new type is written. An emit that ran on a
gateway between the commit and the notice's arrival there (the notice's
latency, normally well under a millisecond on one network) may be skipped;
the creating gateway marks its own set stale right after the commit, so its
own emits never are. A connection without the set (a CLI's, a test's pool)
always runs the statement.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import asyncpg

from gateway.plain_words import N_, Words
from gateway.store.db import affected

CONTACT_OPTED_IN: Final = "contact.opted_in"
CONTACT_OPTED_OUT: Final = "contact.opted_out"
PROFILE_ANSWERED: Final = "profile.answered"
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
EXPORT_COMPLETED: Final = "export.completed"  # an API export job's file is ready
BROADCAST_COMPLETED: Final = "broadcast.completed"  # with its results (broadcast/results.py)
# the same results once the 24 h that credit replies, opt-outs and gifts have passed
BROADCAST_RESULTS_FINAL: Final = "broadcast.results_final"

EVENT_TYPES: Final[tuple[str, ...]] = (
    CONTACT_OPTED_IN, CONTACT_OPTED_OUT, PROFILE_ANSWERED, GIFT_CONFIRMED, GIFT_PAID, GIFT_FAILED,
    GIFT_REFUNDED, QUESTION_ASKED, QUESTION_ANSWERED, MESSAGE_DELIVERED, MESSAGE_FAILED,
    CALL_STARTED, CALL_ENDED, EXPORT_COMPLETED, BROADCAST_COMPLETED, BROADCAST_RESULTS_FINAL)

# What each type is, for people (the admin page's checkboxes and log).
EVENT_TYPE_WORDS: Final[Words] = {
    CONTACT_OPTED_IN: N_("A number joined a program"),
    CONTACT_OPTED_OUT: N_("A number opted out"),
    PROFILE_ANSWERED: N_("A supporter answered a profile question"),
    GIFT_CONFIRMED: N_("A gift was confirmed"),
    GIFT_PAID: N_("A gift was paid"),
    GIFT_FAILED: N_("A gift's payment failed"),
    GIFT_REFUNDED: N_("A gift was refunded"),
    QUESTION_ASKED: N_("A question reached the contact centre"),
    QUESTION_ANSWERED: N_("An expert answered a question"),
    MESSAGE_DELIVERED: N_("A text was delivered"),
    MESSAGE_FAILED: N_("A text was not delivered"),
    CALL_STARTED: N_("A call reached the voice line"),
    CALL_ENDED: N_("A call ended"),
    EXPORT_COMPLETED: N_("An export's file is ready"),
    BROADCAST_COMPLETED: N_("A broadcast finished, with its results"),
    BROADCAST_RESULTS_FINAL: N_("A broadcast's final results, a day after it finished"),
}

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
# The events and their gifts are read by key through the function gift_events_by_ids
# (migration 572): its SET clauses keep its cached plan a probe per event however the
# tables grow after it was made (docs/performance.md).
EMIT_DONATION_EVENTS = f"""
INSERT INTO webhook_events (event_type, payload, msisdn, occurred_at)
SELECT m.event_type,
       jsonb_build_object('gift_id', g.gift_id, 'msisdn', g.msisdn, 'shortcode', g.shortcode,
                          'program', g.program, 'committee', g.committee,
                          'method', g.method, 'amount_cents', g.amount_cents,
                          'currency', g.currency, 'ledger_kind', g.kind,
                          'refunded_cents', g.refunded_cents),
       g.msisdn, g.occurred_at
FROM gift_events_by_ids($1::bigint[]) g
JOIN unnest($2::text[], $3::text[]) AS m(kind, event_type) ON m.kind = g.kind
WHERE {_WANTED.format(type="m.event_type")}
ORDER BY g.event_id
"""

EMIT_MESSAGES = f"""
INSERT INTO webhook_events (event_type, payload, msisdn, occurred_at)
SELECT m.event_type,
       jsonb_build_object('message_id', o.id, 'msisdn', o.msisdn, 'shortcode', o.shortcode,
                          'status', o.status, 'segments', o.segments,
                          'in_reply_to', o.in_reply_to, 'broadcast_id', o.broadcast_id,
                          'api_message_ids', (SELECT coalesce(jsonb_agg(m.id ORDER BY m.id),
                                                              '[]'::jsonb)
                                              FROM api_messages m
                                              WHERE m.broadcast_id = o.broadcast_id
                                                AND m.msisdn = o.msisdn)),
       o.msisdn, coalesce(o.final_at, now())
FROM outbound_by_ids($1::bigint[]) o
JOIN unnest($2::text[], $3::text[]) AS m(status, event_type) ON m.status = o.status
WHERE {_WANTED.format(type="m.event_type")}
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

# Consent an import recorded (store/consent.py `insert_imported`), set-based from the ledger
# rows the same transaction just wrote: the SMS path's fields, `source` 'import', and the
# provenance the file gave (the import and its row, where and in what words the consent was
# collected; `occurred_at` is the consent's date). One statement for a whole chunk.
EMIT_IMPORTED_CONSENT = f"""
INSERT INTO webhook_events (event_type, payload, msisdn, occurred_at)
SELECT m.event_type,
       jsonb_build_object('msisdn', e.msisdn, 'shortcode', e.shortcode, 'program', e.program,
                          'keyword', e.keyword, 'ledger_kind', e.kind, 'source', e.source,
                          'occurred_at', to_char(e.occurred_at AT TIME ZONE 'UTC',
                                                 'YYYY-MM-DD"T"HH24:MI:SS"+00:00"'),
                          'import_id', e.import_id,
                          'import_row', e.import_row, 'consent_source', e.consent_source,
                          'consent_wording', e.consent_wording),
       e.msisdn, e.occurred_at
FROM consent_events e
JOIN unnest($2::text[], $3::text[]) AS m(kind, event_type) ON m.kind = e.kind
WHERE e.id = ANY($1::bigint[]) AND {_WANTED.format(type="m.event_type")}
ORDER BY e.id
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


SUBSCRIPTIONS_CHANNEL: Final = "gateway_webhook_subscriptions"  # migration 460's triggers

WANTED_TYPES = """
SELECT DISTINCT unnest(event_types) AS event_type FROM webhook_subscriptions WHERE enabled
"""


class WantedTypes:
    """The event types some enabled subscription wants, as this gateway last read them."""

    def __init__(self) -> None:
        self._types: frozenset[str] = frozenset()
        self._fresh = False
        self._generation = 0  # bumped by every notice: a read begun before it is not trusted

    @property
    def fresh(self) -> bool:
        return self._fresh

    @property
    def types(self) -> frozenset[str]:
        return self._types

    @property
    def generation(self) -> int:
        """How many notices (or losses) so far."""
        return self._generation

    def mark_stale(self) -> None:
        """Something changed (or the notices may be missed): trust the database until read."""
        self._fresh = False
        self._generation += 1

    def may_skip(self, event_types: Iterable[str]) -> bool:
        """True only when the set is fresh and none of `event_types` is in it."""
        return self._fresh and self._types.isdisjoint(event_types)

    async def read(self, conn: asyncpg.Connection) -> bool:
        """Read the set; fresh unless a notice came during the read (then False: read again)."""
        generation = self._generation
        types = frozenset(r["event_type"] for r in await conn.fetch(WANTED_TYPES))
        if generation != self._generation:
            return False
        self._types, self._fresh = types, True
        return True

    async def attach(self, conn: asyncpg.Connection) -> None:
        """The pool's `init`: each new connection carries this set (store/db.py)."""
        conn.webhook_types = self


def _skips(conn: asyncpg.Connection, event_types: Iterable[str]) -> bool:
    wanted = getattr(conn, "webhook_types", None)
    return isinstance(wanted, WantedTypes) and wanted.may_skip(event_types)


def subscriptions_changed(conn: asyncpg.Connection) -> None:
    """After a commit that changed subscriptions: this gateway trusts the database again now,
    without waiting for its own notice."""
    wanted = getattr(conn, "webhook_types", None)
    if isinstance(wanted, WantedTypes):
        wanted.mark_stale()
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
    if _skips(conn, (e.event_type for e in events)):
        return 0
    return affected(await conn.execute(
        EMIT, [e.event_type for e in events],
        [json.dumps(dict(e.data), default=str) for e in events],
        [e.msisdn for e in events], [e.occurred_at for e in events]))


async def wanted(conn: asyncpg.Connection, event_type: str) -> bool:
    """True when some enabled subscription wants `event_type` (the gateway's fresh set of
    wanted types answers without a statement when none does, as for `emit`)."""
    if _skips(conn, (event_type,)):
        return False
    return bool(await conn.fetchval(WANTED, event_type))


async def emit_donation_events(conn: asyncpg.Connection, event_ids: Sequence[int]) -> int:
    """The gift events among donation_events `event_ids` just recorded (one statement)."""
    if not event_ids or _skips(conn, DONATION_EVENT.values()):
        return 0
    return affected(await conn.execute(
        EMIT_DONATION_EVENTS, list(event_ids), list(DONATION_EVENT),
        list(DONATION_EVENT.values())))


def consent_unwanted(conn: asyncpg.Connection) -> bool:
    """True when this gateway knows nobody wants contact.opted_in nor contact.opted_out (a
    caller may then skip gathering the ids of what it wrote)."""
    return _skips(conn, CONSENT_EVENT.values())


async def emit_imported_consent(conn: asyncpg.Connection, consent_ids: Sequence[int]) -> int:
    """contact.opted_in / contact.opted_out for consent_events rows an import just wrote."""
    if not consent_ids or consent_unwanted(conn):
        return 0
    return affected(await conn.execute(
        EMIT_IMPORTED_CONSENT, list(consent_ids), list(CONSENT_EVENT),
        list(CONSENT_EVENT.values())))


async def emit_messages(conn: asyncpg.Connection, outbound_ids: Sequence[int]) -> int:
    """message.delivered / message.failed for outbound rows whose status just became final."""
    if not outbound_ids or _skips(conn, MESSAGE_EVENT.values()):
        return 0
    return affected(await conn.execute(
        EMIT_MESSAGES, list(outbound_ids), list(MESSAGE_EVENT), list(MESSAGE_EVENT.values())))


async def emit_questions(conn: asyncpg.Connection, event_type: str, question_ids: Sequence[int],
                         *, at: datetime | None = None) -> int:
    """question.asked (at: the asking) or question.answered (`at`: the answer) for these."""
    if not question_ids or _skips(conn, (event_type,)):
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
