"""Broadcasts and their materialization into the outbox.

Materialization is set-based and resumable. Each batch is ONE statement:
it picks the next `batch_size` eligible contacts in msisdn order after the
broadcast's cursor, renders their text in SQL, takes each one's quiet-hours
times from a small table the caller computed (one entry per distinct
"zone key": time zones, state, country, dialling prefix), inserts the
outbox rows and advances the cursor, all or nothing. A crash between
batches resumes at the cursor; the UNIQUE (broadcast_id, msisdn) constraint
with ON CONFLICT DO NOTHING makes even a rerun from scratch harmless.

When the batch meets a zone key the caller has not timed yet (a contact
changed since the keys were listed), the statement inserts nothing and
returns the missing keys; the caller times them and runs the batch again.
Quiet-hours arithmetic stays in Python (`gateway.broadcast.quiet_hours`,
property-tested), applied here as data.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from gateway.segments import Segment
from gateway.store.broadcast_frequency import COUNTED_STATUSES
from gateway.store.outbound import PRIORITY_BROADCAST
from gateway.store.segments import SqlParams, eligible_where

BROADCAST_PRIORITY = PRIORITY_BROADCAST  # replies and compliance messages go first

INSERT_BROADCAST = """
INSERT INTO broadcasts (program, shortcode, filter, template, status, scheduled_at, created_by,
                        frequency_max, frequency_window, frequency_overridden)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
RETURNING id
"""

GET_BROADCAST = """
SELECT id, program, shortcode, filter, template, status, scheduled_at, created_by, created_at,
       materialized_through, recipients, materialized_at, frequency_max, frequency_window,
       frequency_overridden, over_frequency
FROM broadcasts WHERE id = $1
"""

MARK_MATERIALIZED = """
UPDATE broadcasts SET materialized_at = clock_timestamp(), updated_at = clock_timestamp()
WHERE id = $1 AND materialized_at IS NULL
"""

# Serializes the frequency check of one program's broadcasts being written at once.
PROGRAM_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended('broadcast-frequency:' || $1, 0))"

GET_PROGRESS = """
SELECT id, status, recipients, materialized_at, queued, deferred, sending, sent, delivered,
       failed, suppressed, cancelled, over_frequency
FROM broadcast_progress WHERE id = $1
"""

# Zone key parts: the contact's zones, state, country, and the dialling prefix
# that gives the area code's state and zones (+1 and NPA; for others only
# when nothing else is known). chr(31) (unit separator) never occurs in them.
ZONE_PREFIX = (
    "CASE WHEN c.msisdn LIKE '+1%' OR c.timezones IS NULL THEN left(c.msisdn, 5) ELSE '' END"
)
ZONE_KEY = (
    "concat_ws(chr(31), coalesce(array_to_string(c.timezones, ' '), ''),"
    " coalesce(c.region, ''), coalesce(c.country, ''), " + ZONE_PREFIX + ")"
)

LIST_ZONE_KEYS = f"""
SELECT {ZONE_KEY} AS zone_key, array_to_string(c.timezones, ' ') AS timezones, c.region,
       c.country, {ZONE_PREFIX} AS prefix, min(c.msisdn) AS sample
FROM contacts c
WHERE {{where}} AND c.msisdn > {{after}}
GROUP BY 1, 2, 3, 4, 5
"""

MATERIALIZE_BATCH = f"""
WITH batch AS (
    SELECT c.msisdn, {ZONE_KEY} AS zone_key, {{body}} AS body,
           array_to_string(c.timezones, ' ') AS timezones, c.region, c.country,
           {ZONE_PREFIX} AS prefix
    FROM contacts c
    WHERE {{where}} AND c.msisdn > {{after}}
    ORDER BY c.msisdn
    LIMIT {{limit}}
),
over_limit AS (
    SELECT o.msisdn FROM outbound o JOIN broadcasts ob ON ob.id = o.broadcast_id
    WHERE {{limit_on}} AND o.msisdn IN (SELECT msisdn FROM batch)
      AND ob.program = {{subject}} AND o.broadcast_id <> {{broadcast}}
      AND o.status = ANY({{counted}})
      AND (o.submitted_at IS NULL OR o.submitted_at > {{since}})
    GROUP BY o.msisdn
    HAVING count(*) >= {{max_messages}}
),
timing AS (
    SELECT * FROM unnest({{keys}}, {{not_before}}, {{not_after}})
                  AS t(zone_key, not_before, not_after)
),
caps AS (
    SELECT * FROM unnest({{cap_keys}}, {{caps}}, {{cap_periods}})
                  AS k(zone_key, subject_cap, subject_period_s)
),
planned AS (
    SELECT b.*, t.not_before, t.not_after, k.subject_cap, k.subject_period_s
    FROM batch b LEFT JOIN timing t ON t.zone_key = b.zone_key
                 LEFT JOIN caps k ON k.zone_key = b.zone_key
    WHERE b.msisdn NOT IN (SELECT msisdn FROM over_limit)
),
ready AS (
    SELECT NOT EXISTS (SELECT 1 FROM planned WHERE not_before IS NULL) AS ok
),
inserted AS (
    INSERT INTO outbound (msisdn, shortcode, body, priority, broadcast_id, not_before, not_after,
                          subject, subject_cap, subject_period_s)
    SELECT p.msisdn, {{shortcode}}, p.body, {BROADCAST_PRIORITY}, {{broadcast}},
           p.not_before, p.not_after, {{subject}}, p.subject_cap, p.subject_period_s
    FROM planned p
    WHERE (SELECT ok FROM ready)
    ORDER BY p.msisdn
    ON CONFLICT (broadcast_id, msisdn) DO NOTHING
    RETURNING 1
),
advanced AS (
    UPDATE broadcasts
    SET materialized_through = greatest(materialized_through, (SELECT max(msisdn) FROM batch)),
        recipients = recipients + (SELECT count(*) FROM inserted),
        over_frequency = over_frequency + (SELECT count(*) FROM over_limit),
        updated_at = clock_timestamp()
    WHERE id = {{broadcast}} AND (SELECT ok FROM ready) AND EXISTS (SELECT 1 FROM batch)
    RETURNING materialized_through
)
SELECT (SELECT count(*) FROM batch) AS scanned,
       (SELECT count(*) FROM inserted) AS inserted,
       (SELECT count(*) FROM over_limit) AS over_frequency,
       (SELECT materialized_through FROM advanced) AS through,
       (SELECT ok FROM ready) AS complete,
       (SELECT coalesce(jsonb_agg(jsonb_build_array(zone_key, timezones, region, country,
                                                    prefix, sample)), '[]'::jsonb)::text
        FROM (SELECT zone_key, timezones, region, country, prefix, min(msisdn) AS sample
              FROM planned WHERE not_before IS NULL
              GROUP BY 1, 2, 3, 4, 5) u) AS untimed
"""


@dataclass(frozen=True, slots=True)
class Broadcast:
    id: int
    program: str
    shortcode: str
    filter: str
    template: str
    status: str
    scheduled_at: datetime | None
    created_by: str
    created_at: datetime
    materialized_through: str | None
    recipients: int
    materialized_at: datetime | None
    frequency_max: int | None = None  # the program's promise at creation (None: not checked)
    frequency_window: timedelta | None = None
    frequency_overridden: bool = False  # the creator sent past the promise on purpose
    over_frequency: int = 0  # recipients skipped: one more message would break the promise


@dataclass(frozen=True, slots=True)
class ProfileField:
    """A placeholder rendered from the contact's profile, `fallback` when missing or empty."""

    name: str
    fallback: str


BodyPart = str | ProfileField


@dataclass(frozen=True, slots=True)
class ZoneKey:
    """What decides a contact's quiet hours, as stored; `sample` is one of its numbers."""

    key: str
    timezones: tuple[str, ...]
    region: str | None
    country: str | None
    prefix: str
    sample: str


@dataclass(frozen=True, slots=True)
class BatchResult:
    scanned: int  # eligible contacts in this batch
    inserted: int  # outbox rows made (fewer than scanned on a rerun or when some are skipped)
    through: str | None  # the cursor after the batch; None when nothing was done
    untimed: tuple[ZoneKey, ...]  # non-empty: nothing was done, time these and rerun
    over_frequency: int = 0  # skipped: already at their program's promised frequency


async def insert_broadcast(
    conn: asyncpg.Connection,
    *,
    program: str,
    shortcode: str,
    filter: str,
    template: str,
    status: str,
    scheduled_at: datetime | None,
    created_by: str,
    frequency: tuple[int, timedelta] | None = None,
    frequency_overridden: bool = False,
) -> int:
    """A new broadcast; `frequency` is its program's promise (messages, period) to keep."""
    max_messages, window = frequency if frequency is not None else (None, None)
    broadcast_id: int = await conn.fetchval(
        INSERT_BROADCAST, program, shortcode, filter, template, status, scheduled_at, created_by,
        max_messages, window, frequency_overridden,
    )
    return broadcast_id


async def get_broadcast(conn: asyncpg.Connection, broadcast_id: int) -> Broadcast | None:
    row = await conn.fetchrow(GET_BROADCAST, broadcast_id)
    return None if row is None else Broadcast(**dict(row))


async def get_progress(conn: asyncpg.Connection, broadcast_id: int) -> dict[str, Any] | None:
    row = await conn.fetchrow(GET_PROGRESS, broadcast_id)
    return None if row is None else dict(row)


async def mark_materialized(conn: asyncpg.Connection, broadcast_id: int) -> None:
    await conn.execute(MARK_MATERIALIZED, broadcast_id)


async def list_zone_keys(
    conn: asyncpg.Connection, broadcast: Broadcast, segment: Segment | None, *, now: datetime
) -> list[ZoneKey]:
    """Every distinct zone key among the broadcast's not yet materialized recipients."""
    params = SqlParams()
    where = eligible_where(
        params, shortcode=broadcast.shortcode, program=broadcast.program, segment=segment, now=now
    )
    after = params.add(broadcast.materialized_through or "", "text")
    rows = await conn.fetch(LIST_ZONE_KEYS.format(where=where, after=after), *params.values)
    return [
        _zone_key(r["zone_key"], r["timezones"], r["region"], r["country"], r["prefix"],
                  r["sample"])
        for r in rows
    ]


async def materialize_batch(
    conn: asyncpg.Connection,
    broadcast: Broadcast,
    segment: Segment | None,
    *,
    body: Sequence[BodyPart],
    timing: Mapping[str, tuple[datetime, datetime]],
    after: str,
    batch_size: int,
    now: datetime,
    caps: Mapping[str, tuple[int, int]] | None = None,
) -> BatchResult:
    """One batch after the cursor `after`; `timing` maps zone key -> (not_before, not_after).

    `caps` maps the zone keys under a frequency cap to (messages, period in
    seconds); their rows carry it and the claim enforces it at send time.
    Every row's subject is the broadcast's program.

    Recipients who already had the program's promised number of broadcast
    messages in the period before the send time are skipped (counted as
    `over_frequency`), unless the creator overrode the promise; the messages
    that count are those of `broadcast_frequency.COUNTED_STATUSES`. The batch
    holds a per-program lock for its transaction, so two broadcasts of one
    program written at the same time (two instances) each see the other's rows.
    """
    limit_on = broadcast.frequency_max is not None and not broadcast.frequency_overridden
    send_at = max(broadcast.scheduled_at or now, now)
    since = send_at - (broadcast.frequency_window or timedelta(0))
    params = SqlParams()
    where = eligible_where(
        params, shortcode=broadcast.shortcode, program=broadcast.program, segment=segment, now=now
    )
    keys = list(timing)
    capped = list(caps or {})
    query = MATERIALIZE_BATCH.format(
        where=where,
        body=body_sql(body, params),
        after=params.add(after, "text"),
        limit=params.add(batch_size, "int8"),
        keys=params.add(keys, "text[]"),
        not_before=params.add([timing[k][0] for k in keys], "timestamptz[]"),
        not_after=params.add([timing[k][1] for k in keys], "timestamptz[]"),
        cap_keys=params.add(capped, "text[]"),
        caps=params.add([caps[k][0] for k in capped] if caps else [], "int2[]"),
        cap_periods=params.add([caps[k][1] for k in capped] if caps else [], "int4[]"),
        subject=params.add(broadcast.program, "text"),
        shortcode=params.add(broadcast.shortcode, "text"),
        broadcast=params.add(broadcast.id, "int8"),
        limit_on=params.add(limit_on, "bool"),
        counted=params.add(list(COUNTED_STATUSES), "text[]"),
        since=params.add(since, "timestamptz"),
        max_messages=params.add(broadcast.frequency_max or 0, "int8"),
    )
    if limit_on:
        async with conn.transaction():
            await conn.execute(PROGRAM_LOCK, broadcast.program)
            row = await conn.fetchrow(query, *params.values)
    else:
        row = await conn.fetchrow(query, *params.values)
    untimed = tuple(_zone_key(*item) for item in json.loads(row["untimed"]))
    return BatchResult(row["scanned"], row["inserted"], row["through"], untimed,
                       row["over_frequency"] if not untimed else 0)


def body_sql(parts: Sequence[BodyPart], params: SqlParams) -> str:
    """The message text as one SQL expression; literals and field names are parameters.

    A profile value renders as its JSON text (`->>`): strings as they are,
    numbers as written; missing, null or "" renders the fallback, as
    `gateway.engine.templates.Template.render` does.
    """
    pieces: list[str] = []
    for part in parts:
        if isinstance(part, ProfileField):
            name = params.add(part.name, "text")
            fallback = params.add(part.fallback, "text")
            pieces.append(f"coalesce(nullif(c.state->'profile'->>{name}, ''), {fallback})")
        elif part:
            pieces.append(params.add(part, "text"))
    if not pieces:
        return "''"
    return "concat(" + ", ".join(pieces) + ")"


def _zone_key(
    key: str, timezones: str | None, region: str | None, country: str | None, prefix: str,
    sample: str,
) -> ZoneKey:
    zones = tuple(timezones.split(" ")) if timezones else ()
    return ZoneKey(key, zones, region, country, prefix, sample)


# -- control: status changes, each one guarded statement ---------------------------------------

# Moves a broadcast from one of the allowed statuses to `status`; returns nothing
# when it was in another status (the caller reads it back to say which).
TRANSITION = """
UPDATE broadcasts
SET status = $3, scheduled_at = coalesce($4, scheduled_at), updated_at = clock_timestamp()
WHERE id = $1 AND status = ANY($2::text[])
RETURNING status
"""

GET_STATUS = "SELECT status FROM broadcasts WHERE id = $1"

# Rows of a cancelled broadcast that no sender holds are never sent; a row
# already leased ('sending') finishes its send.
CANCEL_QUEUED = """
UPDATE outbound SET status = 'cancelled', final_at = clock_timestamp()
WHERE broadcast_id = $1 AND status = 'queued'
"""

# Scheduled broadcasts whose time has come start running.
START_DUE = """
UPDATE broadcasts SET status = 'running', updated_at = clock_timestamp()
WHERE status = 'scheduled' AND scheduled_at <= $1
RETURNING id
"""

NOT_MATERIALIZED = """
SELECT id FROM broadcasts WHERE status = 'running' AND materialized_at IS NULL ORDER BY id
"""

# Done: fully materialized and nothing left waiting or in flight.
FINISH = """
UPDATE broadcasts b SET status = 'done', updated_at = clock_timestamp()
WHERE b.status = 'running' AND b.materialized_at IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM outbound o
                  WHERE o.broadcast_id = b.id AND o.status IN ('queued', 'sending'))
RETURNING b.id
"""

# Queued broadcast rows whose quiet-hours window closed before they were sent,
# with the zone key of their contact (to be timed again).
EXPIRED_ZONE_KEYS = f"""
SELECT o.broadcast_id, {ZONE_KEY} AS zone_key, array_to_string(c.timezones, ' ') AS timezones,
       c.region, c.country, {ZONE_PREFIX} AS prefix, min(c.msisdn) AS sample
FROM outbound o
JOIN contacts c ON c.msisdn = o.msisdn AND c.shortcode = o.shortcode
WHERE o.status = 'queued' AND o.broadcast_id IS NOT NULL AND o.not_after <= $1
GROUP BY 1, 2, 3, 4, 5, 6
"""

# A broadcast's waiting rows that may not go now (quiet hours: not yet open, or closed
# before they were sent), per zone key, with how many and the earliest stored not_before.
# A contact erased meanwhile still counts, under an empty key (its country's fallback).
HELD_ZONE_KEYS = f"""
SELECT {ZONE_KEY} AS zone_key, array_to_string(c.timezones, ' ') AS timezones, c.region,
       c.country, coalesce({ZONE_PREFIX}, '') AS prefix, min(o.msisdn) AS sample,
       count(*) AS waiting
FROM outbound o
LEFT JOIN contacts c ON c.msisdn = o.msisdn AND c.shortcode = o.shortcode
WHERE o.broadcast_id = $1 AND o.status = 'queued' AND (o.not_before > $2 OR o.not_after <= $2)
GROUP BY 1, 2, 3, 4, 5
"""

REDEFER = f"""
UPDATE outbound o SET not_before = t.not_before, not_after = t.not_after
FROM contacts c,
     unnest($2::text[], $3::timestamptz[], $4::timestamptz[]) AS t(zone_key, not_before, not_after)
WHERE o.broadcast_id = $1 AND o.status = 'queued' AND o.not_after <= $5
  AND c.msisdn = o.msisdn AND c.shortcode = o.shortcode AND {ZONE_KEY} = t.zone_key
"""


async def transition(
    conn: asyncpg.Connection,
    broadcast_id: int,
    *,
    allowed_from: Sequence[str],
    to: str,
    scheduled_at: datetime | None = None,
) -> str | None:
    """The new status, or None when the broadcast was not in `allowed_from`."""
    status: str | None = await conn.fetchval(
        TRANSITION, broadcast_id, list(allowed_from), to, scheduled_at
    )
    return status


async def get_status(conn: asyncpg.Connection, broadcast_id: int) -> str | None:
    status: str | None = await conn.fetchval(GET_STATUS, broadcast_id)
    return status


async def cancel_queued(conn: asyncpg.Connection, broadcast_id: int) -> int:
    status: str = await conn.execute(CANCEL_QUEUED, broadcast_id)
    return int(status.rsplit(" ", 1)[-1])


async def start_due(conn: asyncpg.Connection, now: datetime) -> list[int]:
    return [r["id"] for r in await conn.fetch(START_DUE, now)]


async def not_materialized(conn: asyncpg.Connection) -> list[int]:
    return [r["id"] for r in await conn.fetch(NOT_MATERIALIZED)]


async def finish_done(conn: asyncpg.Connection) -> list[int]:
    return [r["id"] for r in await conn.fetch(FINISH)]


async def expired_zone_keys(
    conn: asyncpg.Connection, now: datetime
) -> dict[int, list[ZoneKey]]:
    """Per broadcast, the zone keys of queued rows whose window closed at or before `now`."""
    found: dict[int, list[ZoneKey]] = {}
    for r in await conn.fetch(EXPIRED_ZONE_KEYS, now):
        found.setdefault(r["broadcast_id"], []).append(_zone_key(
            r["zone_key"], r["timezones"], r["region"], r["country"], r["prefix"], r["sample"]))
    return found


async def redefer(
    conn: asyncpg.Connection,
    broadcast_id: int,
    timing: Mapping[str, tuple[datetime, datetime]],
    now: datetime,
) -> int:
    """Give expired queued rows their zone key's next window; returns how many moved."""
    keys = list(timing)
    status: str = await conn.execute(
        REDEFER, broadcast_id, keys, [timing[k][0] for k in keys], [timing[k][1] for k in keys],
        now,
    )
    return int(status.rsplit(" ", 1)[-1])


async def held_zone_keys(
    conn: asyncpg.Connection, broadcast_id: int, now: datetime
) -> list[tuple[ZoneKey, int]]:
    """The zone keys of the broadcast's rows held by quiet hours at `now`, with their counts."""
    return [
        (_zone_key(r["zone_key"], r["timezones"], r["region"], r["country"], r["prefix"],
                   r["sample"]), r["waiting"])
        for r in await conn.fetch(HELD_ZONE_KEYS, broadcast_id, now)
    ]
