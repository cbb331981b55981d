"""Contacts: one row per (number, short code) holding the engine's state; its one writer.

The engine's state is opaque here (a jsonb document); only `opted_out` is a
column of its own, because the outbox reads it at send time for every MT.

Beside it, derived location columns: zip, region, country, time zones, and
their source. The engine keeps profile answers in the contact's jsonb state;
quiet hours and broadcast targeting need them as plain columns they can
filter on (`WHERE region = 'FL'`, `WHERE 'America/Chicago' = ANY(timezones)`).
The values are computed in Python (`gateway.geo`) and written here in one
statement per batch; a row whose values did not change is not rewritten.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

import asyncpg

from gateway import jsontext
from gateway.store.db import affected
from gateway.store.one_statement import Step

LIST_STATES = """
SELECT c.msisdn, c.shortcode, c.opted_out, c.state::text AS state
FROM contacts c
JOIN unnest($1::text[], $2::text[]) AS k(msisdn, shortcode)
  ON c.msisdn = k.msisdn AND c.shortcode = k.shortcode
"""

# A new contact is created at its first MO's time (the batch's clock), not the database's.
UPSERT_STATES = """
INSERT INTO contacts (msisdn, shortcode, opted_out, state, updated_at, created_at)
SELECT k.msisdn, k.shortcode, k.opted_out, k.state::jsonb, k.updated_at, k.updated_at
FROM unnest($1::text[], $2::text[], $3::bool[], $4::text[], $5::timestamptz[])
     AS k(msisdn, shortcode, opted_out, state, updated_at)
ON CONFLICT (msisdn, shortcode) DO UPDATE
SET opted_out = EXCLUDED.opted_out, state = EXCLUDED.state, updated_at = EXCLUDED.updated_at
"""

GET_CONTACT = """
SELECT msisdn, shortcode, opted_out, state::text AS state, created_at, updated_at
FROM contacts WHERE msisdn = $1 AND shortcode = $2
"""

# Time zones travel as one space-separated string per row: unnest cannot carry
# an array per element, and IANA names never contain a space.
UPDATE_GEO = """
UPDATE contacts c
SET zip = k.zip, region = k.region, country = k.country,
    timezones = string_to_array(k.timezones, ' '), geo_source = k.source
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])
     AS k(msisdn, shortcode, zip, region, country, timezones, source)
WHERE c.msisdn = k.msisdn AND c.shortcode = k.shortcode
  AND (c.zip, c.region, c.country, c.timezones, c.geo_source) IS DISTINCT FROM
      (k.zip, k.region, k.country, string_to_array(k.timezones, ' '), k.source)
"""

# Every short code's row of one number (a contact is the number, whichever code it texted),
# the gateway's own short code first only by code order: the page shows them all.
LIST_NUMBER = """
SELECT msisdn, shortcode, opted_out, state::text AS state, created_at, updated_at,
       zip, region, country, timezones, geo_source
FROM contacts WHERE msisdn = $1 ORDER BY shortcode
"""

GET_GEO = """
SELECT zip, region, country, timezones, geo_source
FROM contacts WHERE msisdn = $1 AND shortcode = $2
"""

StateKey = tuple[str, str]


class GeoValues(Protocol):
    """What `gateway.geo.Geo` carries; a protocol so the store needs no engine import."""

    @property
    def zip(self) -> str | None: ...
    @property
    def region(self) -> str | None: ...
    @property
    def country(self) -> str | None: ...
    @property
    def timezones(self) -> tuple[str, ...]: ...
    @property
    def source(self) -> str | None: ...


async def list_states(
    conn: asyncpg.Connection, keys: Sequence[StateKey]
) -> dict[StateKey, tuple[bool, dict[str, Any]]]:
    rows = await conn.fetch(LIST_STATES, [k[0] for k in keys], [k[1] for k in keys])
    return {(r["msisdn"], r["shortcode"]): (r["opted_out"], jsontext.loads(r["state"]))
            for r in rows}


async def upsert_states(
    conn: asyncpg.Connection,
    states: Sequence[tuple[str, str, bool, dict[str, Any]]],
    *,
    now: datetime,
) -> None:
    if states:
        step = upsert_step(states, now=now)
        await conn.execute(step.sql, *step.args)


def upsert_step(states: Sequence[tuple[str, str, bool, dict[str, Any]]], *, now: datetime
                ) -> Step:
    """`upsert_states` as one step of a batch's single statement (store/one_statement.py)."""
    return Step(UPSERT_STATES, [
        [s[0] for s in states],
        [s[1] for s in states],
        [s[2] for s in states],
        [jsontext.dumps(s[3], default=None) for s in states],
        [now] * len(states),
    ], rows=len(states))


async def get_contact(
    conn: asyncpg.Connection, msisdn: str, shortcode: str
) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(GET_CONTACT, msisdn, shortcode)
    return row


async def list_number(conn: asyncpg.Connection, msisdn: str) -> list[asyncpg.Record]:
    """The number's row on each short code it is on (none: not a contact)."""
    return list(await conn.fetch(LIST_NUMBER, msisdn))


async def update_geo(
    conn: asyncpg.Connection, rows: Sequence[tuple[str, str, GeoValues]]
) -> None:
    """Set (msisdn, shortcode)'s derived columns; the contact rows must already exist."""
    if not rows:
        return
    await conn.execute(
        UPDATE_GEO,
        [r[0] for r in rows],
        [r[1] for r in rows],
        [r[2].zip for r in rows],
        [r[2].region for r in rows],
        [r[2].country for r in rows],
        [" ".join(r[2].timezones) or None for r in rows],
        [r[2].source for r in rows],
    )


async def get_geo(
    conn: asyncpg.Connection, msisdn: str, shortcode: str
) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(GET_GEO, msisdn, shortcode)
    return row


# -- contact import (store/contact_imports.py stages and classifies the chunk) ------------

# A chunk of an import, set-based: every accepted row of `import_stage` with its verdict in
# contact_import_rows. The file's profile fields fill or replace the profile's; the
# subscription is set only where the classifier said `subscribed` (never over an opt-out,
# which CLASSIFY saw in this same transaction, and which this statement checks again on
# the row it locks: a STOP committed in between wins), and a file's opt-out stops the
# short code as STOP does. Nothing else of the engine's state is touched.
IMPORT_CONTACTS = """
INSERT INTO contacts (msisdn, shortcode, opted_out, state, created_at, updated_at)
SELECT r.msisdn, s.shortcode, r.effect = 'opted_out',
       jsonb_build_object(
           'v', 1,
           'profile', jsonb_strip_nulls(jsonb_build_object(
               'first_name', s.first_name, 'last_name', s.last_name, 'email', s.email,
               'zip', s.zip)),
           'subs', CASE WHEN r.effect IN ('subscribed', 'opted_out')
                        THEN jsonb_build_object(s.program, jsonb_build_object(
                            'status', r.effect, 'since', s.since, 'keyword', $3::text,
                            'import', $1::bigint))
                        ELSE '{}'::jsonb END),
       $2, $2
FROM import_stage s
JOIN contact_import_rows r ON r.import_id = $1 AND r.phase = 'import' AND r.row_no = s.row_no
WHERE r.outcome <> 'skipped'
ON CONFLICT (msisdn, shortcode) DO UPDATE
SET opted_out = contacts.opted_out OR EXCLUDED.opted_out,
    state = contacts.state || jsonb_build_object(
        'profile', coalesce(contacts.state->'profile', '{}'::jsonb) || (EXCLUDED.state->'profile'),
        'subs', coalesce(contacts.state->'subs', '{}'::jsonb) || CASE
            WHEN contacts.opted_out OR EXISTS (
                SELECT 1 FROM jsonb_each(EXCLUDED.state->'subs') n
                WHERE contacts.state->'subs'->n.key->>'status' = 'opted_out')
             AND NOT EXCLUDED.opted_out
            THEN '{}'::jsonb ELSE EXCLUDED.state->'subs' END),
    updated_at = EXCLUDED.updated_at
"""


async def import_chunk(conn: asyncpg.Connection, import_id: int, *, now: datetime,
                       keyword: str) -> int:
    """Write the staged chunk's contacts; how many rows were inserted or updated."""
    return affected(await conn.execute(IMPORT_CONTACTS, import_id, now, keyword))


# -- erasure (store/privacy.py runs it in its one transaction) ----------------------------

DELETE_NUMBER = "DELETE FROM contacts WHERE msisdn = $1"


async def delete_number(conn: asyncpg.Connection, msisdn: str) -> int:
    """Every short code's row of the number (erasure keeps its opt-out elsewhere)."""
    return affected(await conn.execute(DELETE_NUMBER, msisdn))
