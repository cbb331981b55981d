"""Broadcasts and their materialization into the outbox.

Materialization is set-based and resumable. Each batch is one transaction
of two statements: the first picks the next `batch_size` eligible contacts
in msisdn order after the broadcast's cursor, renders their text in SQL,
takes each one's quiet-hours times from a small table the caller computed
(one entry per distinct "zone key": time zones, state, country, dialling
prefix) and inserts the outbox rows (store/outbound.py, the outbox's one
writer, runs it around the plan made here); the second advances the cursor.
All or nothing: a crash between batches resumes at the cursor; the UNIQUE
(broadcast_id, msisdn) constraint with ON CONFLICT DO NOTHING makes even a
rerun from scratch harmless.

When the batch meets a zone key the caller has not timed yet (a contact
changed since the keys were listed), the statement inserts nothing and
returns the missing keys; the caller times them and runs the batch again.
Quiet-hours arithmetic stays in Python (`gateway.broadcast.quiet_hours`,
property-tested), applied here as data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from gateway.audience import Audience
from gateway.store import outbound as outbound_store
from gateway.store import short_links
from gateway.store.audience import SqlParams, eligible_where
from gateway.store.broadcast_frequency import COUNTED_STATUSES
from gateway.store.db import affected
from gateway.store.zone_keys import ZONE_KEY, ZONE_PREFIX, ZoneKey, zone_key

INSERT_BROADCAST = """
INSERT INTO broadcasts (program, shortcode, filter, template, status, scheduled_at, created_by,
                        frequency_max, frequency_window, frequency_overridden, channel, subject,
                        segment_id, segment_name)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
RETURNING id
"""

# A broadcast to a saved segment takes the segment's definition as it stands when the
# broadcast is materialized, once (before its first batch), and keeps it in `filter`: the
# broadcast records what it really went to. A segment deleted, or moved to another
# program, since the broadcast was created leaves the copy made at creation.
RESOLVE_SEGMENT = """
UPDATE broadcasts b
SET filter = coalesce(s.filter, b.filter), segment_name = coalesce(s.name, b.segment_name),
    segment_resolved_at = $2, updated_at = clock_timestamp()
FROM broadcasts o LEFT JOIN segments s ON s.id = o.segment_id AND s.program = o.program
WHERE o.id = $1 AND b.id = o.id AND b.segment_name IS NOT NULL AND b.segment_resolved_at IS NULL
  AND b.materialized_through IS NULL
"""

GET_BROADCAST = """
SELECT id, program, shortcode, filter, template, status, scheduled_at, created_by, created_at,
       materialized_through, recipients, materialized_at, frequency_max, frequency_window,
       frequency_overridden, over_frequency, channel, subject, segment_id, segment_name,
       segment_resolved_at, ab_test_percent, ab_metric,
       ab_wait, ab_auto, ab_phase, ab_decide_at, ab_winner
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

LIST_ZONE_KEYS = f"""
SELECT {ZONE_KEY} AS zone_key, array_to_string(c.timezones, ' ') AS timezones, c.region,
       c.country, {ZONE_PREFIX} AS prefix, min(c.msisdn) AS sample
FROM contacts c
WHERE {{where}} AND c.msisdn > {{after}}
GROUP BY 1, 2, 3, 4, 5
"""

# A batch's plan (a read): the next `limit` eligible contacts after the cursor, each
# with its text, its tracked links' tokens (`link_tokens`: `per_row` of the caller's
# `tokens` for the batch's n-th contact, from (n - 1) * per_row + 1), its quiet-hours
# window and its frequency cap; `untimed` names the zone key of a contact the caller
# has not timed yet (then nothing is inserted); `over_frequency` marks a contact who
# already had the program's promised number of counted broadcast messages in the
# period before the send time (left out).
# An A/B test's draw for a contact: a number in [0, 2^63) from its number and the
# broadcast, the same on every run (resumable, reproducible) and unrelated between
# broadcasts. Its last four digits say whether it is in the test share, the digits
# above them which variant it gets: the two are independent.
AB_DRAW = "(hashtextextended(c.msisdn, {broadcast}) & 9223372036854775807)"
AB_VARIANT = "((hashtextextended(p.msisdn, {broadcast}) & 9223372036854775807) / 10000) % {n} + 1"

PLANNED_BATCH = f"""
WITH picked AS (
    SELECT c.* FROM contacts c
    WHERE {{where}} AND c.msisdn > {{after}}
      AND ({{test_percent}} IS NULL
           OR {AB_DRAW} % 10000 < {{test_percent}} * 100)
    ORDER BY c.msisdn
    LIMIT {{limit}}
),
batch AS (
    SELECT c.msisdn, {ZONE_KEY} AS zone_key, {{body}} AS body,
           array_to_string(c.timezones, ' ') AS timezones, c.region, c.country,
           {ZONE_PREFIX} AS prefix,
           ({{tokens}})[(c.link_row - 1) * {{per_row}} + 1 : c.link_row * {{per_row}}]
               AS link_tokens, c.ab_variant AS variant
    FROM (SELECT p.*, row_number() OVER (ORDER BY p.msisdn) AS link_row,
                 {{variant}} AS ab_variant
          FROM picked p) c
),
timing AS (
    SELECT * FROM unnest({{keys}}, {{not_before}}, {{not_after}})
                  AS t(zone_key, not_before, not_after)
),
caps AS (
    SELECT * FROM unnest({{cap_keys}}, {{caps}}, {{cap_periods}})
                  AS k(zone_key, subject_cap, subject_period_s)
),
over_limit AS (
    SELECT o.msisdn FROM outbound o JOIN broadcasts ob ON ob.id = o.broadcast_id
    WHERE {{limit_on}} AND o.msisdn IN (SELECT msisdn FROM batch)
      AND ob.program = {{subject}} AND o.broadcast_id <> {{broadcast}}
      AND o.status = ANY({{counted}})
      AND (o.submitted_at IS NULL OR o.submitted_at > {{since}})
    GROUP BY o.msisdn
    HAVING count(*) >= {{max_messages}}
)
SELECT b.msisdn, b.body, b.link_tokens, b.variant, t.not_before, t.not_after, k.subject_cap,
       k.subject_period_s,
       CASE WHEN t.not_before IS NULL
            THEN jsonb_build_array(b.zone_key, b.timezones, b.region, b.country, b.prefix)
       END AS untimed,
       b.msisdn IN (SELECT msisdn FROM over_limit)
           AND NOT EXISTS (SELECT 1 FROM outbound mine  -- an A/B test's tested: not twice
                           WHERE mine.broadcast_id = {{broadcast}} AND mine.msisdn = b.msisdn)
           AS over_frequency
FROM batch b LEFT JOIN timing t ON t.zone_key = b.zone_key
             LEFT JOIN caps k ON k.zone_key = b.zone_key
"""

# Erasure (store/privacy.py): a send API broadcast names its numbers in its filter
# (`number in (...)`, services/send_api.py); the number becomes one no contact can have
# (+1 000..., not a number), so the filter still parses and reaches nobody new.
ERASED_NUMBER = "+10000000000"
FORGET_NUMBER = r"""
UPDATE broadcasts SET filter = regexp_replace(filter, '\+' || ltrim($1, '+') || '(?![0-9])',
                                              $2, 'g')
WHERE filter LIKE '%number%' AND strpos(filter, $1) > 0
"""

ADVANCE_CURSOR = """
UPDATE broadcasts
SET materialized_through = greatest(materialized_through, $2),
    recipients = recipients + $3, over_frequency = over_frequency + $4,
    updated_at = clock_timestamp()
WHERE id = $1
RETURNING materialized_through
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
    channel: str = "sms"  # or "email": a newsletter (broadcast/newsletters.py)
    subject: str | None = None  # a newsletter's subject
    segment_id: int | None = None  # a saved segment it targets (services/segments.py)
    segment_name: str | None = None  # its name (kept if the segment is deleted)
    segment_resolved_at: datetime | None = None  # when `filter` took the segment's definition
    ab_test_percent: int | None = None  # an A/B test (migration 451): the tested share
    ab_metric: str | None = None
    ab_wait: timedelta | None = None
    ab_auto: bool = True
    ab_phase: str | None = None  # 'testing', 'waiting', 'decided'; None: no A/B test
    ab_decide_at: datetime | None = None
    ab_winner: int | None = None


@dataclass(frozen=True, slots=True)
class ProfileField:
    """A placeholder rendered from the contact's profile, `fallback` when missing or empty."""

    name: str
    fallback: str


@dataclass(frozen=True, slots=True)
class ShortLink:
    """The `position`-th tracked link of the text: `base` + the recipient's own token."""

    position: int
    base: str


BodyPart = str | ProfileField | ShortLink


@dataclass(frozen=True, slots=True)
class VariantText:
    """One text of a broadcast: its A/B variant (None: no test), its parts, its links."""

    variant: int | None
    parts: Sequence[BodyPart]
    destinations: Sequence[str]


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
    channel: str = "sms",
    subject: str | None = None,
    segment: tuple[int, str] | None = None,
) -> int:
    """A new broadcast; `frequency` is its program's promise (messages, period) to keep.

    A newsletter is `channel="email"` with a `subject` and no short code; its `filter`,
    if any, is a segment (store/newsletter_segments.py).
    """
    max_messages, window = frequency if frequency is not None else (None, None)
    broadcast_id: int = await conn.fetchval(
        INSERT_BROADCAST, program, shortcode, filter, template, status, scheduled_at, created_by,
        max_messages, window, frequency_overridden, channel, subject,
        segment[0] if segment else None, segment[1] if segment else None,
    )
    return broadcast_id


async def resolve_segment(conn: asyncpg.Connection, broadcast_id: int, *, now: datetime) -> bool:
    """Take the targeted segment's definition now (see RESOLVE_SEGMENT); False: nothing to do."""
    return affected(await conn.execute(RESOLVE_SEGMENT, broadcast_id, now)) > 0


async def get_broadcast(conn: asyncpg.Connection, broadcast_id: int) -> Broadcast | None:
    row = await conn.fetchrow(GET_BROADCAST, broadcast_id)
    return None if row is None else Broadcast(**dict(row))


async def get_progress(conn: asyncpg.Connection, broadcast_id: int) -> dict[str, Any] | None:
    row = await conn.fetchrow(GET_PROGRESS, broadcast_id)
    return None if row is None else dict(row)


async def forget_number(conn: asyncpg.Connection, msisdn: str) -> int:
    """Erasure: the number out of every broadcast filter naming it; how many broadcasts."""
    return affected(await conn.execute(FORGET_NUMBER, msisdn, ERASED_NUMBER))


async def mark_materialized(conn: asyncpg.Connection, broadcast_id: int) -> None:
    await conn.execute(MARK_MATERIALIZED, broadcast_id)


async def list_zone_keys(
    conn: asyncpg.Connection, broadcast: Broadcast, audience: Audience | None, *, now: datetime
) -> list[ZoneKey]:
    """Every distinct zone key among the broadcast's not yet materialized recipients."""
    params = SqlParams()
    where = eligible_where(
        params, shortcode=broadcast.shortcode, program=broadcast.program, audience=audience, now=now
    )
    after = params.add(broadcast.materialized_through or "", "text")
    rows = await conn.fetch(LIST_ZONE_KEYS.format(where=where, after=after), *params.values)
    return [
        zone_key(r["zone_key"], r["timezones"], r["region"], r["country"], r["prefix"],
                 r["sample"])
        for r in rows
    ]


async def materialize_batch(
    conn: asyncpg.Connection,
    broadcast: Broadcast,
    audience: Audience | None,
    *,
    body: Sequence[BodyPart],
    timing: Mapping[str, tuple[datetime, datetime]],
    after: str,
    batch_size: int,
    now: datetime,
    caps: Mapping[str, tuple[int, int]] | None = None,
    link_tokens: Sequence[str] = (),
    destinations: Sequence[str] = (),
    texts: Sequence[VariantText] = (),
    test_percent: int | None = None,
) -> BatchResult:
    """One batch after the cursor `after`; `timing` maps zone key -> (not_before, not_after).

    `caps` maps the zone keys under a frequency cap to (messages, period in
    seconds); their rows carry it and the claim enforces it at send time.
    Every row's subject is the broadcast's program.

    Recipients who already had the program's promised number of broadcast
    messages in the period before the send time are skipped (counted as
    `over_frequency`), unless the creator overrode the promise; the messages
    that count are those of `broadcast_frequency.COUNTED_STATUSES`.

    Tracked links (`ShortLink` parts of `body`): `destinations` names each one's
    address, `link_tokens` holds len(destinations) fresh tokens per contact of the
    batch (batch_size of them at most); each recipient's links are written with
    its outbox row, in the same transaction (store/short_links.py).

    An A/B test (migration 451): `texts` are the variants, numbered 1..n; with
    `test_percent`, only the contacts whose draw (`AB_DRAW`) falls in the test
    share are planned, each with the variant its draw names. One text with a
    variant number (the winner, to the rest) marks every row with it. The batch
    holds a per-program lock for its transaction, so two broadcasts of one
    program written at the same time (two instances) each see the other's rows.
    """
    limit_on = broadcast.frequency_max is not None and not broadcast.frequency_overridden
    send_at = max(broadcast.scheduled_at or now, now)
    since = send_at - (broadcast.frequency_window or timedelta(0))
    params = SqlParams()
    where = eligible_where(
        params, shortcode=broadcast.shortcode, program=broadcast.program, audience=audience, now=now
    )
    keys = list(timing)
    capped = list(caps or {})
    texts = texts or [VariantText(None, body, destinations)]
    tokens = params.add(list(link_tokens), "text[]")
    per_row = params.add(max(len(t.destinations) for t in texts), "int8")
    the_broadcast = params.add(broadcast.id, "int8")
    if len(texts) == 1:
        text_sql = body_sql(texts[0].parts, params, tokens=tokens, per_row=per_row)
        variant = params.add(texts[0].variant, "int2")
    else:
        text_sql = "CASE c.ab_variant " + " ".join(
            f"WHEN {t.variant} THEN "
            f"{body_sql(t.parts, params, tokens=tokens, per_row=per_row)}"
            for t in texts) + " END"
        variant = "(" + AB_VARIANT.format(broadcast=the_broadcast,
                                          n=params.add(len(texts), "int8")) + ")::int2"
    planned = PLANNED_BATCH.format(
        where=where,
        body=text_sql, variant=variant,
        test_percent=params.add(test_percent, "int4"),
        tokens=tokens, per_row=per_row,
        after=params.add(after, "text"),
        limit=params.add(batch_size, "int8"),
        keys=params.add(keys, "text[]"),
        not_before=params.add([timing[k][0] for k in keys], "timestamptz[]"),
        not_after=params.add([timing[k][1] for k in keys], "timestamptz[]"),
        cap_keys=params.add(capped, "text[]"),
        caps=params.add([caps[k][0] for k in capped] if caps else [], "int2[]"),
        cap_periods=params.add([caps[k][1] for k in capped] if caps else [], "int4[]"),
        limit_on=params.add(limit_on, "bool"),
        counted=params.add(list(COUNTED_STATUSES), "text[]"),
        since=params.add(since, "timestamptz"),
        max_messages=params.add(broadcast.frequency_max or 0, "int8"),
        subject=params.add(broadcast.program, "text"),
        broadcast=the_broadcast,
    )
    async with conn.transaction():
        if limit_on:  # the program's other broadcasts being written wait, and are seen
            await conn.execute(PROGRAM_LOCK, broadcast.program)
        batch = await outbound_store.insert_broadcast_rows(
            conn, planned, params, broadcast_id=broadcast.id, shortcode=broadcast.shortcode,
            subject=broadcast.program)
        if batch.linked:
            await short_links.insert_links(
                conn, broadcast_id=broadcast.id, shortcode=broadcast.shortcode,
                destinations={t.variant: t.destinations for t in texts}, linked=batch.linked)
        through: str | None = None
        if batch.complete and batch.scanned:
            through = await conn.fetchval(ADVANCE_CURSOR, broadcast.id, batch.last,
                                          batch.inserted, batch.over_frequency)
    untimed = tuple(zone_key(*item) for item in batch.untimed)
    return BatchResult(batch.scanned, batch.inserted, through, untimed,
                       batch.over_frequency if batch.complete else 0)


def body_sql(parts: Sequence[BodyPart], params: SqlParams, *, tokens: str = "",
             per_row: str = "") -> str:
    """The message text as one SQL expression; literals and field names are parameters.

    A profile value renders as its JSON text (`->>`): strings as they are,
    numbers as written; missing, null or "" renders the fallback, as
    `gateway.engine.templates.Template.render` does. A `ShortLink` renders as its
    base and the row's own token (`tokens`, `per_row`: PLANNED_BATCH's parameters).
    """
    pieces: list[str] = []
    for part in parts:
        if isinstance(part, ShortLink):
            if not tokens:
                raise ValueError("a text with tracked links needs the batch's tokens")
            base = params.add(part.base, "text")
            pieces.append(f"{base} || ({tokens})[(c.link_row - 1) * {per_row} + "
                          f"{part.position + 1}]")
        elif isinstance(part, ProfileField):
            name = params.add(part.name, "text")
            fallback = params.add(part.fallback, "text")
            pieces.append(f"coalesce(nullif(c.state->'profile'->>{name}, ''), {fallback})")
        elif part:
            pieces.append(params.add(part, "text"))
    if not pieces:
        return "''"
    return "concat(" + ", ".join(pieces) + ")"


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

# Scheduled broadcasts whose time has come start running.
# A broadcast by its author's name (the demo seed finds its own on a second run).
FIND_BY_CREATOR = "SELECT id FROM broadcasts WHERE created_by = $1 ORDER BY id LIMIT 1"

START_DUE = """
UPDATE broadcasts SET status = 'running', updated_at = clock_timestamp()
WHERE status = 'scheduled' AND scheduled_at <= $1
RETURNING id
"""

NOT_MATERIALIZED = """
SELECT id FROM broadcasts
WHERE status = 'running' AND materialized_at IS NULL AND channel = 'sms'
  AND ab_phase IS DISTINCT FROM 'waiting'
ORDER BY id
"""

# -- A/B tests (migration 451) --------------------------------------------------------------

SET_AB_TEST = """
UPDATE broadcasts SET ab_test_percent = $2, ab_metric = $3, ab_wait = $4, ab_auto = $5,
                      ab_phase = 'testing', updated_at = clock_timestamp()
WHERE id = $1 AND status IN ('draft', 'scheduled')
"""

# The test's texts are written: the rest waits for the winner, the cursor starts over.
END_TEST_PHASE = """
UPDATE broadcasts SET ab_phase = 'waiting', ab_decide_at = $2, materialized_through = NULL,
                      updated_at = clock_timestamp()
WHERE id = $1 AND ab_phase = 'testing'
"""

# The winner is chosen once: by the gateway at the set time or by an organizer.
DECIDE = """
UPDATE broadcasts SET ab_phase = 'decided', ab_winner = $2, updated_at = clock_timestamp()
WHERE id = $1 AND ab_phase = 'waiting'
RETURNING id
"""

DUE_DECISIONS = """
SELECT id FROM broadcasts
WHERE ab_phase = 'waiting' AND ab_auto AND ab_decide_at <= $1 AND status = 'running'
ORDER BY id
"""

# Done: fully materialized and nothing left waiting or in flight.
FINISH = """
UPDATE broadcasts b SET status = 'done', updated_at = clock_timestamp(), finished_at = $1
WHERE b.status = 'running' AND b.materialized_at IS NOT NULL AND b.channel = 'sms'
  AND NOT EXISTS (SELECT 1 FROM outbound o
                  WHERE o.broadcast_id = b.id AND o.status IN ('queued', 'sending'))
RETURNING b.id
"""

# A newsletter is done the same way, its rows being mail_outbox rows.
FINISH_NEWSLETTERS = """
UPDATE broadcasts b SET status = 'done', updated_at = clock_timestamp(), finished_at = $1
WHERE b.status = 'running' AND b.materialized_at IS NOT NULL AND b.channel = 'email'
  AND NOT EXISTS (SELECT 1 FROM newsletter_recipients r
                  JOIN mail_outbox m ON m.id = r.mail_outbox_id
                  WHERE r.broadcast_id = b.id AND m.status IN ('queued', 'sending'))
RETURNING b.id
"""

# Running newsletters with recipients still to queue (broadcast/newsletters.py).
NEWSLETTERS_TO_QUEUE = """
SELECT id FROM broadcasts
WHERE channel = 'email' AND status = 'running' AND materialized_at IS NULL ORDER BY id
"""

# A batch holds its newsletter's row: a pause or cancel waits for the batch to commit.
LOCK_RUNNING_NEWSLETTER = """
SELECT id FROM broadcasts
WHERE id = $1 AND channel = 'email' AND status = 'running' AND materialized_at IS NULL
FOR UPDATE
"""

# One batch of a newsletter queued: the cursor moves, the count grows, and the last
# batch marks it materialized. Only while running: a pause or cancel stops it here.
ADVANCE_NEWSLETTER = """
UPDATE broadcasts
SET materialized_through = coalesce($2, materialized_through), recipients = recipients + $3,
    materialized_at = CASE WHEN $4 THEN clock_timestamp() END, updated_at = clock_timestamp()
WHERE id = $1 AND channel = 'email' AND status = 'running' AND materialized_at IS NULL
RETURNING id
"""

# Queued broadcast rows whose quiet-hours window closed before they were sent,
# with the zone key of their contact (to be timed again).
EXPIRED_ZONE_KEYS = f"""
SELECT o.broadcast_id, {ZONE_KEY} AS zone_key, array_to_string(c.timezones, ' ') AS timezones,
       c.region, c.country, {ZONE_PREFIX} AS prefix, min(c.msisdn) AS sample
FROM outbound o
JOIN contacts c ON c.msisdn = o.msisdn AND c.shortcode = o.shortcode
WHERE o.indexed_status = 'queued' AND o.broadcast_id IS NOT NULL AND o.not_after <= $1
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


async def find_by_creator(conn: asyncpg.Connection, created_by: str) -> int | None:
    found: int | None = await conn.fetchval(FIND_BY_CREATOR, created_by)
    return found


async def start_due(conn: asyncpg.Connection, now: datetime) -> list[int]:
    return [r["id"] for r in await conn.fetch(START_DUE, now)]


async def set_ab_test(conn: asyncpg.Connection, broadcast_id: int, *, test_percent: int,
                      metric: str, wait: timedelta, auto: bool) -> None:
    await conn.execute(SET_AB_TEST, broadcast_id, test_percent, metric, wait, auto)


async def end_test_phase(conn: asyncpg.Connection, broadcast_id: int,
                         decide_at: datetime) -> None:
    await conn.execute(END_TEST_PHASE, broadcast_id, decide_at)


async def decide(conn: asyncpg.Connection, broadcast_id: int, winner: int) -> bool:
    """Record the winner; False when the test was not waiting for one (already decided)."""
    return await conn.fetchval(DECIDE, broadcast_id, winner) is not None


async def due_decisions(conn: asyncpg.Connection, now: datetime) -> list[int]:
    return [r["id"] for r in await conn.fetch(DUE_DECISIONS, now)]


async def not_materialized(conn: asyncpg.Connection) -> list[int]:
    return [r["id"] for r in await conn.fetch(NOT_MATERIALIZED)]


async def finish_done(conn: asyncpg.Connection, now: datetime) -> list[int]:
    """Broadcasts (SMS and newsletters) with nothing left to send: now 'done', at `now`."""
    return [r["id"] for sql in (FINISH, FINISH_NEWSLETTERS) for r in await conn.fetch(sql, now)]


# SMS broadcasts whose attribution window has closed and whose final results were
# not yet emitted; a second gateway skips the rows the first holds (migration 520).
# A newsletter's results are its mail's: none is ever due.
FINAL_RESULTS_DUE = """
SELECT id FROM broadcasts
WHERE status = 'done' AND final_results_at IS NULL AND finished_at <= $1 AND channel = 'sms'
ORDER BY finished_at
LIMIT $2
FOR UPDATE SKIP LOCKED
"""

MARK_FINAL_RESULTS = """
UPDATE broadcasts SET final_results_at = $2 WHERE id = ANY($1::bigint[])
"""


async def final_results_due(conn: asyncpg.Connection, *, finished_by: datetime,
                            limit: int = 100) -> list[int]:
    """Done SMS broadcasts finished at or before `finished_by` without their final results,
    locked for the caller's transaction (it emits and marks them)."""
    return [r["id"] for r in await conn.fetch(FINAL_RESULTS_DUE, finished_by, limit)]


async def mark_final_results(conn: asyncpg.Connection, broadcast_ids: list[int],
                             at: datetime) -> None:
    await conn.execute(MARK_FINAL_RESULTS, broadcast_ids, at)


async def newsletters_to_queue(conn: asyncpg.Connection) -> list[int]:
    return [r["id"] for r in await conn.fetch(NEWSLETTERS_TO_QUEUE)]


async def lock_running_newsletter(conn: asyncpg.Connection, broadcast_id: int) -> bool:
    """Hold the newsletter's row for this transaction; False unless it is running, unfinished."""
    return await conn.fetchval(LOCK_RUNNING_NEWSLETTER, broadcast_id) is not None


async def advance_newsletter(conn: asyncpg.Connection, broadcast_id: int, *,
                             through: str | None, added: int, finished: bool) -> bool:
    """Record a queued batch; False when the newsletter stopped running meanwhile."""
    return await conn.fetchval(ADVANCE_NEWSLETTER, broadcast_id, through, added,
                               finished) is not None


async def expired_zone_keys(
    conn: asyncpg.Connection, now: datetime
) -> dict[int, list[ZoneKey]]:
    """Per broadcast, the zone keys of queued rows whose window closed at or before `now`."""
    found: dict[int, list[ZoneKey]] = {}
    for r in await conn.fetch(EXPIRED_ZONE_KEYS, now):
        found.setdefault(r["broadcast_id"], []).append(zone_key(
            r["zone_key"], r["timezones"], r["region"], r["country"], r["prefix"], r["sample"]))
    return found


async def held_zone_keys(
    conn: asyncpg.Connection, broadcast_id: int, now: datetime
) -> list[tuple[ZoneKey, int]]:
    """The zone keys of the broadcast's rows held by quiet hours at `now`, with their counts."""
    return [
        (zone_key(r["zone_key"], r["timezones"], r["region"], r["country"], r["prefix"],
                  r["sample"]), r["waiting"])
        for r in await conn.fetch(HELD_ZONE_KEYS, broadcast_id, now)
    ]
