"""The voice line's numbers for organizers (docs/voice.md "Reports"): read-only SQL over
`calls`, `call_events` and the voice channel of `questions`. No personal data leaves:
only counts per day, per branch and per theme.

Why one per-call summary (`PER_CALL`) under every count: a call is counted once per
day and once per branch however many steps it took (a caller who heard the message
twice reached "message" once), and "abandoned" is decided on the same rows as the
totals it is a share of.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import asyncpg

from gateway.store.calls import BRANCH_ENDS

# $1 program, $2 from (inclusive), $3 until (exclusive), $4 the organization's time zone
PER_CALL = """
WITH c AS (
    SELECT c.call_sid, (c.started_at AT TIME ZONE $4)::date AS day, c.ended_at,
           coalesce(array_agg(DISTINCT e.branch) FILTER (WHERE e.branch IS NOT NULL),
                    '{}'::text[]) AS branches
    FROM calls c LEFT JOIN call_events e ON e.call_sid = c.call_sid
    WHERE c.program = $1 AND c.started_at >= $2 AND c.started_at < $3
    GROUP BY c.call_sid, c.started_at, c.ended_at
)
"""

CALLS_PER_DAY = PER_CALL + """
SELECT day, count(*) AS calls,
       count(*) FILTER (WHERE ended_at IS NOT NULL) AS ended,
       count(*) FILTER (WHERE ended_at IS NOT NULL AND NOT branches && $5::text[]) AS abandoned
FROM c GROUP BY day ORDER BY day
"""

CALLS_PER_BRANCH = PER_CALL + """
SELECT branch, count(*) AS calls
FROM c CROSS JOIN LATERAL unnest(c.branches) AS branch
GROUP BY branch ORDER BY branch
"""

VOICE_QUESTIONS_PER_THEME = """
SELECT theme, count(*) AS questions,
       count(*) FILTER (WHERE status = 'answered') AS answered,
       count(*) FILTER (WHERE msisdn IS NULL) AS withheld
FROM questions
WHERE channel = 'voice' AND program = $1 AND asked_at >= $2 AND asked_at < $3
GROUP BY theme ORDER BY theme
"""


@dataclass(frozen=True, slots=True)
class DayCount:
    day: date
    calls: int
    ended: int  # the provider has told us the call's end
    abandoned: int  # ended before reaching a branch's end (BRANCH_ENDS)


@dataclass(frozen=True, slots=True)
class ThemeCount:
    theme: str
    questions: int
    answered: int
    withheld: int  # from a withheld number: cannot be answered


async def calls_per_day(conn: asyncpg.Connection, program: str, start: datetime, end: datetime,
                        zone: str) -> list[DayCount]:
    """Days with at least one call, oldest first, in `zone`."""
    rows = await conn.fetch(CALLS_PER_DAY, program, start, end, zone, list(BRANCH_ENDS))
    return [DayCount(r["day"], r["calls"], r["ended"], r["abandoned"]) for r in rows]


async def calls_per_branch(conn: asyncpg.Connection, program: str, start: datetime,
                           end: datetime, zone: str) -> dict[str, int]:
    """Branch -> calls that reached it (once a call, however many times)."""
    rows = await conn.fetch(CALLS_PER_BRANCH, program, start, end, zone)
    return {r["branch"]: r["calls"] for r in rows}


async def voice_questions_per_theme(conn: asyncpg.Connection, program: str, start: datetime,
                                    end: datetime) -> list[ThemeCount]:
    rows = await conn.fetch(VOICE_QUESTIONS_PER_THEME, program, start, end)
    return [ThemeCount(r["theme"], r["questions"], r["answered"], r["withheld"]) for r in rows]
