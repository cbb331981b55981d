"""Contact exports (migration 440): the rows of a segment, streamed; the one writer of
`contact_exports` and of `contact_export_files` (an API job's CSV, in chunks).

Why a server-side cursor: an export of a 500,000-person segment must not sit
in the gateway's memory, neither as asyncpg records nor as CSV text; rows are
fetched `PREFETCH` at a time inside one read-only transaction (a consistent
snapshot of the audience) and handed on as they come. The WHERE is the
broadcasts' own (store/audience.py `eligible_where`), so an export of a
segment holds exactly the people a broadcast to it would reach.

Each column is a named SQL fragment over `contacts c`; which names a caller
may ask for is the service's rule (services/exports.py), not this module's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import asyncpg

from gateway.audience import Audience
from gateway.plain_words import N_, Words
from gateway.store.audience import SqlParams, eligible_where
from gateway.store.db import affected

PREFETCH: Final = 1_000

# Gifts: confirmed and not failed or lapsed (store/audience.py DONATED's rule), any code.
_GIFTS = ("FROM donations d WHERE d.msisdn = c.msisdn AND d.confirmed_at IS NOT NULL"
          " AND d.status NOT IN ('failed', 'refused', 'cancelled', 'expired', 'refunded')")
# The donor's latest details (finance's itemization source), whatever the committee.
_DETAILS = "(SELECT dd.{col} FROM donor_details dd WHERE dd.msisdn = c.msisdn AND dd.{col} " \
           "IS NOT NULL ORDER BY dd.id DESC LIMIT 1)"

COLUMNS: Final[dict[str, str]] = {
    "msisdn": "c.msisdn",
    "joined_at": "c.state->'subs'->{program}->>'since'",
    "joined_by": "c.state->'subs'->{program}->>'keyword'",
    "zip": "c.zip",
    "region": "c.region",
    "country": "c.country",
    "timezone": "c.timezones[1]",
    "tags": "(SELECT string_agg(t.tag, ' ' ORDER BY t.tag) FROM contact_tags t"
            " WHERE t.msisdn = c.msisdn)",
    "first_seen": "c.created_at",
    "gift_count": f"(SELECT count(*) {_GIFTS})",
    "gift_total_cents": f"(SELECT coalesce(sum(d.amount_cents), 0) {_GIFTS})",
    "donor_name": _DETAILS.format(col="name"),
    "employer": _DETAILS.format(col="employer"),
    "occupation": _DETAILS.format(col="occupation"),
}
PROFILE_PREFIX: Final = "profile."

# What each column holds, for the export page (the CSV's header is the name itself).
COLUMN_WORDS: Final[Words] = {
    "msisdn": N_("Mobile number"),
    "joined_at": N_("When they joined the program"),
    "joined_by": N_("The keyword they joined with"),
    "zip": N_("Zip or postal code"),
    "region": N_("State or region"),
    "country": N_("Country"),
    "timezone": N_("Time zone"),
    "tags": N_("Tags"),
    "first_seen": N_("When we first heard from them"),
    "gift_count": N_("Number of gifts"),
    "gift_total_cents": N_("Total given, in cents"),
    "donor_name": N_("Donor's name"),
    "employer": N_("Employer"),
    "occupation": N_("Occupation"),
}


ROWS = "SELECT {columns} FROM contacts c WHERE {where} ORDER BY c.msisdn"

INSERT = """
INSERT INTO contact_exports (requested_by, via, program, segment_id, filter, fields, owner)
VALUES ($1, $2, $3, $4, $5, $6, $7)
RETURNING id
"""

FINISH = """
UPDATE contact_exports SET status = $2, rows = $3, error = $4, finished_at = clock_timestamp()
WHERE id = $1
"""

_JOB = """id, requested_by, via, status, program, segment_id, filter, fields, rows, owner,
       error, created_at, finished_at, revoked_at, revoked_by"""

GET = f"SELECT {_JOB} FROM contact_exports WHERE id = $1"

# The exports page's list of files for warehouses: the latest API jobs, and whether their
# file is still kept (pruned after GATEWAY_EXPORTS_KEEP_DAYS, or revoked).
RECENT_JOBS = f"""
SELECT {_JOB},
       EXISTS (SELECT 1 FROM contact_export_files f WHERE f.export_id = e.id) AS has_file
FROM contact_exports e WHERE via = 'api' ORDER BY id DESC LIMIT $1
"""

# One finished job's download revoked: the file's chunks go in the same statement, so a
# link that still verifies finds nothing to serve (the route answers 410 from revoked_at).
REVOKE = """
WITH revoked AS (
    UPDATE contact_exports SET revoked_at = $3, revoked_by = $2
    WHERE id = $1 AND via = 'api' AND status = 'done' AND revoked_at IS NULL
    RETURNING id
), dropped AS (
    DELETE FROM contact_export_files f USING revoked r WHERE f.export_id = r.id
)
SELECT count(*) FROM revoked
"""

# Jobs this instance left running when it stopped (another instance's are its own: they
# may be running now); they are failed, their partial file deleted, and asked again.
FAIL_STALE = """
WITH failed AS (
    UPDATE contact_exports SET status = 'failed',
                               error = 'the gateway stopped during the export',
                               finished_at = clock_timestamp()
    WHERE status = 'running' AND via = 'api' AND owner = $1 AND created_at < $2
    RETURNING id
), dropped AS (
    DELETE FROM contact_export_files f USING failed WHERE f.export_id = failed.id
)
SELECT count(*) FROM failed
"""

APPEND_CHUNK = """
INSERT INTO contact_export_files (export_id, seq, data) VALUES ($1, $2, $3)
"""

FILE_CHUNK = """
SELECT data FROM contact_export_files WHERE export_id = $1 AND seq = $2
"""

# Files of exports finished before $1 (GATEWAY_EXPORTS_KEEP_DAYS): their links have long
# expired; the row and the audit log keep that the export was made.
PRUNE_FILES = """
DELETE FROM contact_export_files f USING contact_exports e
WHERE e.id = f.export_id AND e.finished_at < $1
"""


@dataclass(frozen=True, slots=True)
class ExportJob:
    id: int
    requested_by: str
    via: str
    status: str
    program: str
    segment_id: int | None
    filter: str
    fields: list[str]
    rows: int | None
    owner: str | None
    error: str | None
    created_at: datetime
    finished_at: datetime | None
    revoked_at: datetime | None = None
    revoked_by: str | None = None


def rows_query(*, shortcode: str, program: str, audience: Audience | None, fields: Sequence[str],
               now: datetime) -> tuple[str, list[Any]]:
    """The SELECT of the chosen columns (each a COLUMNS name or profile.<field>)."""
    params = SqlParams()
    where = eligible_where(params, shortcode=shortcode, program=program, audience=audience, now=now)
    program_param = ""  # added once, only if a column names the program
    columns = []
    for name in fields:
        if name.startswith(PROFILE_PREFIX):
            sql = f"c.state->'profile'->>{params.add(name[len(PROFILE_PREFIX):], 'text')}"
        else:
            if "{program}" in COLUMNS[name] and not program_param:
                program_param = params.add(program, "text")
            sql = COLUMNS[name].format(program=program_param)
        columns.append(sql)
    return ROWS.format(columns=", ".join(columns), where=where), params.values


async def stream_rows(conn: asyncpg.Connection, query: str, params: Sequence[Any],
                      ) -> AsyncIterator[tuple[Any, ...]]:
    """Each row as a tuple, through a server-side cursor in a read-only snapshot."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        async for record in conn.cursor(query, *params, prefetch=PREFETCH):
            yield tuple(record.values())


async def insert(conn: asyncpg.Connection, *, requested_by: str, via: str, program: str,
                 segment_id: int | None, filter: str, fields: Sequence[str],
                 owner: str | None = None) -> int:
    export_id: int = await conn.fetchval(INSERT, requested_by, via, program, segment_id,
                                         filter, list(fields), owner)
    return export_id


async def finish(conn: asyncpg.Connection, export_id: int, *, status: str, rows: int,
                 error: str | None = None) -> None:
    await conn.execute(FINISH, export_id, status, rows, error)


async def append_chunk(conn: asyncpg.Connection, export_id: int, seq: int, data: bytes
                       ) -> None:
    """The job's file grows by one chunk (committed alone: the job's own transaction is the
    read snapshot, on another connection)."""
    await conn.execute(APPEND_CHUNK, export_id, seq, data)


async def file_chunk(conn: asyncpg.Connection, export_id: int, seq: int) -> bytes | None:
    """Chunk `seq` of the job's file, or None past its end."""
    data: bytes | None = await conn.fetchval(FILE_CHUNK, export_id, seq)
    return data


async def prune_files(conn: asyncpg.Connection, before: datetime) -> int:
    return affected(await conn.execute(PRUNE_FILES, before))


async def get(conn: asyncpg.Connection, export_id: int) -> ExportJob | None:
    row = await conn.fetchrow(GET, export_id)
    return None if row is None else ExportJob(**dict(row))


async def recent_jobs(conn: asyncpg.Connection, limit: int) -> list[tuple[ExportJob, bool]]:
    """The latest API jobs, newest first, each with whether its file is still kept."""
    found = []
    for row in await conn.fetch(RECENT_JOBS, limit):
        fields = dict(row)
        has_file = bool(fields.pop("has_file"))
        found.append((ExportJob(**fields), has_file))
    return found


async def revoke(conn: asyncpg.Connection, export_id: int, *, by: str, now: datetime) -> bool:
    """Revoke a finished job's download and delete its file; False if it was not one to."""
    revoked: int = await conn.fetchval(REVOKE, export_id, by, now)
    return revoked == 1


async def fail_stale(conn: asyncpg.Connection, *, owner: str, before: datetime) -> int:
    failed: int = await conn.fetchval(FAIL_STALE, owner, before)
    return failed
