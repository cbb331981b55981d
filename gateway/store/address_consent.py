"""Consent of addresses that are not phone numbers (e-mail today). SQL only (migration 250).

The one writer of `address_consent_events` (the append-only ledger),
`address_subscriptions` (the state now, per address and program),
`address_consent_tokens` (double opt-in links) and `erased_addresses`.

Why the state is written by the statement that appends the ledger row
(`RECORD`): the state is by definition the kind of the last row, so the two
are one write and can never disagree, even under a crash. Decisions about
one address are serialized by a transaction-scoped advisory lock
(`lock_address`) so two form posts at once cannot both send a confirmation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import asyncpg

from gateway.store import newsletters
from gateway.store.db import affected
from gateway.unsubscribe_link import program_of_url

ADDRESS_LOCK_SPACE: Final = 0x41444452  # "ADDR": the advisory-lock namespace of addresses
STATE_OF_KIND: Final = {"opt_in_requested": "pending", "opt_in_confirmed": "subscribed",
                        "opted_out": "unsubscribed"}

LOCK_ADDRESS = "SELECT pg_advisory_xact_lock($1, hashtext($2 || ':' || $3))"

_EVENT_COLUMNS = """channel, address, program, kind, source, wording, wording_version,
    privacy_url, privacy_version, language, request_id, mail_outbox_id, mail_inbound_id,
    web_submission_id, client_ip, citizen_text, occurred_at"""

RECORD = f"""
WITH event AS (
    INSERT INTO address_consent_events ({_EVENT_COLUMNS})
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15::inet, $16, $17)
    RETURNING id, channel, address, program, kind, occurred_at
)
INSERT INTO address_subscriptions (channel, address, program, state, state_event_id, since)
SELECT channel, address, program,
       CASE kind WHEN 'opt_in_requested' THEN 'pending' WHEN 'opt_in_confirmed' THEN 'subscribed'
                 ELSE 'unsubscribed' END,
       id, occurred_at
FROM event
ON CONFLICT (channel, address, program) DO UPDATE
SET state = EXCLUDED.state, state_event_id = EXCLUDED.state_event_id, since = EXCLUDED.since
RETURNING state_event_id
"""

GET_SUBSCRIPTION = """
SELECT s.address, s.program, s.state, s.since, s.state_event_id, e.privacy_url,
       e.privacy_version, e.language
FROM address_subscriptions s JOIN address_consent_events e ON e.id = s.state_event_id
WHERE s.channel = $1 AND s.address = $2 AND s.program = ANY($3::text[])
ORDER BY s.program
"""

SUBSCRIPTIONS_OF = """
SELECT s.address, s.program, s.state, s.since, s.state_event_id, e.privacy_url,
       e.privacy_version, e.language
FROM address_subscriptions s JOIN address_consent_events e ON e.id = s.state_event_id
WHERE s.channel = $1 AND s.address = $2
ORDER BY s.program
"""

FIND_REQUEST = """
SELECT id, mail_outbox_id FROM address_consent_events
WHERE channel = $1 AND address = $2 AND program = $3 AND kind = 'opt_in_requested'
  AND (web_submission_id = $4 OR mail_inbound_id = $5)
ORDER BY id LIMIT 1
"""

INSERT_TOKEN = """
INSERT INTO address_consent_tokens (token_hash, channel, address, program, language, request_id,
                                    mail_outbox_id, created_at, expires_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
RETURNING id
"""

OPEN_TOKEN = """
SELECT id, request_id, mail_outbox_id, expires_at FROM address_consent_tokens
WHERE channel = $1 AND address = $2 AND program = $3 AND closed_at IS NULL AND expires_at > $4
ORDER BY id DESC LIMIT 1
"""

TOKEN_BY_HASH = """
SELECT t.id, t.channel, t.address, t.program, t.language, t.request_id, t.expires_at,
       t.closed_at, t.closed_by, r.privacy_url, r.privacy_version, r.web_submission_id
FROM address_consent_tokens t JOIN address_consent_events r ON r.id = t.request_id
WHERE t.token_hash = $1
"""

CLOSE_TOKEN = """
UPDATE address_consent_tokens SET closed_at = $2, closed_by = $3
WHERE id = $1 AND closed_at IS NULL
"""

CLOSE_OPEN_TOKENS = """
UPDATE address_consent_tokens SET closed_at = $4, closed_by = 'unsubscribed'
WHERE channel = $1 AND address = $2 AND program = $3 AND closed_at IS NULL
"""

IS_ERASED = """
SELECT EXISTS (SELECT 1 FROM erased_addresses WHERE channel = $1 AND address_hash = $2)
"""

LIST_SUBSCRIBERS = """
SELECT s.address, s.state, s.since FROM address_subscriptions s
WHERE s.channel = 'email' AND s.program = $1 AND ($2::text IS NULL OR s.state = $2)
  AND ($3::text IS NULL OR s.address > $3)
ORDER BY s.address LIMIT $4
"""

COUNT_BY_STATE = """
SELECT state, count(*) AS n FROM address_subscriptions
WHERE channel = 'email' AND program = $1 GROUP BY state
"""

# The ledger of one address, each request with what became of its confirmation mail.
HISTORY = """
SELECT e.id, e.program, e.kind, e.source, e.wording, e.wording_version, e.privacy_url,
       e.privacy_version, e.language, e.request_id, e.mail_outbox_id, e.mail_inbound_id,
       e.web_submission_id, host(e.client_ip) AS client_ip, e.citizen_text, e.occurred_at,
       m.status AS confirmation_status, m.sent_at AS confirmation_sent_at
FROM address_consent_events e LEFT JOIN mail_outbox m ON m.id = e.mail_outbox_id
WHERE e.channel = $1 AND e.address = $2
ORDER BY e.id
"""


@dataclass(frozen=True, slots=True)
class NewEvent:
    """One ledger row; `kind` decides the subscription's new state (STATE_OF_KIND)."""

    address: str
    program: str
    kind: str
    source: str
    wording: str
    wording_version: str
    privacy_url: str
    privacy_version: str
    language: str
    occurred_at: datetime
    channel: str = "email"
    request_id: int | None = None
    mail_outbox_id: int | None = None
    mail_inbound_id: int | None = None
    web_submission_id: int | None = None
    client_ip: str | None = None
    citizen_text: str = ""


@dataclass(frozen=True, slots=True)
class Subscription:
    """The state of one address on one program, with the charter and language it was given."""

    address: str
    program: str
    state: str
    since: datetime
    state_event_id: int
    privacy_url: str
    privacy_version: str
    language: str


@dataclass(frozen=True, slots=True)
class Token:
    id: int
    channel: str
    address: str
    program: str
    language: str
    request_id: int
    expires_at: datetime
    closed_at: datetime | None
    closed_by: str | None
    privacy_url: str
    privacy_version: str
    web_submission_id: int | None  # the form post the request came from, if it did


async def lock_address(conn: asyncpg.Connection, address: str, channel: str = "email") -> None:
    """Hold the address's lock until the transaction ends: its decisions go one at a time."""
    await conn.execute(LOCK_ADDRESS, ADDRESS_LOCK_SPACE, channel, address)


async def record(conn: asyncpg.Connection, event: NewEvent) -> int:
    """Append `event` and set the subscription's state from it; returns the event's id."""
    event_id: int = await conn.fetchval(
        RECORD, event.channel, event.address, event.program, event.kind, event.source,
        event.wording, event.wording_version, event.privacy_url, event.privacy_version,
        event.language, event.request_id, event.mail_outbox_id, event.mail_inbound_id,
        event.web_submission_id, event.client_ip, event.citizen_text, event.occurred_at)
    return event_id


async def subscription(conn: asyncpg.Connection, address: str, program: str,
                       channel: str = "email") -> Subscription | None:
    rows = await conn.fetch(GET_SUBSCRIPTION, channel, address, [program])
    return Subscription(**dict(rows[0])) if rows else None


async def subscriptions_of(conn: asyncpg.Connection, address: str,
                           channel: str = "email") -> list[Subscription]:
    return [Subscription(**dict(r)) for r in await conn.fetch(SUBSCRIPTIONS_OF, channel, address)]


async def find_request(conn: asyncpg.Connection, address: str, program: str, *,
                       web_submission_id: int | None, mail_inbound_id: int | None,
                       channel: str = "email") -> asyncpg.Record | None:
    """The request already recorded from this same form post or mail, if any (a replay)."""
    if web_submission_id is None and mail_inbound_id is None:
        return None
    row: asyncpg.Record | None = await conn.fetchrow(
        FIND_REQUEST, channel, address, program, web_submission_id, mail_inbound_id)
    return row


async def insert_token(conn: asyncpg.Connection, *, token_hash: str, address: str, program: str,
                       language: str, request_id: int, mail_outbox_id: int | None,
                       created_at: datetime, expires_at: datetime,
                       channel: str = "email") -> int:
    token_id: int = await conn.fetchval(
        INSERT_TOKEN, token_hash, channel, address, program, language, request_id,
        mail_outbox_id, created_at, expires_at)
    return token_id


async def open_token(conn: asyncpg.Connection, address: str, program: str, now: datetime,
                     channel: str = "email") -> asyncpg.Record | None:
    """The newest link still usable for this address and program, if any."""
    row: asyncpg.Record | None = await conn.fetchrow(OPEN_TOKEN, channel, address, program, now)
    return row


async def token_by_hash(conn: asyncpg.Connection, token_hash: str) -> Token | None:
    row = await conn.fetchrow(TOKEN_BY_HASH, token_hash)
    return Token(**dict(row)) if row is not None else None


async def close_token(conn: asyncpg.Connection, token_id: int, closed_by: str,
                      now: datetime) -> bool:
    """Close an open token; False when it was already closed (a second click)."""
    return affected(await conn.execute(CLOSE_TOKEN, token_id, now, closed_by)) == 1


async def close_open_tokens(conn: asyncpg.Connection, address: str, program: str,
                            now: datetime, channel: str = "email") -> int:
    """An opt-out closes the links still open: an old confirmation cannot undo it."""
    return affected(await conn.execute(CLOSE_OPEN_TOKENS, channel, address, program, now))


async def is_erased(conn: asyncpg.Connection, address_hash: str, channel: str = "email") -> bool:
    return bool(await conn.fetchval(IS_ERASED, channel, address_hash))


# -- what the sender asks (store/mail_outbox.py suppression_reason) ----------------------

async def bulk_suppression_reason(conn: asyncpg.Connection, address: str,
                                  program: str) -> str | None:
    """None when `address` may get `program`'s bulk mail now, else why not, in one word."""
    found = await subscription(conn, address, program)
    if found is None:
        return "not_subscribed"
    return {"subscribed": None, "pending": "not_confirmed",
            "unsubscribed": "unsubscribed"}[found.state]


async def mail_suppression_reason(conn: asyncpg.Connection, to_address: str, *, bulk: bool,
                                  unsubscribe_url: str | None,
                                  mail_id: int | None = None) -> str | None:
    """For one mail_outbox row: bulk mail goes only to a confirmed subscriber of the program
    its own unsubscribe link names, and never as a copy of a cancelled newsletter; other
    mail (answers, confirmations) is not consent-gated."""
    if not bulk:
        return None
    if mail_id is not None and await newsletters.is_cancelled_copy(conn, mail_id):
        return "cancelled"
    program = program_of_url(unsubscribe_url)
    if program is None:
        return "no_unsubscribe_link"
    return await bulk_suppression_reason(conn, to_address.lower(), program)


# -- reads for staff -------------------------------------------------------------------

async def list_subscribers(conn: asyncpg.Connection, program: str, *, state: str | None,
                           after: str | None, limit: int) -> list[asyncpg.Record]:
    return list(await conn.fetch(LIST_SUBSCRIBERS, program, state, after, limit))


async def count_by_state(conn: asyncpg.Connection, program: str) -> dict[str, int]:
    return {r["state"]: r["n"] for r in await conn.fetch(COUNT_BY_STATE, program)}


async def history(conn: asyncpg.Connection, address: str,
                  channel: str = "email") -> list[asyncpg.Record]:
    """Every ledger row of the address, oldest first, with its confirmation mail's status."""
    return list(await conn.fetch(HISTORY, channel, address))


# -- privacy (the person's erasure runs this inside its `gateway.erasing` transaction) --

ERASE_OPTED_OUT = """
SELECT coalesce(array_agg(program ORDER BY program) FILTER (WHERE state = 'unsubscribed'),
                '{}') AS programs, count(*) AS n
FROM address_subscriptions WHERE channel = $1 AND address = $2
"""
ERASE_TOKENS = "DELETE FROM address_consent_tokens WHERE channel = $1 AND address = $2"
ERASE_SUBSCRIPTIONS = "DELETE FROM address_subscriptions WHERE channel = $1 AND address = $2"
ERASE_EVENTS = """
UPDATE address_consent_events SET address = $3, citizen_text = '', client_ip = NULL
WHERE channel = $1 AND address = $2
"""
RECORD_ERASED = """
INSERT INTO erased_addresses (channel, address_hash, opted_out_programs, reason, erased_by)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (channel, address_hash) DO UPDATE
SET opted_out_programs = ARRAY(SELECT DISTINCT p FROM unnest(
        erased_addresses.opted_out_programs || EXCLUDED.opted_out_programs) AS p ORDER BY p),
    reason = EXCLUDED.reason, erased_by = EXCLUDED.erased_by, erased_at = clock_timestamp()
"""


async def erase_address(conn: asyncpg.Connection, address: str, *, pseudonym: str,
                        address_hash: str, reason: str, erased_by: str,
                        channel: str = "email") -> dict[str, int]:
    """Erase one address's consent data; the caller holds `SET LOCAL gateway.erasing = 'on'`.

    The ledger stays as proof, under the pseudonym, without the citizen's words or
    IP; links and subscription states go; newsletter copies stay counted under the
    pseudonym; the address is kept only as its keyed hash (erased_addresses) with the
    programs it had left, so no import brings it back.
    """
    opted = await conn.fetchrow(ERASE_OPTED_OUT, channel, address)
    rows = {"address_consent_tokens": affected(await conn.execute(ERASE_TOKENS, channel,
                                                                  address)),
            "address_subscriptions": affected(await conn.execute(ERASE_SUBSCRIPTIONS, channel,
                                                                 address)),
            "address_consent_events": affected(await conn.execute(ERASE_EVENTS, channel,
                                                                  address, pseudonym))}
    rows["newsletter_recipients"] = await newsletters.erase_address(conn, address, pseudonym)
    await conn.execute(RECORD_ERASED, channel, address_hash, list(opted["programs"]), reason,
                       erased_by)
    return rows


EXPORT_EVENTS = """
SELECT id, program, kind, source, wording, wording_version, privacy_url, privacy_version,
       language, request_id, mail_outbox_id, mail_inbound_id, web_submission_id,
       host(client_ip) AS client_ip, citizen_text, occurred_at
FROM address_consent_events WHERE channel = $1 AND address = $2 ORDER BY id
"""
EXPORT_SUBSCRIPTIONS = """
SELECT program, state, since FROM address_subscriptions
WHERE channel = $1 AND address = $2 ORDER BY program
"""


async def export_address(conn: asyncpg.Connection, address: str,
                         channel: str = "email") -> dict[str, list[dict[str, Any]]]:
    """The address's consent records and subscriptions, for a privacy export."""
    return {
        "consent": [dict(r) for r in await conn.fetch(EXPORT_EVENTS, channel, address)],
        "subscriptions": [dict(r) for r in await conn.fetch(EXPORT_SUBSCRIPTIONS, channel,
                                                            address)],
    }
