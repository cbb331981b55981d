"""The consent ledger: append-only rows a carrier auditor can be shown years later.

Each opt-in request, opt-in, opt-out and re-subscription is inserted in the
MO's own transaction, with the MT that carried the disclosure. The table
refuses UPDATE, DELETE and TRUNCATE (a trigger, see migration 002): what was
decided and said at the time is never rewritten. The confirmation's delivery
receipt is read live through the `consent_ledger` view, so the row itself
never has to change when the receipt arrives.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

import asyncpg

from gateway.store import webhook_events
from gateway.store.db import affected, columns
from gateway.store.one_statement import Step
from gateway.store.webhook_events import CONSENT_EVENT, NewWebhookEvent

# The engine's event names that are consent decisions (CTIA: each is a record).
CONSENT_KINDS: Final = frozenset(
    {"opt_in_requested", "opt_in_confirmed", "opted_out", "resubscribed"}
)

_COLUMNS = """msisdn, shortcode, program, program_name, kind, inbound_id, mo_text, keyword,
    disclosure_text, disclosure_version, privacy_url, privacy_version"""

# The rows to insert, numbered `n` in the given order, each with its reply's number.
_INSERT_ROWS = f"""INSERT INTO consent_events ({_COLUMNS}, outbound_id, occurred_at)
SELECT {_COLUMNS}, mt.id, k.occurred_at
FROM unnest(
    $1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::text[],
    $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::int[],
    $14::timestamptz[]
) WITH ORDINALITY AS k({_COLUMNS}, reply_index, occurred_at, n)"""

# The MT is found as the MO's reply number `reply_index` (0-based, in id order):
# a decision's replies are inserted in order, in the same transaction, before
# this statement. So no outbound id has to travel back to Python.
INSERT_BATCH = f"""
{_INSERT_ROWS}
LEFT JOIN LATERAL (
    SELECT o.id FROM outbound o
    WHERE k.reply_index IS NOT NULL AND o.in_reply_to = k.inbound_id
    ORDER BY o.id OFFSET k.reply_index LIMIT 1
) mt ON true
ORDER BY k.n
"""

# The same inside a lane batch's one statement (store/one_statement.py): the replies
# are a sibling step, not yet visible in `outbound`, so their ids come from its
# RETURNING rows (the CTE named `replies`, store/outbound.py REPLIES_STEP), numbered
# per MO in id order. A hash join on (MO, reply number): pinned by
# tests/test_lane_statement.py, whatever the plan cache does.
INSERT_AFTER_REPLIES = f"""
{_INSERT_ROWS}
LEFT JOIN (
    SELECT id, in_reply_to, row_number() OVER (PARTITION BY in_reply_to ORDER BY id) - 1 AS nth
    FROM replies
) mt ON mt.in_reply_to = k.inbound_id AND mt.nth = k.reply_index
ORDER BY k.n
"""

# A keypress opt-in on the voice line (migration 300): no MO, the call and the spoken
# prompt instead, and the MT that carried the disclosure by its id.
INSERT_VOICE = f"""
INSERT INTO consent_events ({_COLUMNS}, outbound_id, occurred_at, source, call_sid,
                            prompt_text, prompt_version)
VALUES ($1, $2, $3, $4, $5, NULL, '', $6, $7, $8, $9, $10, $11, $12, 'voice', $13, $14, $15)
RETURNING id
"""

LIST_FOR_CONTACT = """
SELECT * FROM consent_ledger WHERE msisdn = $1 AND shortcode = $2 ORDER BY id
"""

# The same on every short code: a number is one contact whichever code it texted.
LIST_FOR_NUMBER = """
SELECT * FROM consent_ledger WHERE msisdn = $1 ORDER BY occurred_at, id
"""


@dataclass(frozen=True, slots=True)
class NewConsentEvent:
    """One ledger row, built from an engine consent event (pipeline/event_handlers.py)."""

    msisdn: str
    shortcode: str
    program: str
    program_name: str
    kind: str
    inbound_id: int
    mo_text: str
    keyword: str
    disclosure_text: str
    disclosure_version: str
    privacy_url: str
    privacy_version: str
    reply_index: int | None  # which of the MO's replies carried the disclosure
    occurred_at: datetime


async def insert_batch(conn: asyncpg.Connection, rows: Sequence[NewConsentEvent]) -> None:
    """One statement per batch, after the batch's replies; ids ascend in the order given."""
    if not rows:
        return
    await conn.execute(INSERT_BATCH, *_columns_of(rows))
    await emit_webhooks(conn, rows)


def after_replies_step(rows: Sequence[NewConsentEvent]) -> Step:
    """`insert_batch` as a step of a lane batch's one statement, after its replies' step;
    call `emit_webhooks` once the statement ran."""
    return Step(INSERT_AFTER_REPLIES, _columns_of(rows), rows=len(rows))


async def emit_webhooks(conn: asyncpg.Connection, rows: Sequence[NewConsentEvent]) -> None:
    """The webhook events of these ledger rows (none: no statement)."""
    await webhook_events.emit(conn, [_event(r.kind, r.msisdn, r.shortcode, r.program,
                                            r.keyword, "sms", r.occurred_at)
                                     for r in rows if r.kind in CONSENT_EVENT])


def _columns_of(rows: Sequence[NewConsentEvent]) -> list[list[object]]:
    return columns(rows, "msisdn", "shortcode", "program", "program_name", "kind",
                   "inbound_id", "mo_text", "keyword", "disclosure_text",
                   "disclosure_version", "privacy_url", "privacy_version", "reply_index",
                   "occurred_at")


def _event(kind: str, msisdn: str, shortcode: str, program: str, keyword: str, source: str,
           occurred_at: datetime) -> NewWebhookEvent:
    """contact.opted_in / contact.opted_out (store/webhook_events.py), no message text."""
    return NewWebhookEvent(
        CONSENT_EVENT[kind], {"msisdn": msisdn, "shortcode": shortcode, "program": program,
                              "keyword": keyword, "ledger_kind": kind, "source": source,
                              "occurred_at": occurred_at.isoformat()},
        occurred_at, msisdn)


@dataclass(frozen=True, slots=True)
class NewVoiceConsent:
    """One ledger row for a keypress opt-in (gateway/voice/support.py)."""

    msisdn: str
    shortcode: str
    program: str
    program_name: str
    kind: str
    keyword: str
    disclosure_text: str
    disclosure_version: str
    privacy_url: str
    privacy_version: str
    outbound_id: int | None  # the MT that carried the disclosure
    occurred_at: datetime
    call_sid: str
    prompt_text: str  # the spoken prompt the caller answered, word for word
    prompt_version: str


async def insert_voice(conn: asyncpg.Connection, row: NewVoiceConsent) -> int:
    """The row's id; in the transaction of the call's step, after the MT it points at."""
    row_id: int = await conn.fetchval(
        INSERT_VOICE, row.msisdn, row.shortcode, row.program, row.program_name, row.kind,
        row.keyword, row.disclosure_text, row.disclosure_version, row.privacy_url,
        row.privacy_version, row.outbound_id, row.occurred_at, row.call_sid, row.prompt_text,
        row.prompt_version)
    if row.kind in CONSENT_EVENT:
        await webhook_events.emit(conn, [_event(row.kind, row.msisdn, row.shortcode,
                                                row.program, row.keyword, "voice",
                                                row.occurred_at)])
    return row_id


# Consent proven by an imported file (migration 430), for a chunk of an import: one row
# per row that subscribed (the file's source, date and wording: the proof) or that the
# file recorded as opted out. Each is a contact.opted_in / contact.opted_out webhook event
# too, as by SMS (with the provenance, store/webhook_events.py `EMIT_IMPORTED_CONSENT`),
# queued in this transaction from the rows' ids: a CRM hears of a list brought in through
# the gateway as of a keyword texted, and of nothing that rolled back.
INSERT_IMPORTED = f"""
INSERT INTO consent_events ({_COLUMNS}, outbound_id, occurred_at, source, import_id,
                            import_row, consent_source, consent_wording)
SELECT r.msisdn, s.shortcode, s.program, s.program_name,
       CASE r.effect WHEN 'subscribed' THEN 'opt_in_confirmed' ELSE 'opted_out' END,
       NULL, '', $3::text, '', '', '', '', NULL, coalesce(s.consent_at, $2), 'import', $1,
       r.row_no, s.consent_source, s.consent_wording
FROM import_stage s
JOIN contact_import_rows r ON r.import_id = $1 AND r.phase = 'import' AND r.row_no = s.row_no
WHERE r.effect IN ('subscribed', 'opted_out')
ORDER BY r.row_no
"""
INSERT_IMPORTED_IDS = INSERT_IMPORTED + "RETURNING id\n"


async def insert_imported(conn: asyncpg.Connection, import_id: int, *, now: datetime,
                          keyword: str) -> int:
    """The staged chunk's ledger rows and their webhook events (store/contact_imports.py
    stages and classifies the chunk); how many rows. Without a subscriber to either consent
    event (as this gateway knows), the ids are not even fetched."""
    if webhook_events.consent_unwanted(conn):
        return affected(await conn.execute(INSERT_IMPORTED, import_id, now, keyword))
    ids = [r["id"] for r in await conn.fetch(INSERT_IMPORTED_IDS, import_id, now, keyword)]
    await webhook_events.emit_imported_consent(conn, ids)
    return len(ids)


async def list_for_contact(
    conn: asyncpg.Connection, msisdn: str, shortcode: str
) -> list[asyncpg.Record]:
    """The contact's consent history, oldest first, with each confirmation's receipt."""
    return list(await conn.fetch(LIST_FOR_CONTACT, msisdn, shortcode))


async def list_for_number(conn: asyncpg.Connection, msisdn: str) -> list[asyncpg.Record]:
    """`list_for_contact` over every short code of the number, oldest first."""
    return list(await conn.fetch(LIST_FOR_NUMBER, msisdn))


# -- erasure (store/privacy.py runs these in its one transaction) ------------------------

# The number's first SMS opt-in confirmation to a program at or after a time (a keyword
# texted after a form named the number): what proves "both channels" on the phone side.
CONFIRMED_SINCE = """
SELECT id, inbound_id, occurred_at FROM consent_events
WHERE msisdn = $1 AND program = $2 AND kind = 'opt_in_confirmed' AND occurred_at >= $3
ORDER BY occurred_at, id
LIMIT 1
"""


async def confirmed_since(conn: asyncpg.Connection, msisdn: str, program: str,
                          since: datetime) -> asyncpg.Record | None:
    """The number's first opt_in_confirmed row for `program` at or after `since`, if any."""
    row: asyncpg.Record | None = await conn.fetchrow(CONFIRMED_SINCE, msisdn, program, since)
    return row


PSEUDONYMIZE = "UPDATE consent_events SET msisdn = $2, mo_text = '' WHERE msisdn = $1"


async def pseudonymize(conn: asyncpg.Connection, msisdn: str, pseudonym: str) -> int:
    """The proof of consent stays; its number and the MO's text go."""
    return affected(await conn.execute(PSEUDONYMIZE, msisdn, pseudonym))
