"""Contacts' derived location columns: zip, region, country, time zones, and their source.

The engine keeps profile answers in the contact's jsonb state; quiet hours
and broadcast targeting need them as plain columns they can filter on
(`WHERE region = 'FL'`, `WHERE 'America/Chicago' = ANY(timezones)`). The
values are computed in Python (`gateway.geo`) and written here in one
statement per batch; a row whose values did not change is not rewritten.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import asyncpg

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

GET_GEO = """
SELECT zip, region, country, timezones, geo_source
FROM contacts WHERE msisdn = $1 AND shortcode = $2
"""


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
