"""Everything held about one number: read it out (export), or erase it.

Why one module holds both: the export and the erasure must cover the same
tables. `PERSONAL_TABLES` is the list, and tests/test_privacy.py fails when a
table with a number column is missing from it, so a table added later cannot
silently escape either right.

Erasure runs in one transaction: the number's rows are deleted, or
pseudonymized where a law or a ledger needs the row (consent proof,
donations and their FEC details, settlement lines, the audit log); waiting
MTs are suppressed first. Each step is a statement of the table's own module
(every table has one writer, tests/test_table_owners.py); `ERASE_STEPS` is
their order. Only inside that transaction do the append-only triggers accept
the change, and only to the personal columns (migration 012). This module
writes `erased_numbers`, the opt-outs kept as keyed hashes.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from gateway.store import (
    audit,
    calls,
    consent,
    contacts,
    donations,
    finance,
    inbound,
    outbound,
    questions,
    stripe_erasures,
    stripe_store,
    timeline,
    voice_recordings,
)

# Every table with a column naming a supporter's number, and what erasure does to it.
PERSONAL_TABLES: Mapping[str, str] = {
    "contacts": "deleted (its opt-out kept as a keyed hash in erased_numbers)",
    "inbound": "number pseudonymized, text removed (donations and consent point at it)",
    "inbound_parts": "deleted",
    "outbound": "number pseudonymized, text removed; waiting messages suppressed first",
    "contact_events": "deleted (dialog answers, profile changes)",
    "consent_events": "number pseudonymized, MO text removed (the proof of consent stays)",
    "donations": "number pseudonymized (a financial record the law requires)",
    "donor_details": "number pseudonymized; name, address, employer kept (FEC records)",
    "donor_detail_links": "deleted",
    "saved_cards": "deleted; their Stripe customers queued for deletion at Stripe",
    "settlement_lines": "number pseudonymized (what the carrier reported)",
    "questions": "deleted, with their answers",
    "pending_receipts": "deleted (receipts for ids we never recorded name the number they went to)",
    "calls": "deleted, with their steps (call_events) and recorded questions (voice_recordings)",
}
# Tables that may carry the number inside text or JSON rather than in a column.
MENTIONING_TABLES: Mapping[str, str] = {
    "stripe_webhook_events": "the number replaced by the pseudonym in the payload",
    "audit_log": "the number replaced by the pseudonym in target and detail",
}

ERASING = "SET LOCAL gateway.erasing = 'on'"

# One step per table, in this order, each done by the table's one writer module:
# waiting MTs are suppressed before anything else; answers go before their questions;
# the Stripe customers are queued before the saved cards naming them go.
Eraser = Callable[[asyncpg.Connection, str, str], Awaitable[int]]  # (conn, number, pseudonym)
ERASE_STEPS: tuple[tuple[str, Eraser], ...] = (
    ("suppressed", lambda conn, msisdn, _: outbound.suppress_waiting_of(conn, msisdn)),
    ("answers", lambda conn, msisdn, _: questions.delete_answers_of(conn, msisdn)),
    ("questions", lambda conn, msisdn, _: questions.delete_questions_of(conn, msisdn)),
    ("contact_events", lambda conn, msisdn, _: timeline.delete_events_of(conn, msisdn)),
    ("voice_recordings", lambda conn, msisdn, _: voice_recordings.delete_of(conn, msisdn)),
    ("call_events", lambda conn, msisdn, _: calls.delete_events_of(conn, msisdn)),
    ("calls", lambda conn, msisdn, _: calls.delete_calls_of(conn, msisdn)),
    ("inbound_parts", lambda conn, msisdn, _: inbound.delete_parts_of(conn, msisdn)),
    ("pending_receipts", lambda conn, msisdn, _: outbound.delete_pending_receipts_to(
        conn, msisdn)),
    ("donor_detail_links", lambda conn, msisdn, _: donations.delete_detail_links_of(
        conn, msisdn)),
    ("stripe_customers", lambda conn, msisdn, _: stripe_erasures.queue_customers_of(
        conn, msisdn)),
    ("saved_cards", lambda conn, msisdn, _: stripe_store.delete_saved_cards_of(conn, msisdn)),
    ("inbound", inbound.pseudonymize),
    ("outbound", outbound.pseudonymize),
    ("consent_events", consent.pseudonymize),
    ("donations", donations.pseudonymize_donations),
    ("donor_details", donations.pseudonymize_details),
    ("settlement_lines", finance.pseudonymize_settlement_lines),
    ("stripe_webhook_events", stripe_store.pseudonymize_webhook_events),
    ("audit_log", audit.pseudonymize),
)

# Before the contact rows go: per short code, was this number opted out?
OPTED_OUT_BY_SHORTCODE = """
SELECT shortcode,
       opted_out OR EXISTS (SELECT 1 FROM jsonb_each(coalesce(state->'subs', '{}'::jsonb)) s
                            WHERE s.value->>'status' = 'opted_out') AS opted_out
FROM contacts WHERE msisdn = $1
"""

RECORD_ERASED = """
INSERT INTO erased_numbers (number_hash, shortcode, opted_out, reason, erased_by)
SELECT $1, k.shortcode, k.opted_out, $2, $3
FROM unnest($4::text[], $5::bool[]) AS k(shortcode, opted_out)
ON CONFLICT (number_hash, shortcode) DO UPDATE
SET opted_out = erased_numbers.opted_out OR EXCLUDED.opted_out,
    reason = EXCLUDED.reason, erased_by = EXCLUDED.erased_by, erased_at = clock_timestamp()
"""

ERASED_OPT_OUTS = """
SELECT number_hash, shortcode FROM erased_numbers
WHERE number_hash = ANY($1::text[]) AND opted_out
"""

# Idle: the contact's state has not changed and it has sent nothing since `before`.
INACTIVE = """
SELECT c.msisdn, max(greatest(c.updated_at, coalesce(i.last_mo, c.updated_at))) AS last_activity
FROM contacts c
LEFT JOIN LATERAL (SELECT max(received_at) AS last_mo FROM inbound WHERE msisdn = c.msisdn) i
  ON true
WHERE c.updated_at < $1 AND c.msisdn NOT LIKE 'erased:%'
GROUP BY c.msisdn
HAVING max(greatest(c.updated_at, coalesce(i.last_mo, c.updated_at))) < $1
ORDER BY 2, 1
LIMIT $2
"""

EXPORT_QUERIES: Mapping[str, str] = {
    "contacts": """
        SELECT shortcode, opted_out, state, zip, region, country, timezones, geo_source,
               created_at, updated_at
        FROM contacts WHERE msisdn = $1 ORDER BY shortcode""",
    "messages_received": """
        SELECT id, shortcode, body, received_at FROM inbound WHERE msisdn = $1 ORDER BY id""",
    "messages_sent": """
        SELECT o.id, o.shortcode, o.body, o.status, o.created_at, o.submitted_at, o.final_at,
               b.program AS broadcast_program
        FROM outbound o LEFT JOIN broadcasts b ON b.id = o.broadcast_id
        WHERE o.msisdn = $1 ORDER BY o.id""",
    "timeline_events": """
        SELECT id, shortcode, name, data, occurred_at FROM contact_events
        WHERE msisdn = $1 ORDER BY id""",
    "consent": """
        SELECT id, shortcode, program, program_name, kind, mo_text, keyword, disclosure_text,
               disclosure_version, privacy_url, privacy_version, occurred_at
        FROM consent_events WHERE msisdn = $1 ORDER BY id""",
    "donations": """
        SELECT d.id, d.shortcode, d.program, d.committee, d.method, d.amount_cents, d.currency,
               d.status, d.requested_at, d.confirmed_at,
               coalesce((SELECT jsonb_agg(jsonb_build_object(
                            'kind', e.kind, 'amount_cents', e.amount_cents,
                            'currency', e.currency, 'occurred_at', e.occurred_at)
                            ORDER BY e.id)
                         FROM donation_events e WHERE e.donation_id = d.id), '[]') AS events
        FROM donations d WHERE d.msisdn = $1 ORDER BY d.id""",
    "donor_details": """
        SELECT committee, name, street, city, region, postal_code, country, employer,
               occupation, source, received_at
        FROM donor_details WHERE msisdn = $1 ORDER BY id""",
    "saved_cards": """
        SELECT brand, last4, created_at FROM saved_cards WHERE msisdn = $1
        ORDER BY created_at""",
    "questions": """
        SELECT q.id, q.program, q.theme, q.body, q.status, q.asked_at, q.answered_at,
               a.body AS answer, a.answered_by, a.answered_at AS answer_at
        FROM questions q LEFT JOIN answers a ON a.question_id = q.id
        WHERE q.msisdn = $1 ORDER BY q.id""",
    # the voice line: each call with its steps; recorded questions without their audio
    # (a staff member exports the audio file itself from the recording if asked)
    "calls": """
        SELECT c.call_sid, c.program, c.shortcode, c.language, c.started_at, c.ended_at,
               c.end_status, c.duration_seconds,
               coalesce((SELECT jsonb_agg(jsonb_build_object(
                            'step', e.step, 'kind', e.kind, 'digits', e.digits,
                            'branch', e.branch, 'occurred_at', e.occurred_at) ORDER BY e.id)
                         FROM call_events e WHERE e.call_sid = c.call_sid), '[]') AS events
        FROM calls c WHERE c.msisdn = $1 ORDER BY c.started_at""",
    "voice_recordings": """
        SELECT r.recording_sid, r.call_sid, r.program, r.theme, r.duration_seconds, r.status,
               r.audio_format, r.audio_bytes, r.transcription, r.created_at
        FROM voice_recordings r JOIN calls c ON c.call_sid = r.call_sid
        WHERE c.msisdn = $1 ORDER BY r.id""",
}

NUMBER_COLUMNS = """
SELECT c.table_name, c.column_name
FROM information_schema.columns c
JOIN information_schema.tables t
  ON t.table_schema = c.table_schema AND t.table_name = c.table_name
WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'
  AND c.column_name IN ('msisdn', 'phone_number', 'number')
ORDER BY 1
"""


@dataclass(frozen=True, slots=True)
class Erasure:
    """What one erasure touched, per table (rows), and the short codes it suppressed."""

    rows: Mapping[str, int]
    opted_out_shortcodes: tuple[str, ...]


async def erase_number(
    conn: asyncpg.Connection,
    msisdn: str,
    *,
    pseudonym: str,
    number_hash: str,
    reason: str,
    erased_by: str,
) -> Erasure:
    """Erase one number in one transaction; safe to run again (it finds nothing left)."""
    rows: dict[str, int] = {}
    async with conn.transaction():
        await conn.execute(ERASING)
        opted = await conn.fetch(OPTED_OUT_BY_SHORTCODE, msisdn)
        for name, erase in ERASE_STEPS:
            rows[name] = await erase(conn, msisdn, pseudonym)
        rows["contacts"] = await contacts.delete_number(conn, msisdn)
        if opted:
            await conn.execute(
                RECORD_ERASED, number_hash, reason, erased_by,
                [r["shortcode"] for r in opted], [r["opted_out"] for r in opted])
    return Erasure(rows, tuple(r["shortcode"] for r in opted if r["opted_out"]))


async def erased_opt_outs(
    conn: asyncpg.Connection, hashes: Sequence[str]
) -> set[tuple[str, str]]:
    """(number hash, short code) pairs of erased numbers that had opted out."""
    if not hashes:
        return set()
    rows = await conn.fetch(ERASED_OPT_OUTS, list(hashes))
    return {(r["number_hash"], r["shortcode"]) for r in rows}


async def export_number(conn: asyncpg.Connection, msisdn: str) -> dict[str, list[dict[str, Any]]]:
    """Every section of the export, as rows of plain values (jsonb decoded)."""
    sections: dict[str, list[dict[str, Any]]] = {}
    for name, sql in EXPORT_QUERIES.items():
        sections[name] = [_plain(dict(r)) for r in await conn.fetch(sql, msisdn)]
    return sections


async def inactive_numbers(
    conn: asyncpg.Connection, before: datetime, *, limit: int
) -> list[tuple[str, datetime]]:
    rows = await conn.fetch(INACTIVE, before, limit)
    return [(r["msisdn"], r["last_activity"]) for r in rows]


async def number_columns(conn: asyncpg.Connection) -> list[tuple[str, str]]:
    """(table, column) of every column that names a number: for the coverage test."""
    return [(r["table_name"], r["column_name"]) for r in await conn.fetch(NUMBER_COLUMNS)]


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    for key, value in row.items():
        if key in ("state", "data", "events") and isinstance(value, str):
            row[key] = json.loads(value)
    return row
