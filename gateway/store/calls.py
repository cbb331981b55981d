"""Calls on the voice line and their steps (migration 300): the one writer of `calls` and
`call_events`. SQL only.

A step is one provider request (`call_sid`, `step`). Its row is inserted
first, in the transaction that acts on the request: a replay of the request
(the provider retrying, or the same request arriving twice) finds the row,
waits for its transaction if it is still running, and gets the answer
stored with it, so nothing the step did is done twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

import asyncpg

from gateway.store import webhook_events
from gateway.store.db import affected
from gateway.store.webhook_events import CALL_ENDED, CALL_STARTED, NewWebhookEvent

INSERT_CALL = """
INSERT INTO calls (call_sid, program, shortcode, msisdn, language, started_at)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (call_sid) DO NOTHING
"""

GET_CALL = """
SELECT call_sid, program, shortcode, msisdn, language, started_at, ended_at, end_status,
       duration_seconds
FROM calls WHERE call_sid = $1
"""

CLAIM_STEP = """
INSERT INTO call_events (call_sid, step, kind, digits, branch, occurred_at)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (call_sid, step) DO NOTHING
RETURNING 1
"""

SET_ANSWER = "UPDATE call_events SET answer = $3 WHERE call_sid = $1 AND step = $2"

STORED_ANSWER = "SELECT answer FROM call_events WHERE call_sid = $1 AND step = $2"

END_CALL = """
UPDATE calls SET ended_at = $2, end_status = $3, duration_seconds = $4
WHERE call_sid = $1
RETURNING msisdn, shortcode, program, started_at
"""

# The branches whose step is a branch's end: the caller got what the branch gives (the
# message played, the link texted or the opt-in done, the question recorded). A call
# that ends without one of them is abandoned (docs/voice.md "Reports").
BRANCH_ENDS: Final = ("message", "donation_link", "sms_opt_in", "recorded")

# Did the caller reach a branch's end before the call ended?
REACHED_A_BRANCH = """
SELECT EXISTS (SELECT 1 FROM call_events WHERE call_sid = $1 AND branch = ANY($2::text[]))
"""

# Calls per day and where they went, for the organizers' page (days in `zone`).
DAILY = """
WITH c AS (
    SELECT c.call_sid, (c.started_at AT TIME ZONE $3)::date AS day, c.ended_at,
           array_remove(array_agg(DISTINCT e.branch), NULL) AS branches
    FROM calls c LEFT JOIN call_events e ON e.call_sid = c.call_sid
    WHERE c.program = $1 AND c.started_at >= $2
    GROUP BY c.call_sid
)
SELECT day, count(*) AS calls,
       count(*) FILTER (WHERE 'message' = ANY(branches)) AS message,
       count(*) FILTER (WHERE 'support' = ANY(branches)) AS support,
       count(*) FILTER (WHERE 'question' = ANY(branches)) AS question,
       count(*) FILTER (WHERE 'sms_opt_in' = ANY(branches)) AS sms_opt_in,
       count(*) FILTER (WHERE 'donation_link' = ANY(branches)) AS donation_link,
       count(*) FILTER (WHERE 'recorded' = ANY(branches)) AS recorded,
       count(*) FILTER (WHERE ended_at IS NOT NULL
                          AND NOT branches && $4::text[]) AS abandoned
FROM c GROUP BY day ORDER BY day DESC
"""


@dataclass(frozen=True, slots=True)
class NewCall:
    call_sid: str
    program: str
    shortcode: str
    msisdn: str | None  # the caller, E.164; None: withheld
    language: str
    started_at: datetime


@dataclass(frozen=True, slots=True)
class Call:
    call_sid: str
    program: str
    shortcode: str
    msisdn: str | None
    language: str
    started_at: datetime


async def open_call(conn: asyncpg.Connection, call: NewCall) -> Call:
    """The call's row, made by its first request; later requests get it as it was made."""
    made = affected(await conn.execute(
        INSERT_CALL, call.call_sid, call.program, call.shortcode, call.msisdn, call.language,
        call.started_at))
    if made:
        await webhook_events.emit(conn, [NewWebhookEvent(CALL_STARTED, {
            "call_sid": call.call_sid, "msisdn": call.msisdn, "shortcode": call.shortcode,
            "program": call.program, "language": call.language,
            "started_at": call.started_at.isoformat()}, call.started_at, call.msisdn)])
    row = await conn.fetchrow(GET_CALL, call.call_sid)
    assert row is not None  # inserted above, or by an earlier request
    return Call(row["call_sid"], row["program"], row["shortcode"], row["msisdn"],
                row["language"], row["started_at"])


async def claim_step(conn: asyncpg.Connection, call_sid: str, step: str, *, kind: str,
                     digits: str | None, branch: str | None, at: datetime) -> bool:
    """True: this request is the step's first, go on; False: a replay (see stored_answer)."""
    return await conn.fetchval(CLAIM_STEP, call_sid, step, kind, digits, branch, at) is not None


async def set_answer(conn: asyncpg.Connection, call_sid: str, step: str, answer: str) -> None:
    await conn.execute(SET_ANSWER, call_sid, step, answer)


async def stored_answer(conn: asyncpg.Connection, call_sid: str, step: str) -> str | None:
    answer: str | None = await conn.fetchval(STORED_ANSWER, call_sid, step)
    return answer


async def end_call(conn: asyncpg.Connection, call_sid: str, *, at: datetime, status: str,
                   duration_seconds: int | None) -> bool:
    row = await conn.fetchrow(END_CALL, call_sid, at, status, duration_seconds)
    if row is None:
        return False
    await webhook_events.emit(conn, [NewWebhookEvent(CALL_ENDED, {
        "call_sid": call_sid, "msisdn": row["msisdn"], "shortcode": row["shortcode"],
        "program": row["program"], "status": status, "duration_seconds": duration_seconds,
        "started_at": row["started_at"].isoformat(), "ended_at": at.isoformat()},
        at, row["msisdn"])])
    return True


async def reached_a_branch(conn: asyncpg.Connection, call_sid: str) -> bool:
    return bool(await conn.fetchval(REACHED_A_BRANCH, call_sid, list(BRANCH_ENDS)))


async def daily(conn: asyncpg.Connection, program: str, since: datetime,
                zone: str) -> list[asyncpg.Record]:
    """Per day (newest first): calls, how many reached each branch, how many were abandoned."""
    return list(await conn.fetch(DAILY, program, since, zone, list(BRANCH_ENDS)))


# A number's calls in brief: a caller who never texted is still a contact (its page lists
# the calls as conversations; services/contacts.py `existing_contact`).
CALLER_SPAN = """
SELECT min(started_at) AS first_at, max(coalesce(ended_at, started_at)) AS last_at
FROM calls WHERE msisdn = $1 HAVING count(*) > 0
"""


async def caller_span(conn: asyncpg.Connection, msisdn: str) -> asyncpg.Record | None:
    """When the number first and last called the line (None: it never called)."""
    row: asyncpg.Record | None = await conn.fetchrow(CALLER_SPAN, msisdn)
    return row


# -- erasure (store/privacy.py runs these in its one transaction) ------------------------

DELETE_EVENTS_OF = """
DELETE FROM call_events WHERE call_sid IN (SELECT call_sid FROM calls WHERE msisdn = $1)
"""
DELETE_CALLS_OF = "DELETE FROM calls WHERE msisdn = $1"


async def delete_events_of(conn: asyncpg.Connection, msisdn: str) -> int:
    """The steps of the number's calls (the keys it pressed); before `delete_calls_of`."""
    return affected(await conn.execute(DELETE_EVENTS_OF, msisdn))


async def delete_calls_of(conn: asyncpg.Connection, msisdn: str) -> int:
    """After its recordings and steps: nothing else points at a call."""
    return affected(await conn.execute(DELETE_CALLS_OF, msisdn))


# Calls from a withheld number (no number to erase them by): retention deletes them by
# their CallSid once they are old (store/privacy.py `erase_withheld_calls`); `msisdn IS
# NULL` again here, so a known caller's call is never taken this way.
DELETE_EVENTS_OF_WITHHELD = """
DELETE FROM call_events WHERE call_sid IN (
    SELECT call_sid FROM calls WHERE call_sid = ANY($1::text[]) AND msisdn IS NULL)
"""
DELETE_WITHHELD = "DELETE FROM calls WHERE call_sid = ANY($1::text[]) AND msisdn IS NULL"


async def delete_events_of_withheld(conn: asyncpg.Connection, call_sids: list[str]) -> int:
    """The steps of these withheld-number calls; before `delete_withheld`."""
    return affected(await conn.execute(DELETE_EVENTS_OF_WITHHELD, call_sids))


async def delete_withheld(conn: asyncpg.Connection, call_sids: list[str]) -> int:
    """These withheld-number calls, after their recordings and steps."""
    return affected(await conn.execute(DELETE_WITHHELD, call_sids))
