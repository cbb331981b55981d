"""Local committees and campaign events: what the knowledge base looks up (migration 010).

Nearest committee, in this order: one at the same postal code; else the
closest by great-circle distance when both the asked code and the committee
have a position (US zips, from the offline zip table; at most `max_km`);
else one in the same area (French département, US zip3). Why not distance
everywhere: France has no offline postal-code coordinates we can ship, and
"your département's committee" is what French organizers expect anyway.
Positions and areas are computed by the caller (pipeline/contact_centre.py),
so this module stays SQL only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

INSERT_COMMITTEE = """
INSERT INTO committees (name, address, postal_code, city, country, area, phone, lat, lon)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
RETURNING id
"""

# $1 country, $2 postal code, $3 area, $4/$5 lat/lon of the asked code (NULL: unknown),
# $6 the largest distance that still counts as near.
NEAREST_COMMITTEE = """
SELECT id, name, address, postal_code, city, phone, distance_km FROM (
    SELECT c.*,
           CASE WHEN $4::float8 IS NULL OR c.lat IS NULL THEN NULL
                ELSE 2 * 6371.0 * asin(sqrt(
                    power(sin(radians(c.lat - $4::float8) / 2), 2)
                    + cos(radians($4::float8)) * cos(radians(c.lat))
                      * power(sin(radians(c.lon - $5::float8) / 2), 2)))
           END AS distance_km
    FROM committees c
    WHERE c.active AND c.country = $1
) AS k
WHERE k.postal_code = $2 OR k.distance_km <= $6 OR k.area = $3
ORDER BY k.postal_code = $2 DESC, k.distance_km NULLS LAST, k.area = $3 DESC, k.id
LIMIT 1
"""

LIST_COMMITTEES = """
SELECT id, name, address, postal_code, city, country, area, phone, lat, lon, active
FROM committees WHERE ($1::text IS NULL OR country = $1) ORDER BY country, postal_code, id
"""

INSERT_EVENT = """
INSERT INTO campaign_events (program, title, starts_at, timezone, location, postal_code,
                             country, area)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
RETURNING id
"""

# The next events for a program, those in the asked area first when one is given.
UPCOMING_EVENTS = """
SELECT id, title, starts_at, timezone, location
FROM campaign_events
WHERE published AND starts_at >= $1 AND (program IS NULL OR program = $2)
  AND (country IS NULL OR country = $3)
ORDER BY ($4::text IS NOT NULL AND area IS NOT DISTINCT FROM $4) DESC, starts_at, id
LIMIT $5
"""


# Organizers' lists: events newest first (past ones too, to correct them), and the
# two switches they flip.
LIST_EVENTS = """
SELECT id, program, title, starts_at, timezone, location, postal_code, country, area, published
FROM campaign_events
WHERE ($1::text IS NULL OR program IS NULL OR program = $1)
ORDER BY starts_at DESC, id DESC
LIMIT $2
"""

SET_EVENT_PUBLISHED = """
UPDATE campaign_events SET published = $2, updated_at = now() WHERE id = $1 RETURNING id
"""

SET_COMMITTEE_ACTIVE = """
UPDATE committees SET active = $2, updated_at = now() WHERE id = $1 RETURNING id
"""


@dataclass(frozen=True, slots=True)
class NewCommittee:
    name: str
    address: str
    postal_code: str
    country: str  # ISO alpha-2
    area: str  # département or zip3
    city: str = ""
    phone: str | None = None
    lat: float | None = None
    lon: float | None = None


@dataclass(frozen=True, slots=True)
class NewCampaignEvent:
    title: str
    starts_at: datetime
    timezone: str
    location: str = ""
    program: str | None = None
    postal_code: str | None = None
    country: str | None = None
    area: str | None = None


async def insert_committee(conn: asyncpg.Connection, c: NewCommittee) -> int:
    return int(await conn.fetchval(
        INSERT_COMMITTEE, c.name, c.address, c.postal_code, c.city, c.country, c.area, c.phone,
        c.lat, c.lon))


async def get_nearest_committee(
    conn: asyncpg.Connection, *, country: str, postal_code: str, area: str,
    lat: float | None = None, lon: float | None = None, max_km: float = 300.0,
) -> asyncpg.Record | None:
    """The committee to tell someone at `postal_code` about, or None when none is near."""
    return await conn.fetchrow(NEAREST_COMMITTEE, country, postal_code, area, lat, lon, max_km)


async def list_committees(
    conn: asyncpg.Connection, country: str | None = None
) -> list[asyncpg.Record]:
    return list(await conn.fetch(LIST_COMMITTEES, country))


async def insert_event(conn: asyncpg.Connection, e: NewCampaignEvent) -> int:
    return int(await conn.fetchval(
        INSERT_EVENT, e.program, e.title, e.starts_at, e.timezone, e.location, e.postal_code,
        e.country, e.area))


async def list_upcoming_events(
    conn: asyncpg.Connection, *, program: str, country: str, now: datetime,
    area: str | None = None, limit: int = 3,
) -> list[asyncpg.Record]:
    """Published events from `now` on, for the program (or every program), soonest first."""
    return list(await conn.fetch(UPCOMING_EVENTS, now, program, country, area, limit))


async def list_events(
    conn: asyncpg.Connection, *, program: str | None = None, limit: int = 200,
) -> list[asyncpg.Record]:
    return list(await conn.fetch(LIST_EVENTS, program, limit))


async def set_event_published(conn: asyncpg.Connection, event_id: int, published: bool) -> bool:
    """False when there is no such event."""
    return await conn.fetchval(SET_EVENT_PUBLISHED, event_id, published) is not None


async def set_committee_active(conn: asyncpg.Connection, committee_id: int, active: bool
                               ) -> bool:
    """False when there is no such committee."""
    return await conn.fetchval(SET_COMMITTEE_ACTIVE, committee_id, active) is not None
