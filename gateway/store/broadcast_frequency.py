"""How many of a broadcast's recipients already had their program's promised number of messages.

What counts: broadcast messages (outbox rows with a broadcast) of the same
program, to the same number on any of its short codes, that reached or may
still reach the phone (queued, sending, submitted, delivered), dated by when
they were submitted; one not submitted yet counts whenever it may go (it
will reach the phone around the new broadcast). Replies to the
person's own texts (HELP, the opt-in confirmation, dialog prompts, donation
receipts) do not count: the person asked for each of them, and the
disclosed frequency is the promise about the messages the program sends on
its own. Failed, refused, undeliverable, suppressed and cancelled rows never
reached the phone, so they do not count either.

Why one statement over the eligible set: the same WHERE as the preview's
count (gateway/store/audience.py), so "pushed past the limit" is measured
over exactly the people the broadcast would reach.
"""

from __future__ import annotations

from datetime import datetime

import asyncpg

from gateway.audience import Audience
from gateway.store.audience import SqlParams, eligible_where

# Rows still reaching the phone (queued, sending) or that reached the SMSC.
COUNTED_STATUSES = ("queued", "sending", "submitted", "delivered")

# Set-based: the numbers at the limit (one pass over the program's recent
# broadcast rows, by the (broadcast_id, msisdn) index), joined to the eligible
# set. A broadcast finished or cancelled long before the period has no row in
# it, so only recent or unfinished ones are read (a day of margin for a send
# that completes just after a cancel).
_AT_LIMIT = """
WITH recent AS (
    SELECT id FROM broadcasts
    WHERE program = {program}
      AND (status NOT IN ('done', 'cancelled') OR updated_at > {since} - interval '1 day')
), at_limit AS (
    SELECT o.msisdn FROM outbound o JOIN recent r ON r.id = o.broadcast_id
    WHERE o.status = ANY({statuses}) AND (o.submitted_at IS NULL OR o.submitted_at > {since})
    GROUP BY o.msisdn
    HAVING count(*) >= {max_messages}
)
SELECT {what} FROM contacts c JOIN at_limit a ON a.msisdn = c.msisdn
WHERE {where}
"""
PUSHED_PAST = _AT_LIMIT.replace("{what}", "count(*)")
# The same people named (the send API says which of its numbers were refused).
NUMBERS_PAST = _AT_LIMIT.replace("{what}", "c.msisdn")


def _query(sql: str, *, shortcode: str, program: str, audience: Audience | None,
           now: datetime, since: datetime, max_messages: int) -> tuple[str, list[object]]:
    params = SqlParams()
    where = eligible_where(params, shortcode=shortcode, program=program, audience=audience, now=now)
    query = sql.format(
        where=where, program=params.add(program, "text"),
        statuses=params.add(list(COUNTED_STATUSES), "text[]"),
        since=params.add(since, "timestamptz"), max_messages=params.add(max_messages, "int8"),
    )
    return query, list(params.values)


async def count_at_limit(
    conn: asyncpg.Connection,
    *,
    shortcode: str,
    program: str,
    audience: Audience | None,
    now: datetime,
    since: datetime,
    max_messages: int,
) -> int:
    """Eligible recipients who already have `max_messages` counted messages after `since`.

    One more message (this broadcast) would push each of them past the limit.
    """
    query, values = _query(PUSHED_PAST, shortcode=shortcode, program=program,
                           audience=audience, now=now, since=since, max_messages=max_messages)
    value: int = await conn.fetchval(query, *values)
    return value


async def numbers_at_limit(
    conn: asyncpg.Connection,
    *,
    shortcode: str,
    program: str,
    audience: Audience | None,
    now: datetime,
    since: datetime,
    max_messages: int,
) -> set[str]:
    """The numbers `count_at_limit` counts."""
    query, values = _query(NUMBERS_PAST, shortcode=shortcode, program=program,
                           audience=audience, now=now, since=since, max_messages=max_messages)
    return {r["msisdn"] for r in await conn.fetch(query, *values)}
