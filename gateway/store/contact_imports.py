"""Contact imports (migration 430): the one writer of `contact_imports` and `contact_import_rows`.

A job is leased like the webhook deliveries (store/webhook_deliveries.py): a
claim takes one due import with FOR UPDATE SKIP LOCKED, sets a lease owner
and expiry and increments `attempts`; every later write about that run is
fenced by (id, lease owner, attempts), so a gateway whose lease ran out and
was taken over writes nothing, and its chunk's transaction rolls back whole.

A chunk is set-based: its rows are copied (COPY, `copy_records_to_table`)
into the session's temporary `import_stage`, then `CLASSIFY` decides every
row at once and writes `contact_import_rows`; on the real import the
contacts and the consent ledger are written from the same two tables by
their owners (store/contacts.py `IMPORT_CONTACTS`, store/consent.py
`INSERT_IMPORTED`), and `ADVANCE` records the progress. All of it commits
together, so a crash resumes at the first row not committed, and the final
state is the same as without the crash.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import asyncpg

from gateway.store.db import affected
from gateway.store.lease_fence import Attempt as Attempt

EFFECTIVE_NOW: Final = "greatest(now(), $1::timestamptz)"
DRY_RUN: Final = "dry_run"
IMPORT: Final = "import"

STAGE_COLUMNS: Final = (
    "row_no", "msisdn", "number_hash", "program", "program_name", "shortcode", "skip",
    "note", "column_name", "consent", "consent_source", "consent_at", "consent_wording",
    "since", "first_name", "last_name", "email", "zip", "tags")

# Lives as long as the pooled connection; emptied by every commit or rollback.
CREATE_STAGE = """
CREATE TEMP TABLE IF NOT EXISTS import_stage (
    row_no integer PRIMARY KEY, msisdn text, number_hash text, program text,
    program_name text, shortcode text, skip text, note text, column_name text,
    consent text, consent_source text, consent_at timestamptz, consent_wording text,
    since text, first_name text, last_name text, email text, zip text, tags text[]
) ON COMMIT DELETE ROWS
"""

# A temporary table has no statistics until asked for them.
ANALYZE_STAGE = "ANALYZE import_stage"
# A chunk's statements are planned afresh each time; compiling them (JIT) costs seconds
# and saves nothing on a few thousand rows.
NO_JIT = "SET LOCAL jit = off"

CREATE = """
INSERT INTO contact_imports (created_by, filename, file_format, content, headers, total_rows,
                             program, country, mapping, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10)
RETURNING id
"""

_SHOWN = """id, created_by, filename, file_format, headers, total_rows, program, country,
    mapping::text AS mapping, tags, phase, status, next_row, error, error_row, error_column,
    attempts, created_at, started_at, finished_at"""

GET = f"SELECT {_SHOWN} FROM contact_imports WHERE id = $1"
RECENT = f"SELECT {_SHOWN} FROM contact_imports ORDER BY id DESC LIMIT $1"
CONTENT = "SELECT content FROM contact_imports WHERE id = $1"

# The organizer's mapping, and the job queued: a new dry run, or the import after one.
QUEUE = """
UPDATE contact_imports
SET mapping = coalesce($3::jsonb, mapping), tags = coalesce($4::text[], tags), phase = $2,
    status = 'queued', next_row = 0,
    error = NULL, error_row = NULL, error_column = NULL, started_at = NULL, finished_at = NULL
WHERE id = $1 AND status IN ('uploaded', 'done', 'failed') AND content IS NOT NULL
  AND NOT (phase = 'import' AND status = 'done')
RETURNING id
"""

FORGET_PHASE = "DELETE FROM contact_import_rows WHERE import_id = $1 AND phase = $2"

CLAIM = f"""
WITH due AS (
    SELECT id FROM contact_imports
    WHERE status = 'queued' OR (status = 'running' AND lease_until < {EFFECTIVE_NOW})
    ORDER BY id
    LIMIT 1
    FOR UPDATE SKIP LOCKED
)
UPDATE contact_imports i
SET status = 'running', lease_owner = $2,
    lease_until = {EFFECTIVE_NOW} + make_interval(secs => $3),
    attempts = i.attempts + 1, started_at = coalesce(i.started_at, {EFFECTIVE_NOW})
FROM due
WHERE i.id = due.id
RETURNING i.id, i.attempts, i.phase, i.next_row
"""

# A gateway starting again gives back what it held (its run was cut off).
RELEASE_OWN = """
UPDATE contact_imports SET status = 'queued', lease_owner = NULL, lease_until = NULL
WHERE status = 'running' AND lease_owner = $1
"""

_FENCE = "id = $2 AND lease_owner = $3 AND attempts = $4 AND status = 'running'"

ADVANCE = f"""
UPDATE contact_imports
SET next_row = $5, lease_until = {EFFECTIVE_NOW} + make_interval(secs => $6)
WHERE {_FENCE} AND next_row = $7
RETURNING id
"""

# A gateway stopping between two chunks gives the rest back at once.
PAUSE = """
UPDATE contact_imports SET status = 'queued', lease_owner = NULL, lease_until = NULL
WHERE id = $1 AND lease_owner = $2 AND attempts = $3 AND status = 'running'
RETURNING id
"""

# The file goes once the import is done: it holds names and numbers nobody needs now.
FINISH = f"""
UPDATE contact_imports
SET status = 'done', finished_at = {EFFECTIVE_NOW}, lease_owner = NULL, lease_until = NULL,
    content = CASE WHEN phase = 'import' THEN NULL ELSE content END
WHERE {_FENCE}
RETURNING id
"""

FAIL = f"""
UPDATE contact_imports
SET status = 'failed', finished_at = {EFFECTIVE_NOW}, lease_owner = NULL, lease_until = NULL,
    error = $5, error_row = $6, error_column = $7
WHERE {_FENCE}
RETURNING id
"""

# The database's half of the row classifier (services/imports/rows.py is the other):
# a duplicate of an accepted row (earlier chunks, then this one), an opt-out already on
# record (this short code's contact row, its program, or an erased number's hash), a
# subscription already there; new or updated. The dry run and the import both run it.
# Every join is an equality on a staged row, so whatever the planner thinks of a fresh
# import's statistics (none yet), the cost stays linear in the chunk.
CLASSIFY = """
WITH staged AS (
    SELECT s.*, min(s.row_no) FILTER (WHERE s.skip IS NULL)
                OVER (PARTITION BY s.msisdn) AS chunk_first
    FROM import_stage s
), judged AS (
    SELECT s.*, c.msisdn IS NOT NULL AS known,
           coalesce(c.opted_out OR c.state->'subs'->s.program->>'status' = 'opted_out',
                    false) OR e.number_hash IS NOT NULL AS stopped,
           coalesce(c.state->'subs'->s.program->>'status' = 'subscribed', false) AS subscribed,
           CASE WHEN s.skip IS NULL THEN coalesce(
               p.row_no, CASE WHEN s.chunk_first < s.row_no THEN s.chunk_first END)
           END AS first_row
    FROM staged s
    LEFT JOIN contact_import_rows p  -- at most one: contact_import_rows_number_idx
      ON p.import_id = $1 AND p.phase = $2 AND p.msisdn = s.msisdn AND p.outcome <> 'skipped'
    LEFT JOIN contacts c ON c.msisdn = s.msisdn AND c.shortcode = s.shortcode
    LEFT JOIN erased_numbers e
      ON e.number_hash = s.number_hash AND e.shortcode = s.shortcode AND e.opted_out
)
INSERT INTO contact_import_rows (import_id, phase, row_no, msisdn, outcome, effect, reason,
                                 column_name, duplicate_of, tags)
SELECT $1, $2, j.row_no, j.msisdn,
       CASE WHEN j.skip IS NOT NULL OR j.first_row IS NOT NULL THEN 'skipped'
            WHEN j.known THEN 'updated' ELSE 'new' END,
       CASE WHEN j.skip IS NOT NULL OR j.first_row IS NOT NULL THEN NULL
            WHEN j.consent = 'opted_out' THEN 'opted_out'
            WHEN j.stopped THEN 'kept_opted_out'
            WHEN j.consent <> 'given' THEN 'contact_only'
            WHEN j.subscribed THEN 'already_subscribed'
            ELSE 'subscribed' END,
       CASE WHEN j.skip IS NOT NULL THEN j.skip
            WHEN j.first_row IS NOT NULL THEN 'duplicate'
            WHEN j.consent = 'opted_out' THEN NULL
            WHEN j.stopped THEN 'opted_out_before'
            ELSE j.note END,
       CASE WHEN j.skip IS NOT NULL THEN j.column_name
            WHEN j.first_row IS NOT NULL OR j.consent = 'opted_out' OR j.stopped THEN NULL
            ELSE j.column_name END,
       j.first_row,
       CASE WHEN j.skip IS NULL AND j.first_row IS NULL AND cardinality(j.tags) > 0
            THEN j.tags END
FROM judged j
ORDER BY j.row_no
"""

COUNTS = """
SELECT outcome, effect, reason, count(*) AS n FROM contact_import_rows
WHERE import_id = $1 AND phase = $2
GROUP BY outcome, effect, reason
"""

# The rows a person should look at: every one skipped or not subscribed, in file order.
REPORT = """
SELECT row_no, msisdn, outcome, effect, reason, column_name, duplicate_of
FROM contact_import_rows
WHERE import_id = $1 AND phase = $2 AND row_no > $3
  AND (outcome = 'skipped' OR effect IN ('contact_only', 'kept_opted_out', 'opted_out'))
ORDER BY row_no
LIMIT $4
"""

# The tags a phase puts on (or would put on): each with how many numbers of the file get it.
TAG_COUNTS = """
SELECT t.tag, count(*) AS n
FROM contact_import_rows r CROSS JOIN LATERAL unnest(r.tags) AS t(tag)
WHERE r.import_id = $1 AND r.phase = $2 AND r.tags IS NOT NULL
GROUP BY t.tag ORDER BY t.tag
"""

# The staged chunk's accepted numbers by tag, for store/tags.py `tag_numbers` (one
# statement per tag: a file has a handful of tags, a chunk thousands of rows).
CHUNK_TAGS = """
SELECT t.tag, array_agg(r.msisdn ORDER BY r.row_no) AS numbers
FROM import_stage s
JOIN contact_import_rows r ON r.import_id = $1 AND r.phase = $2 AND r.row_no = s.row_no
CROSS JOIN LATERAL unnest(r.tags) AS t(tag)
WHERE r.tags IS NOT NULL
GROUP BY t.tag ORDER BY t.tag
"""

# Retention (GATEWAY_IMPORT_UPLOAD_RETENTION_HOURS): a file still kept and not touched since
# $1 (uploaded and never run, a dry run never imported, a run stopped by an error) goes,
# with its mapping and its dry run's rows; the import's own rows, if any ran, stay as the
# record of what it did. Nothing queued or running is touched.
EXPIRE = """
WITH expired AS (
    UPDATE contact_imports
    SET status = 'expired', content = NULL, mapping = NULL,
        finished_at = coalesce(finished_at, $2)
    WHERE content IS NOT NULL AND status IN ('uploaded', 'done', 'failed')
      AND coalesce(finished_at, created_at) < $1
    RETURNING id
), forgotten AS (
    DELETE FROM contact_import_rows r USING expired e
    WHERE r.import_id = e.id AND r.phase = 'dry_run'
)
SELECT id FROM expired ORDER BY id
"""

# -- erasure (store/privacy.py ERASE_STEPS) ----------------------------------------------
DELETE_ROWS_OF = "DELETE FROM contact_import_rows WHERE msisdn = $1"


@dataclass(frozen=True, slots=True)
class Claimed:
    """One run of an import, leased to this worker (`attempts` names the run)."""

    id: int
    attempts: int
    phase: str
    next_row: int


async def create(conn: asyncpg.Connection, *, created_by: str, filename: str,
                 file_format: str, content: bytes, headers: Sequence[str], total_rows: int,
                 program: str, country: str, mapping: Mapping[str, str] | None,
                 now: datetime) -> int:
    import_id: int = await conn.fetchval(
        CREATE, created_by, filename, file_format, content, list(headers), total_rows,
        program, country, json.dumps(mapping) if mapping is not None else None, now)
    return import_id


def _shown(row: asyncpg.Record) -> dict[str, Any]:
    found = dict(row)
    found["mapping"] = json.loads(row["mapping"]) if row["mapping"] else None
    found["headers"] = list(row["headers"])
    found["tags"] = list(row["tags"])
    return found


async def get(conn: asyncpg.Connection, import_id: int) -> dict[str, Any] | None:
    row = await conn.fetchrow(GET, import_id)
    return _shown(row) if row is not None else None


async def recent(conn: asyncpg.Connection, limit: int) -> list[dict[str, Any]]:
    return [_shown(r) for r in await conn.fetch(RECENT, limit)]


async def content(conn: asyncpg.Connection, import_id: int) -> bytes | None:
    found: bytes | None = await conn.fetchval(CONTENT, import_id)
    return found


async def queue(conn: asyncpg.Connection, import_id: int, phase: str,
                mapping: Mapping[str, str] | None,
                tags: Sequence[str] | None = None) -> bool:
    """Queue a phase (its earlier rows forgotten); False when the import is not in a state to.

    `mapping` and `tags` (the file's own) None: as chosen before."""
    queued = await conn.fetchval(QUEUE, import_id, phase,
                                 json.dumps(mapping) if mapping is not None else None,
                                 list(tags) if tags is not None else None)
    if queued is not None:
        await conn.execute(FORGET_PHASE, import_id, phase)
    return queued is not None


async def claim(conn: asyncpg.Connection, *, now: datetime, owner: str,
                lease_seconds: float) -> Claimed | None:
    row = await conn.fetchrow(CLAIM, now, owner, lease_seconds)
    return Claimed(row["id"], row["attempts"], row["phase"], row["next_row"]) if row else None


async def release_own(conn: asyncpg.Connection, owner: str) -> int:
    return affected(await conn.execute(RELEASE_OWN, owner))


async def stage(conn: asyncpg.Connection, records: Sequence[tuple[Any, ...]]) -> None:
    """Copy a chunk's rows into `import_stage` (in the caller's transaction)."""
    await conn.execute(NO_JIT)
    await conn.execute(CREATE_STAGE)
    await conn.copy_records_to_table("import_stage", records=records, columns=STAGE_COLUMNS)
    await conn.execute(ANALYZE_STAGE)


async def classify(conn: asyncpg.Connection, import_id: int, phase: str) -> None:
    await conn.execute(CLASSIFY, import_id, phase)


async def advance(conn: asyncpg.Connection, attempt: Attempt, *, now: datetime,
                  done_before: int, next_row: int, lease_seconds: float) -> bool:
    """Record the chunk's progress; False: the lease is someone else's (roll back)."""
    return await conn.fetchval(ADVANCE, now, attempt.id, attempt.owner, attempt.attempts,
                               next_row, lease_seconds, done_before) is not None


async def pause(conn: asyncpg.Connection, attempt: Attempt) -> bool:
    return await conn.fetchval(PAUSE, attempt.id, attempt.owner, attempt.attempts) is not None


async def finish(conn: asyncpg.Connection, attempt: Attempt, *, now: datetime) -> bool:
    return await conn.fetchval(FINISH, now, attempt.id, attempt.owner,
                               attempt.attempts) is not None


async def fail(conn: asyncpg.Connection, attempt: Attempt, *, now: datetime, error: str,
               row: int | None, column: str | None) -> bool:
    return await conn.fetchval(FAIL, now, attempt.id, attempt.owner, attempt.attempts,
                               error, row, column) is not None


async def counts(conn: asyncpg.Connection, import_id: int,
                 phase: str) -> list[tuple[str, str | None, str | None, int]]:
    rows = await conn.fetch(COUNTS, import_id, phase)
    return [(r["outcome"], r["effect"], r["reason"], r["n"]) for r in rows]


async def report(conn: asyncpg.Connection, import_id: int, phase: str, *, after_row: int,
                 limit: int) -> list[dict[str, Any]]:
    return [dict(r) for r in await conn.fetch(REPORT, import_id, phase, after_row, limit)]


async def tag_counts(conn: asyncpg.Connection, import_id: int,
                     phase: str) -> dict[str, int]:
    return {r["tag"]: int(r["n"]) for r in await conn.fetch(TAG_COUNTS, import_id, phase)}


async def chunk_tags(conn: asyncpg.Connection, import_id: int,
                     phase: str) -> list[tuple[str, list[str]]]:
    """(tag, numbers) of the staged, classified chunk's accepted rows."""
    return [(r["tag"], list(r["numbers"]))
            for r in await conn.fetch(CHUNK_TAGS, import_id, phase)]


async def expire(conn: asyncpg.Connection, *, before: datetime, now: datetime) -> list[int]:
    """Purge the files kept since before `before`; the ids of the imports expired."""
    return [r["id"] for r in await conn.fetch(EXPIRE, before, now)]


async def delete_rows_of(conn: asyncpg.Connection, msisdn: str) -> int:
    return affected(await conn.execute(DELETE_ROWS_OF, msisdn))
