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

A person (store/persons.py: the numbers and e-mail addresses verified to be one
citizen) is exported and erased whole: `erase_person` runs the number steps for
each of its numbers, `EMAIL_ERASE_STEPS` for each of its e-mail addresses, then
forgets the person, all in one transaction. `EMAIL_TABLES` is the e-mail side's
list, checked by tests/test_persons_privacy.py like `PERSONAL_TABLES`.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from gateway.store import (
    address_consent,
    api_sends,
    audit,
    broadcasts,
    calls,
    consent,
    contact_imports,
    contacts,
    donations,
    email_contacts,
    finance,
    inbound,
    mail_inbound,
    mail_outbox,
    outbound,
    persons,
    questions,
    short_links,
    stripe_erasures,
    stripe_store,
    tags,
    timeline,
    voice_recordings,
    web_messages,
    webhook_events,
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
    "questions": "deleted, with their answers (a form question with an e-mail address "
                 "keeps it and loses the number)",
    "web_messages": "deleted (a post with an e-mail address keeps it and loses the number)",
    "pending_receipts": "deleted (receipts for ids we never recorded name the number they went to)",
    "calls": "deleted, with their steps (call_events) and recorded questions (voice_recordings)",
    "person_addresses": "deleted, with the person (every linked address is erased with it)",
    "person_links": "deleted (the audit log keeps that a merge happened, under pseudonyms)",
    "person_link_tokens": "deleted",
    "webhook_events": "deleted, with their deliveries (a receiver keeps what it was sent)",
    "contact_tags": "deleted",
    "api_messages": "deleted (the send API's entries for the number)",
    "short_links": "number pseudonymized (the broadcast's click counts stay)",
    "contact_import_rows": "deleted (what an import did with the number's row)",
}
# Every table with a column holding a citizen's e-mail address, and what erasure does.
EMAIL_TABLES: Mapping[str, str] = {
    "mail_inbound": "the person's own messages (From, Reply-To or envelope sender) and bounces "
                    "naming the address: raw message, subject, bodies, headers, display name, "
                    "other recipients removed, the address pseudonymized; someone else's "
                    "message naming it: the address replaced by the pseudonym",
    "mail_attachments": "deleted (of the person's own messages and of bounces naming them)",
    "mail_outbox": "waiting mail suppressed first; the address pseudonymized, subject and "
                   "text removed (the row and its Message-ID stay); a lead's notice quoting "
                   "one of the person's questions loses the quote (for a number too)",
    "questions": "questions with no number deleted with their later messages and answers; "
                 "a form question that also gave a number keeps it and loses the address",
    "web_messages": "form posts with no number deleted; the others lose the address and name",
    "address_consent_events": "kept as proof under the pseudonym, without the citizen's "
                              "words or IP; the opt-outs kept as a keyed hash",
    "address_subscriptions": "deleted (by the address_consent_events step)",
    "address_consent_tokens": "deleted (by the address_consent_events step)",
    "newsletter_recipients": "kept, counted, under the pseudonym (by the "
                             "address_consent_events step)",
    "person_addresses": "deleted, with the person",
    "person_links": "deleted",
    "person_link_tokens": "deleted",
}
# Tables with an address or e-mail column that is not a citizen's: staff logins, the
# login throttle, a committee's postal address, the campaign's own From address.
NOT_CITIZEN_ADDRESSES: Mapping[str, str] = {
    "users": "staff accounts",
    "login_attempts": "staff logins",
    "login_throttle": "staff logins",
    "committees": "a committee's postal address",
    "erased_addresses": "keyed hashes of erased addresses (the opt-outs kept), never one",
}
# Tables that may carry the number inside text or JSON rather than in a column.
MENTIONING_TABLES: Mapping[str, str] = {
    "stripe_webhook_events": "the number replaced by the pseudonym in the payload",
    "audit_log": "the number replaced by the pseudonym in target and detail",
    "broadcasts": "a send API broadcast's `number in (...)` filter: the number replaced by "
                  "one no contact can have",
}

ERASING = "SET LOCAL gateway.erasing = 'on'"

# One step per table, in this order, each done by the table's one writer module:
# waiting MTs are suppressed before anything else; answers go before their questions;
# the Stripe customers are queued before the saved cards naming them go.
Eraser = Callable[[asyncpg.Connection, str, str], Awaitable[int]]  # (conn, number, pseudonym)
ERASE_STEPS: tuple[tuple[str, Eraser], ...] = (
    ("suppressed", lambda conn, msisdn, _: outbound.suppress_waiting_of(conn, msisdn)),
    ("mail_outbox_notices", lambda conn, msisdn, _: mail_outbox.forget_notices_of_number(
        conn, msisdn)),
    ("answers", lambda conn, msisdn, _: questions.delete_answers_of(conn, msisdn)),
    ("questions", lambda conn, msisdn, _: questions.delete_questions_of(conn, msisdn)),
    ("web_messages", lambda conn, msisdn, _: web_messages.erase_number(conn, msisdn)),
    ("contact_events", lambda conn, msisdn, _: timeline.delete_events_of(conn, msisdn)),
    ("voice_recordings", lambda conn, msisdn, _: voice_recordings.delete_of(conn, msisdn)),
    ("call_events", lambda conn, msisdn, _: calls.delete_events_of(conn, msisdn)),
    ("calls", lambda conn, msisdn, _: calls.delete_calls_of(conn, msisdn)),
    ("webhook_events", lambda conn, msisdn, _: webhook_events.delete_of(conn, msisdn)),
    ("contact_tags", lambda conn, msisdn, _: tags.delete_of(conn, msisdn)),
    ("api_messages", lambda conn, msisdn, _: api_sends.delete_of(conn, msisdn)),
    ("broadcasts", lambda conn, msisdn, _: broadcasts.forget_number(conn, msisdn)),
    ("contact_import_rows", lambda conn, msisdn, _: contact_imports.delete_rows_of(
        conn, msisdn)),
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
    ("short_links", short_links.pseudonymize),
    ("consent_events", consent.pseudonymize),
    ("donations", donations.pseudonymize_donations),
    ("donor_details", donations.pseudonymize_details),
    ("settlement_lines", finance.pseudonymize_settlement_lines),
    ("stripe_webhook_events", stripe_store.pseudonymize_webhook_events),
    ("audit_log", audit.pseudonymize),
)



@dataclass(frozen=True, slots=True)
class ErasedAddress:
    """One address being erased: what replaces it, and the keyed hash an opt-out is kept as."""

    address: str  # E.164 number or normalized e-mail address
    pseudonym: str  # privacy/pseudonym.py: pseudonym_of (numbers), email_pseudonym (e-mail)
    digest: str  # number_hash(key, address): the keyed hash, whatever the channel
    reason: str  # 'request' or 'retention'
    erased_by: str


async def _erase_consent(conn: asyncpg.Connection, target: ErasedAddress) -> int:
    rows = await address_consent.erase_address(
        conn, target.address, pseudonym=target.pseudonym, address_hash=target.digest,
        reason=target.reason, erased_by=target.erased_by)
    return sum(rows.values())


# Tables the e-mail consent ledger's one erasure step covers with its own
# (store/address_consent.py erase_address: the order inside it matters).
ERASED_WITH_CONSENT: frozenset[str] = frozenset({
    "address_subscriptions", "address_consent_tokens", "newsletter_recipients"})

# One step per table for an e-mail address, each by the table's one writer module:
# waiting mail is suppressed first; attachments go before the messages that own them.
AddressEraser = Callable[[asyncpg.Connection, ErasedAddress], Awaitable[int]]
EMAIL_ERASE_STEPS: tuple[tuple[str, AddressEraser], ...] = (
    # First the e-mail consent ledger: each opt-out is kept as `target.digest` (as
    # RECORD_ERASED keeps an SMS one in erased_numbers), so no import re-subscribes the
    # address; the ledger rows stay as proof under the pseudonym.
    ("address_consent_events", lambda conn, t: _erase_consent(conn, t)),
    ("mail_outbox_suppressed", lambda conn, t: mail_outbox.suppress_waiting_to(
        conn, t.address)),
    ("mail_inbound_questions", lambda conn, t: mail_inbound.forget_questions_of_address(
        conn, t.address)),
    ("mail_outbox_questions", lambda conn, t: mail_outbox.forget_questions_of_address(
        conn, t.address)),
    ("mail_outbox_notices", lambda conn, t: mail_outbox.forget_notices_of_address(
        conn, t.address)),
    ("questions", lambda conn, t: questions.erase_address(conn, t.address)),
    ("web_messages", lambda conn, t: web_messages.erase_address(conn, t.address)),
    ("mail_attachments", lambda conn, t: mail_inbound.delete_attachments_of(conn, t.address)),
    ("mail_inbound", lambda conn, t: mail_inbound.erase_own(conn, t.address, t.pseudonym)),
    ("mail_inbound_mentions", lambda conn, t: mail_inbound.pseudonymize_mentions(
        conn, t.address, t.pseudonym)),
    ("mail_outbox", lambda conn, t: mail_outbox.pseudonymize_to(conn, t.address, t.pseudonym)),
    ("audit_log", lambda conn, t: audit.pseudonymize(conn, t.address, t.pseudonym)),
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

ERASED = "SELECT number_hash, shortcode FROM erased_numbers WHERE number_hash = ANY($1::text[])"

ERASED_OPT_OUTS = """
SELECT number_hash, shortcode FROM erased_numbers
WHERE number_hash = ANY($1::text[]) AND opted_out
"""

# Whether the person of address `{me}` was active since $1 on another of its numbers or
# addresses: an address is idle only when its whole person is (erasing it erases them all).
_PERSON_ACTIVE_ELSEWHERE = f"""EXISTS (
      SELECT 1 FROM person_addresses me
      JOIN person_addresses other ON other.person_id = me.person_id
                                 AND other.address <> me.address
      WHERE me.address = {{me}}
        AND (EXISTS (SELECT 1 FROM contacts oc
                     WHERE oc.msisdn = other.address AND oc.updated_at >= $1)
             OR EXISTS (SELECT 1 FROM inbound oi
                        WHERE oi.msisdn = other.address AND oi.received_at >= $1)
             OR EXISTS (SELECT 1 FROM calls oca
                        WHERE oca.msisdn = other.address AND oca.started_at >= $1)
             OR EXISTS (SELECT 1 FROM ({email_contacts.SEEN}) os
                        WHERE os.address = other.address AND os.at >= $1)))"""

# Idle: the contact's state has not changed, it has sent nothing and it has not called the
# voice line since `before` (a caller who only ever called has no contact row and is listed
# by the calls); and when the number is one person's, none of the person's other addresses
# has been active either (erasing the number erases the person).
INACTIVE = f"""
WITH numbers AS (
    SELECT msisdn, max(updated_at) AS seen FROM contacts
    WHERE msisdn NOT LIKE 'erased:%' GROUP BY msisdn
    UNION ALL
    SELECT msisdn, max(started_at) FROM calls WHERE msisdn IS NOT NULL GROUP BY msisdn
), last AS (
    SELECT n.msisdn,
           greatest(max(n.seen), (SELECT max(received_at) FROM inbound i
                                  WHERE i.msisdn = n.msisdn)) AS last_activity
    FROM numbers n GROUP BY n.msisdn
)
SELECT l.msisdn, l.last_activity
FROM last l
WHERE l.last_activity < $1
  AND NOT {_PERSON_ACTIVE_ELSEWHERE.format(me='l.msisdn')}
ORDER BY 2, 1
LIMIT $2
"""

# E-mail addresses whose last sighting (store/email_contacts.py SEEN: mail, form posts,
# written questions, list requests, a person's verified address) is older than $1, and
# whose person, if any, shows no newer activity on another number or address. Already
# erased addresses (pseudonyms under .invalid) are not listed again.
INACTIVE_ADDRESSES = f"""
WITH seen AS ({email_contacts.SEEN}), last AS (
    SELECT address, max(at) AS last_activity FROM seen GROUP BY address
)
SELECT l.address, l.last_activity
FROM last l
WHERE l.last_activity < $1
  AND l.address NOT LIKE '%@erased.invalid'
  AND NOT {_PERSON_ACTIVE_ELSEWHERE.format(me='l.address')}
ORDER BY 2, 1
LIMIT $2
"""

EXPORT_QUERIES: Mapping[str, str] = {
    "send_api_messages": api_sends.EXPORT_OF,
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
    "web_messages": """
        SELECT program, language, theme, body, name, email, campaign_box, box_version,
               received_at
        FROM web_messages WHERE msisdn = $1 ORDER BY id""",
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

# What an export holds about one e-mail address ($1, normalized).
EMAIL_EXPORT_QUERIES: Mapping[str, str] = {
    "mail_received": """
        SELECT m.id, m.received_at, m.intake, m.message_id, m.in_reply_to, m.references_ids,
               m.subject, m.from_address, m.from_name, m.reply_to, m.to_addresses,
               m.cc_addresses, m.sent_at, m.headers, m.text_body, m.html_body, m.kind,
               m.never_answer,
               coalesce((SELECT jsonb_agg(jsonb_build_object(
                            'position', a.position, 'filename', a.filename,
                            'content_type', a.content_type, 'size', a.size,
                            'sha256', encode(a.sha256, 'hex'), 'omitted', a.omitted)
                            ORDER BY a.position)
                         FROM mail_attachments a WHERE a.mail_id = m.id), '[]') AS attachments
        FROM mail_inbound m
        WHERE lower(m.from_address) = $1 OR lower(m.reply_to) = $1
           OR lower(m.envelope_from) = $1
        ORDER BY m.id""",
    "mail_bounces": """
        SELECT id, received_at, subject, kind FROM mail_inbound
        WHERE $1 = ANY(bounced_addresses) ORDER BY id""",
    "mail_sent": """
        SELECT id, created_at, purpose, from_address, to_address, to_name, subject, text_body,
               html_body, message_id, in_reply_to, question_id, status, sent_at
        FROM mail_outbox WHERE lower(to_address) = $1 ORDER BY id""",
    "questions_written": """
        SELECT q.id, q.channel, q.asked_at, q.program, q.theme, q.body, q.status, q.name,
               coalesce((SELECT jsonb_agg(jsonb_build_object(
                            'received_at', m.received_at, 'body', m.body) ORDER BY m.id)
                         FROM question_messages m WHERE m.question_id = q.id), '[]')
                   AS later_messages,
               coalesce((SELECT jsonb_agg(jsonb_build_object(
                            'answered_at', a.answered_at, 'channel', a.channel, 'body', a.body)
                            ORDER BY a.round)
                         FROM answers a WHERE a.question_id = q.id), '[]') AS answers
        FROM questions q WHERE q.email = $1 ORDER BY q.id""",
    "form_posts": """
        SELECT id, received_at, program, language, theme, body, name, msisdn, campaign_box,
               box_wording, box_version
        FROM web_messages WHERE email = $1 ORDER BY id""",
}

# Sections of an address's export read by their owner's function, not a query here.
EMAIL_EXPORT_EXTRA: tuple[str, ...] = ("email_consent", "email_subscriptions")

NUMBER_COLUMNS = """
SELECT c.table_name, c.column_name
FROM information_schema.columns c
JOIN information_schema.tables t
  ON t.table_schema = c.table_schema AND t.table_name = c.table_name
WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'
  AND c.column_name IN ('msisdn', 'phone_number', 'number')
ORDER BY 1
"""


# Columns that may hold an e-mail address: for the e-mail coverage test.
ADDRESS_COLUMNS = """
SELECT c.table_name, c.column_name
FROM information_schema.columns c
JOIN information_schema.tables t
  ON t.table_schema = c.table_schema AND t.table_name = c.table_name
WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'
  AND (c.column_name LIKE '%address%' OR c.column_name LIKE '%email%')
ORDER BY 1, 2
"""


@dataclass(frozen=True, slots=True)
class Erasure:
    """What one erasure touched, per table (rows), and the short codes it suppressed."""

    rows: Mapping[str, int]
    opted_out_shortcodes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PersonErasure:
    """One erasure per address of the person, and the person's own rows forgotten."""

    by_address: Mapping[str, Erasure]
    person_rows: int


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


async def erase_email(conn: asyncpg.Connection, target: ErasedAddress) -> Erasure:
    """Erase one e-mail address (EMAIL_ERASE_STEPS) in one transaction; safe to run again."""
    rows: dict[str, int] = {}
    async with conn.transaction():
        await conn.execute(ERASING)
        for name, erase in EMAIL_ERASE_STEPS:
            rows[name] = await erase(conn, target)
    return Erasure(rows, ())


async def erase_person(conn: asyncpg.Connection, numbers: Sequence[ErasedAddress],
                       emails: Sequence[ErasedAddress]) -> PersonErasure:
    """Every address of one person, then the person itself, in one transaction.

    The persons lock is held throughout, so no merge adds an address halfway.
    """
    by_address: dict[str, Erasure] = {}
    async with conn.transaction():
        await conn.execute(ERASING)
        await persons.lock(conn)
        for number in numbers:
            by_address[number.address] = await erase_number(
                conn, number.address, pseudonym=number.pseudonym, number_hash=number.digest,
                reason=number.reason, erased_by=number.erased_by)
        for email in emails:
            by_address[email.address] = await erase_email(conn, email)
        person_rows = await persons.forget(
            conn, [target.address for target in (*numbers, *emails)])
    return PersonErasure(by_address, person_rows)


async def erased(conn: asyncpg.Connection, hashes: Sequence[str]) -> set[tuple[str, str]]:
    """(number hash, short code) pairs of every erased number among `hashes`."""
    if not hashes:
        return set()
    rows = await conn.fetch(ERASED, list(hashes))
    return {(r["number_hash"], r["shortcode"]) for r in rows}


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


async def export_email(conn: asyncpg.Connection,
                       address: str) -> dict[str, list[dict[str, Any]]]:
    """The e-mail sections of the export for one (normalized) address."""
    sections = {name: [_plain(dict(r)) for r in await conn.fetch(sql, address)]
                for name, sql in EMAIL_EXPORT_QUERIES.items()}
    consent = await address_consent.export_address(conn, address)
    sections["email_consent"] = [_plain(r) for r in consent["consent"]]
    sections["email_subscriptions"] = [_plain(r) for r in consent["subscriptions"]]
    return sections


# Calls from a withheld number older than `before` whose recorded questions (if any) were
# all closed before it too: retention's other half (no number, so never on INACTIVE).
# A withheld caller's question still open (none should be: it is closed as it is asked,
# migration 320) keeps its call until it is closed.
WITHHELD_CALLS = """
SELECT c.call_sid FROM calls c
WHERE c.msisdn IS NULL AND c.started_at < $1
  AND NOT EXISTS (
      SELECT 1 FROM voice_recordings r JOIN questions q ON q.voice_recording_id = r.id
      WHERE r.call_sid = c.call_sid AND (q.status <> 'closed' OR q.closed_at >= $1))
ORDER BY c.started_at, c.call_sid
LIMIT $2
"""


async def withheld_calls(conn: asyncpg.Connection, before: datetime, *,
                         limit: int) -> list[str]:
    """The CallSids retention erases: withheld-number calls older than `before`."""
    return [r["call_sid"] for r in await conn.fetch(WITHHELD_CALLS, before, limit)]


async def erase_withheld_calls(conn: asyncpg.Connection, call_sids: list[str]
                               ) -> dict[str, int]:
    """Delete these withheld-number calls with their closed questions, recordings and
    steps, in one transaction (each table by its one writer); rows deleted per table."""
    async with conn.transaction():
        await conn.execute(ERASING)
        return {
            "questions": await questions.delete_of_withheld_calls(conn, call_sids),
            "voice_recordings": await voice_recordings.delete_of_withheld(conn, call_sids),
            "call_events": await calls.delete_events_of_withheld(conn, call_sids),
            "calls": await calls.delete_withheld(conn, call_sids),
        }


async def inactive_numbers(
    conn: asyncpg.Connection, before: datetime, *, limit: int
) -> list[tuple[str, datetime]]:
    rows = await conn.fetch(INACTIVE, before, limit)
    return [(r["msisdn"], r["last_activity"]) for r in rows]


async def inactive_addresses(
    conn: asyncpg.Connection, before: datetime, *, limit: int
) -> list[tuple[str, datetime]]:
    """E-mail addresses idle since before `before` (`INACTIVE_ADDRESSES`), oldest first."""
    rows = await conn.fetch(INACTIVE_ADDRESSES, before, limit)
    return [(r["address"], r["last_activity"]) for r in rows]


async def number_columns(conn: asyncpg.Connection) -> list[tuple[str, str]]:
    """(table, column) of every column that names a number: for the coverage test."""
    return [(r["table_name"], r["column_name"]) for r in await conn.fetch(NUMBER_COLUMNS)]


async def address_columns(conn: asyncpg.Connection) -> list[tuple[str, str]]:
    """(table, column) of every column that may hold an e-mail address."""
    return [(r["table_name"], r["column_name"]) for r in await conn.fetch(ADDRESS_COLUMNS)]


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    for key, value in row.items():
        if key in ("state", "data", "events", "headers", "attachments", "later_messages",
                   "answers") \
                and isinstance(value, str):
            row[key] = json.loads(value)
    return row
