"""Contacts: one row per (number, short code) holding the engine's state.

The engine's state is opaque here (a jsonb document); only `opted_out` is a
column of its own, because the outbox reads it at send time for every MT.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

LIST_STATES = """
SELECT c.msisdn, c.shortcode, c.opted_out, c.state::text AS state
FROM contacts c
JOIN unnest($1::text[], $2::text[]) AS k(msisdn, shortcode)
  ON c.msisdn = k.msisdn AND c.shortcode = k.shortcode
"""

UPSERT_STATES = """
INSERT INTO contacts (msisdn, shortcode, opted_out, state, updated_at)
SELECT k.msisdn, k.shortcode, k.opted_out, k.state::jsonb, k.updated_at
FROM unnest($1::text[], $2::text[], $3::bool[], $4::text[], $5::timestamptz[])
     AS k(msisdn, shortcode, opted_out, state, updated_at)
ON CONFLICT (msisdn, shortcode) DO UPDATE
SET opted_out = EXCLUDED.opted_out, state = EXCLUDED.state, updated_at = EXCLUDED.updated_at
"""

GET_CONTACT = """
SELECT msisdn, shortcode, opted_out, state::text AS state, created_at, updated_at
FROM contacts WHERE msisdn = $1 AND shortcode = $2
"""

StateKey = tuple[str, str]


async def list_states(
    conn: asyncpg.Connection, keys: Sequence[StateKey]
) -> dict[StateKey, tuple[bool, dict[str, Any]]]:
    rows = await conn.fetch(LIST_STATES, [k[0] for k in keys], [k[1] for k in keys])
    return {(r["msisdn"], r["shortcode"]): (r["opted_out"], json.loads(r["state"])) for r in rows}


async def upsert_states(
    conn: asyncpg.Connection,
    states: Sequence[tuple[str, str, bool, dict[str, Any]]],
    *,
    now: datetime,
) -> None:
    if not states:
        return
    await conn.execute(
        UPSERT_STATES,
        [s[0] for s in states],
        [s[1] for s in states],
        [s[2] for s in states],
        [json.dumps(s[3], separators=(",", ":")) for s in states],
        [now] * len(states),
    )


async def get_contact(
    conn: asyncpg.Connection, msisdn: str, shortcode: str
) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(GET_CONTACT, msisdn, shortcode)
    return row
