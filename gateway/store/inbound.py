"""The MO log and the parts of long MOs still waiting for their siblings.

Long-MO parts are stored (and so acknowledged) one by one: acknowledging a
part we only held in memory would lose it if the process died before the
last part arrived.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

ALLOCATE_IDS = "SELECT nextval('inbound_id_seq') AS id FROM generate_series(1, $1)"

INSERT_BATCH = """
INSERT INTO inbound (id, msisdn, shortcode, body, data_coding, parts, received_at)
SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::int2[], $6::int2[],
                     $7::timestamptz[])
"""

INSERT_PART = """
INSERT INTO inbound_parts (msisdn, shortcode, ref, total, seq, data_coding, body, received_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT DO NOTHING
"""

LIST_PARTS = """
SELECT seq, data_coding, body, received_at FROM inbound_parts
WHERE msisdn = $1 AND shortcode = $2 AND ref = $3 AND total = $4
ORDER BY seq
"""

DELETE_PARTS = """
DELETE FROM inbound_parts WHERE msisdn = $1 AND shortcode = $2 AND ref = $3 AND total = $4
"""

LIST_STALE_GROUPS = """
SELECT msisdn, shortcode, ref, total, min(received_at) AS first_at
FROM inbound_parts GROUP BY msisdn, shortcode, ref, total
HAVING min(received_at) < $1
"""

COUNT_INBOUND = "SELECT count(*) FROM inbound"


@dataclass(frozen=True, slots=True)
class NewInbound:
    msisdn: str
    shortcode: str
    body: str
    data_coding: int
    parts: int
    received_at: datetime


@dataclass(frozen=True, slots=True)
class PartKey:
    msisdn: str
    shortcode: str
    ref: int
    total: int


async def insert_batch(conn: asyncpg.Connection, rows: Sequence[NewInbound]) -> list[int]:
    """Insert in order; ids ascend with arrival so the timeline sorts by id."""
    if not rows:
        return []
    ids = sorted(r["id"] for r in await conn.fetch(ALLOCATE_IDS, len(rows)))
    await conn.execute(
        INSERT_BATCH,
        ids,
        [r.msisdn for r in rows],
        [r.shortcode for r in rows],
        [r.body for r in rows],
        [r.data_coding for r in rows],
        [r.parts for r in rows],
        [r.received_at for r in rows],
    )
    return ids


async def insert_part(
    conn: asyncpg.Connection, key: PartKey, seq: int, data_coding: int, body: bytes, at: datetime
) -> None:
    await conn.execute(
        INSERT_PART, key.msisdn, key.shortcode, key.ref, key.total, seq, data_coding, body, at
    )


async def list_parts(conn: asyncpg.Connection, key: PartKey) -> list[asyncpg.Record]:
    return list(await conn.fetch(LIST_PARTS, key.msisdn, key.shortcode, key.ref, key.total))


async def delete_parts(conn: asyncpg.Connection, key: PartKey) -> None:
    await conn.execute(DELETE_PARTS, key.msisdn, key.shortcode, key.ref, key.total)


async def list_stale_groups(conn: asyncpg.Connection, older_than: datetime) -> list[PartKey]:
    rows = await conn.fetch(LIST_STALE_GROUPS, older_than)
    return [PartKey(r["msisdn"], r["shortcode"], r["ref"], r["total"]) for r in rows]


async def count_inbound(conn: asyncpg.Connection) -> int:
    value: int = await conn.fetchval(COUNT_INBOUND)
    return value
