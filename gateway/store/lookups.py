"""Read-only listings for the admin API: contacts, donations, broadcasts, the consent ledger.

Why a module of its own: these are staff queries across an aggregate
(search, filter, page), not the writes and single-row reads the pipeline
uses, and they change with the screens, not with the message path. Every
filter is optional (a NULL parameter matches all) and every list is
keyset-paged so page 1,000 costs what page 1 costs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

# Contacts across every short code, one row per number (a number on two short codes is one
# contact with two sets of programs). `found` pages numbers that have a row matching every
# filter given (NULL: no filter); the outer query then sums up ALL the number's rows, so a
# number found by its French program still shows its American one.
#   $1 short codes (NULL: all)       $2 LIKE on the number      $3 ILIKE: the longest word
#   $4 the longest word of the name  $5 zip prefix (LIKE)       $6 joined with this keyword
#   $7 program                       $8 status: subscribed, pending, opted_out, never
#   $9 the program's short codes     $10/$11 profile field = value
#   $12 after this number            $13 page size
#   $14/$15 every word of the name, and as ILIKE patterns    $16 tagged so (store/tags.py)
# A name matches when each of its words is part of the contact's names (migration 411
# `contact_names`: the profile fields ending in "name") or close to one of them
# (pg_trgm word similarity, NAME_SEARCH sets how close): "jon smth" finds John Smith.
# The longest word is asked of the trigram index (contacts_names_trgm_idx), the
# others are checked on the rows it finds.
# Status without a program: subscribed/pending to any program; opted_out: STOP on the code
# (every program ended); never: no program ever. With a program: its state on the number's
# row; never: a row on one of the program's short codes without it.
SEARCH_CONTACTS = """
WITH found AS (
    SELECT DISTINCT c.msisdn
    FROM contacts c
    WHERE ($1::text[] IS NULL OR c.shortcode = ANY($1::text[]))
      AND ($2::text IS NULL OR c.msisdn LIKE $2)
      AND ($3::text IS NULL OR (
            (contact_names(c.state) ILIKE $3 OR $4::text <% contact_names(c.state))
            AND NOT EXISTS (
                SELECT 1 FROM unnest($14::text[], $15::text[]) AS w(word, pattern)
                WHERE NOT (contact_names(c.state) ILIKE w.pattern
                           OR w.word <% contact_names(c.state)))))
      AND ($5::text IS NULL OR c.zip LIKE $5)
      AND ($6::text IS NULL OR EXISTS (
            SELECT 1 FROM consent_events e
            WHERE e.msisdn = c.msisdn AND e.shortcode = c.shortcode AND e.keyword = $6
              AND e.kind <> 'opted_out'))
      AND (($8::text IS NULL AND ($7::text IS NULL OR c.state->'subs' ? $7))
           OR ($8 = 'never' AND $7 IS NULL
               AND coalesce(c.state->'subs', '{}'::jsonb) = '{}'::jsonb)
           OR ($8 = 'never' AND $7 IS NOT NULL AND c.shortcode = ANY($9::text[])
               AND NOT coalesce(c.state->'subs', '{}'::jsonb) ? $7)
           OR ($8 = 'opted_out' AND $7 IS NULL AND c.opted_out)
           OR ($8 <> 'never' AND $7 IS NOT NULL AND c.state->'subs'->$7->>'status' = $8)
           OR ($8 IN ('subscribed', 'pending') AND $7 IS NULL AND EXISTS (
                 SELECT 1 FROM jsonb_each(coalesce(c.state->'subs', '{}'::jsonb)) s
                 WHERE s.value->>'status' = $8)))
      AND ($10::text IS NULL OR c.state->'profile'->>$10 = $11)
      AND ($12::text IS NULL OR c.msisdn > $12)
      AND ($16::text IS NULL OR EXISTS (
            SELECT 1 FROM contact_tags t WHERE t.msisdn = c.msisdn AND t.tag = $16))
    ORDER BY c.msisdn
    LIMIT $13
)
SELECT f.msisdn,
       array_agg(c.shortcode ORDER BY c.shortcode) AS shortcodes,
       bool_and(c.opted_out) AS opted_out,
       (SELECT jsonb_object_agg(s.key, s.value ORDER BY c2.updated_at)::text
        FROM contacts c2, jsonb_each(coalesce(c2.state->'subs', '{}'::jsonb)) s
        WHERE c2.msisdn = f.msisdn) AS programs,
       (SELECT jsonb_object_agg(p.key, p.value ORDER BY c2.updated_at)::text
        FROM contacts c2, jsonb_each(coalesce(c2.state->'profile', '{}'::jsonb)) p
        WHERE c2.msisdn = f.msisdn) AS profile,
       (array_agg(c.zip ORDER BY c.updated_at DESC) FILTER (WHERE c.zip IS NOT NULL))[1]
           AS zip,
       (array_agg(c.region ORDER BY c.updated_at DESC)
           FILTER (WHERE c.region IS NOT NULL))[1] AS region,
       (array_agg(c.country ORDER BY c.updated_at DESC)
           FILTER (WHERE c.country IS NOT NULL))[1] AS country,
       min(c.created_at) AS created_at, max(c.updated_at) AS updated_at
FROM found f JOIN contacts c ON c.msisdn = f.msisdn
GROUP BY f.msisdn
ORDER BY f.msisdn
"""

# For a search by name, in the search's transaction: how close a word must be to a word
# of the names (pg_trgm word_similarity, 0..1; "smth" to "john smith" is 0.4), and a
# plan made for the values asked, so an absent name drops its condition and a present
# one reaches the trigram index (a generic plan could do neither).
NAME_SEARCH = """
SET LOCAL pg_trgm.word_similarity_threshold = 0.4;
SET LOCAL plan_cache_mode = force_custom_plan
"""

LIST_DONATIONS = """
SELECT id, msisdn, shortcode, program, committee, method, amount_cents, currency,
       requested_at, confirmed_at, status, last_event_at
FROM donations
WHERE ($1::text IS NULL OR status = $1)
  AND ($2::text IS NULL OR committee = $2)
  AND ($3::text IS NULL OR msisdn = $3)
  AND ($4::timestamptz IS NULL OR requested_at >= $4)
  AND ($5::timestamptz IS NULL OR requested_at < $5)
  AND ($6::bigint IS NULL OR id < $6)
ORDER BY id DESC
LIMIT $7
"""

# One number's gifts, newest first, each with what was refunded and its receipt: the
# thank-you text sent once the money was taken (compliance: `thanks` is "the billed MT's
# body, and the card receipt", docs/donations.md). A phone-bill gift's is its billed MT
# (outbound.donation_id); a card gift's is the text queued in reply to the gift's MO in
# the transaction that recorded `charged` (billing/service.py `_settle`), so created after
# that event was recorded. `payment_ref` is the card payment's Stripe id.
LIST_NUMBER_DONATIONS = """
SELECT d.id, d.shortcode, d.program, d.committee, d.method, d.amount_cents, d.currency,
       d.requested_at, d.confirmed_at, d.status, d.last_event_at,
       (SELECT coalesce(sum(e.amount_cents), 0)::bigint FROM donation_events e
        WHERE e.donation_id = d.id AND e.kind = 'refunded') AS refunded_cents,
       ch.external_ref AS payment_ref,
       coalesce(b.id, card.id) AS receipt_mt_id,
       coalesce(b.status, card.status) AS receipt_status,
       coalesce(b.created_at, card.created_at) AS receipt_at
FROM donations d
LEFT JOIN outbound b ON b.donation_id = d.id
LEFT JOIN donation_events ch ON ch.donation_id = d.id AND ch.kind = 'charged'
LEFT JOIN LATERAL (
    SELECT o.id, o.status, o.created_at FROM outbound o
    WHERE ch.id IS NOT NULL AND o.in_reply_to = d.id AND o.created_at >= ch.recorded_at
    ORDER BY o.id LIMIT 1
) card ON true
WHERE d.msisdn = $1
ORDER BY d.requested_at DESC, d.id DESC
"""

# Every short code's ledger unless one is named ($1 NULL: all).
LIST_CONSENT = """
SELECT * FROM consent_ledger
WHERE ($1::text IS NULL OR shortcode = $1)
  AND ($2::text IS NULL OR kind = $2)
  AND ($3::text IS NULL OR msisdn = $3)
  AND ($4::bigint IS NULL OR id < $4)
ORDER BY id DESC
LIMIT $5
"""

LIST_BROADCASTS = """
SELECT b.id, b.program, b.shortcode, b.filter, b.template, b.status, b.scheduled_at,
       b.created_by, b.created_at, b.recipients, b.materialized_at
FROM broadcasts b
WHERE b.channel = 'sms'  -- newsletters are listed on their own page
  AND ($1::text IS NULL OR b.status = $1)
  AND ($2::bigint IS NULL OR b.id < $2)
ORDER BY b.id DESC
LIMIT $3
"""


def like_part(text: str) -> str:
    """`text` as a LIKE pattern's literal part: its % _ and \\ match only themselves."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@dataclass(frozen=True, slots=True)
class ContactFilter:
    """A contact search as the store runs it (services/contact_filters.py builds it):
    every field None matches all."""

    shortcodes: Sequence[str] | None = None
    number_prefix: str | None = None
    number_digits: str | None = None
    name: str | None = None
    zip_prefix: str | None = None
    keyword: str | None = None
    program: str | None = None
    status: str | None = None
    program_codes: Sequence[str] = ()
    field: str | None = None
    value: str | None = None
    tag: str | None = None


async def search_contacts(conn: asyncpg.Connection, where: ContactFilter, *,
                          after: str | None = None, limit: int = 50) -> list[asyncpg.Record]:
    """One row per number with a row matching `where`, numbers in order after `after`:
    its short codes, programs and profile (JSON text) over all its rows."""
    pattern = None
    if where.number_prefix is not None:
        pattern = like_part(where.number_prefix) + "%"
    elif where.number_digits is not None:
        pattern = "%" + like_part(where.number_digits) + "%"
    words = sorted(set((where.name or "").lower().split()), key=lambda w: (-len(w), w))
    patterns = ["%" + like_part(w) + "%" for w in words]
    async with conn.transaction():
        await conn.execute(NAME_SEARCH)
        return list(await conn.fetch(
            SEARCH_CONTACTS, list(where.shortcodes) if where.shortcodes is not None else None,
            pattern, patterns[0] if words else None, words[0] if words else None,
            like_part(where.zip_prefix) + "%" if where.zip_prefix else None,
            where.keyword, where.program, where.status, list(where.program_codes),
            where.field, where.value, after, limit, words, patterns, where.tag))


async def list_donations(
    conn: asyncpg.Connection, *, status: str | None = None, committee: str | None = None,
    msisdn: str | None = None, requested_from: datetime | None = None,
    requested_to: datetime | None = None, before_id: int | None = None, limit: int = 100,
) -> list[asyncpg.Record]:
    """Newest first; `before_id` is the last id of the previous page."""
    return list(await conn.fetch(
        LIST_DONATIONS, status, committee, msisdn, requested_from, requested_to, before_id,
        limit))


async def list_number_donations(conn: asyncpg.Connection, msisdn: str
                                ) -> list[asyncpg.Record]:
    """The number's gifts on every short code, newest first, with refunds and receipts."""
    return list(await conn.fetch(LIST_NUMBER_DONATIONS, msisdn))


async def list_consent(
    conn: asyncpg.Connection, *, shortcode: str | None, kind: str | None = None,
    msisdn: str | None = None, before_id: int | None = None, limit: int = 100,
) -> list[asyncpg.Record]:
    """The consent ledger (with each confirmation's receipt), newest first."""
    return list(await conn.fetch(LIST_CONSENT, shortcode, kind, msisdn, before_id, limit))


async def list_broadcasts(
    conn: asyncpg.Connection, *, status: str | None = None, before_id: int | None = None,
    limit: int = 50,
) -> list[asyncpg.Record]:
    """Newest first; progress for one broadcast is `store.broadcasts.get_progress`."""
    return list(await conn.fetch(LIST_BROADCASTS, status, before_id, limit))
