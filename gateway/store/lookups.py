"""Read-only listings for the admin API: contacts, donations, broadcasts, the consent ledger.

Why a module of its own: these are staff queries across an aggregate
(search, filter, page), not the writes and single-row reads the pipeline
uses, and they change with the screens, not with the message path. Every
filter is optional (a NULL parameter matches all) and every list is
keyset-paged so page 1,000 costs what page 1 costs.
"""

from __future__ import annotations

from datetime import datetime

import asyncpg

SEARCH_CONTACTS = """
SELECT c.msisdn, c.shortcode, c.opted_out, c.state->'profile' AS profile, c.zip, c.region,
       c.country, c.created_at, c.updated_at
FROM contacts c
WHERE c.shortcode = $1
  AND ($2::text IS NULL OR c.msisdn LIKE $2)
  AND ($3::text IS NULL OR c.state->'profile'->>$3 = $4)
  AND ($5::text IS NULL OR c.msisdn > $5)
ORDER BY c.msisdn
LIMIT $6
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

LIST_CONSENT = """
SELECT * FROM consent_ledger
WHERE shortcode = $1
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


def _like_prefix(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


async def search_contacts(
    conn: asyncpg.Connection, *, shortcode: str, number_prefix: str | None = None,
    number_digits: str | None = None, field: str | None = None, value: str | None = None,
    after: str | None = None, limit: int = 50,
) -> list[asyncpg.Record]:
    """Contacts whose number starts with `number_prefix` (or holds `number_digits` anywhere),
    and/or whose profile `field` = `value`."""
    pattern = None
    if number_prefix is not None:
        pattern = _like_prefix(number_prefix)
    elif number_digits is not None:
        pattern = "%" + _like_prefix(number_digits)
    return list(await conn.fetch(
        SEARCH_CONTACTS, shortcode, pattern, field, value, after, limit))


async def list_donations(
    conn: asyncpg.Connection, *, status: str | None = None, committee: str | None = None,
    msisdn: str | None = None, requested_from: datetime | None = None,
    requested_to: datetime | None = None, before_id: int | None = None, limit: int = 100,
) -> list[asyncpg.Record]:
    """Newest first; `before_id` is the last id of the previous page."""
    return list(await conn.fetch(
        LIST_DONATIONS, status, committee, msisdn, requested_from, requested_to, before_id,
        limit))


async def list_consent(
    conn: asyncpg.Connection, *, shortcode: str, kind: str | None = None,
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
