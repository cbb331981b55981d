"""The MO log and the parts of long MOs still waiting for their siblings.

Long-MO parts are stored (and so acknowledged) one by one: acknowledging a
part we only held in memory would lose it if the process died before the
last part arrived.

Also the MOs whose acknowledgement the SMSC has not been seen to read
(`inbound_unacked`, keyed by a digest) and the redeliveries of those that
were answered without being stored again (`inbound_redeliveries`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from gateway.store.db import affected, columns
from gateway.store.one_statement import Step

RESERVE_IDS = "SELECT nextval($1::regclass) AS id FROM generate_series(1, $2)"

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

INSERT_UNACKED = """
INSERT INTO inbound_unacked (id, digest, received_at, inbound_id)
SELECT * FROM unnest($1::bigint[], $2::bytea[], $3::timestamptz[], $4::bigint[])
"""

# Losing this in a crash only leaves a row the window prunes: no fsync wait for it.
ASYNC_COMMIT = "SET LOCAL synchronous_commit = off"
DELETE_UNACKED = "DELETE FROM inbound_unacked WHERE id = ANY($1::bigint[])"
PRUNE_UNACKED = "DELETE FROM inbound_unacked WHERE received_at < $1"

INSERT_REDELIVERIES = """
INSERT INTO inbound_redeliveries (inbound_id, first_received_at, received_at)
SELECT * FROM unnest($1::bigint[], $2::timestamptz[], $3::timestamptz[])
"""


@dataclass(frozen=True, slots=True)
class NewInbound:
    msisdn: str
    shortcode: str
    body: str
    data_coding: int
    parts: int
    received_at: datetime


@dataclass(frozen=True, slots=True)
class Unacked:
    """A stored MO (or part) whose deliver_sm_resp the SMSC has not been seen to read."""

    id: int
    digest: bytes
    received_at: datetime
    inbound_id: int | None = None


@dataclass(frozen=True, slots=True)
class Redelivery:
    inbound_id: int | None
    first_received_at: datetime
    received_at: datetime


@dataclass(frozen=True, slots=True)
class PartKey:
    msisdn: str
    shortcode: str
    ref: int
    total: int


class IdReserve:
    """Sequence values fetched a block at a time, handed out in ascending order.

    Why: rows whose ids the caller must know before inserting (an MO's id goes
    into its replies and events in the same batch) would otherwise cost a
    round trip per batch. Every taker gets ascending ids, because each block
    is larger than every block before it and the reserve stays sorted.
    """

    def __init__(self, sequence: str, *, block: int = 1000) -> None:
        self._sequence = sequence
        self._block = block
        self._ids: list[int] = []

    async def take(self, conn: asyncpg.Connection, count: int) -> list[int]:
        while len(self._ids) < count:
            rows = await conn.fetch(RESERVE_IDS, self._sequence, max(self._block, count))
            self._ids = sorted(self._ids + [r["id"] for r in rows])
        taken, self._ids = self._ids[:count], self._ids[count:]
        return taken


async def insert_batch(
    conn: asyncpg.Connection, rows: Sequence[NewInbound], ids: Sequence[int]
) -> None:
    """Insert in arrival order, ids from an `IdReserve` (ascending: timelines sort by id)."""
    if rows:
        step = insert_step(rows, ids)
        await conn.execute(step.sql, *step.args)


def insert_step(rows: Sequence[NewInbound], ids: Sequence[int]) -> Step:
    """`insert_batch` as one step of a batch's single statement (store/one_statement.py)."""
    return Step(INSERT_BATCH, [
        list(ids),
        *columns(rows, "msisdn", "shortcode", "body", "data_coding", "parts", "received_at"),
    ], rows=len(rows))


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


async def insert_unacked(conn: asyncpg.Connection, rows: Sequence[Unacked]) -> None:
    if rows:
        step = unacked_step(rows)
        await conn.execute(step.sql, *step.args)


def unacked_step(rows: Sequence[Unacked]) -> Step:
    """`insert_unacked` as one step of a batch's single statement."""
    return Step(INSERT_UNACKED, columns(rows, "id", "digest", "received_at", "inbound_id"),
                rows=len(rows))


async def forget_unacked(conn: asyncpg.Connection, ids: Sequence[int]) -> None:
    """The SMSC read these acknowledgements: their MOs can no longer come back."""
    async with conn.transaction():
        await conn.execute(ASYNC_COMMIT)
        await conn.execute(DELETE_UNACKED, list(ids))


async def prune_unacked(conn: asyncpg.Connection, older_than: datetime) -> int:
    status: str = await conn.execute(PRUNE_UNACKED, older_than)
    return int(status.split()[-1])


async def insert_redeliveries(conn: asyncpg.Connection, rows: Sequence[Redelivery]) -> None:
    if rows:
        await conn.execute(INSERT_REDELIVERIES,
                           *columns(rows, "inbound_id", "first_received_at", "received_at"))


# -- erasure (store/privacy.py runs these in its one transaction) ------------------------

DELETE_PARTS_OF = "DELETE FROM inbound_parts WHERE msisdn = $1"
PSEUDONYMIZE = "UPDATE inbound SET msisdn = $2, body = '' WHERE msisdn = $1"


async def delete_parts_of(conn: asyncpg.Connection, msisdn: str) -> int:
    return affected(await conn.execute(DELETE_PARTS_OF, msisdn))


async def pseudonymize(conn: asyncpg.Connection, msisdn: str, pseudonym: str) -> int:
    return affected(await conn.execute(PSEUDONYMIZE, msisdn, pseudonym))
