"""Read queries for the dashboard's campaign questions: which keyword grew the list, what
each broadcast brought, gifts per day, questions waiting. SQL only.

Why a module apart from store/dashboard.py: that one answers "is the gateway
flowing right now" over minutes and hours in UTC; this one answers campaign
questions over days in the organization's zone. Every query takes the window
as [since, until) instants and the zone's IANA name; a row's day is its
local calendar date (`AT TIME ZONE`), so a day with a DST change is one row.

Broadcast results credit replies, STOPs and gifts through the SQL function
`broadcast_attributed` (migration 340), the one place that says which
broadcast a supporter's act belongs to; the joins here only narrow the
candidates to the broadcast's recipients before the function decides.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime

import asyncpg

from gateway.store.questions import WAITING

# What grows the list: a confirmed opt-in or a new consent after a STOP.
JOINED = ("opt_in_confirmed", "resubscribed")

OPT_INS_PER_DAY = """
SELECT (occurred_at AT TIME ZONE $3)::date AS day, shortcode, keyword, count(*) AS n
FROM consent_events
WHERE occurred_at >= $1 AND occurred_at < $2 AND kind = ANY($4::text[])
GROUP BY 1, 2, 3
ORDER BY 1, 2, 3
"""

OPT_OUTS_PER_DAY = """
SELECT (occurred_at AT TIME ZONE $3)::date AS day, shortcode, count(*) AS n
FROM consent_events
WHERE occurred_at >= $1 AND occurred_at < $2 AND kind = 'opted_out'
GROUP BY 1, 2
ORDER BY 1, 2
"""

# A gift's day is its legal date of receipt (the YES), as on the finance reports.
GIFTS_PER_DAY = """
SELECT (confirmed_at AT TIME ZONE $3)::date AS day, currency,
       count(*) AS gifts, sum(amount_cents)::bigint AS cents
FROM donations
WHERE confirmed_at >= $1 AND confirmed_at < $2
GROUP BY 1, 2
ORDER BY 1, 2
"""

# Broadcasts with a text sent in the window (found through the BRIN index on
# submitted_at), newest first by their first text; their rows are then read through
# the (broadcast_id, msisdn) key, never the whole history. `recipients`: numbers the
# text was sent to. Replies: recipients who texted anything but a STOP; opt-outs:
# recipients whose STOP is credited to it; gifts: confirmed gifts credited to it.
BROADCAST_RESULTS = """
WITH shown AS (
    SELECT o.broadcast_id AS id, min(o.submitted_at) AS first_sent, count(*) AS recipients
    FROM outbound o
    WHERE o.broadcast_id IN (SELECT DISTINCT broadcast_id FROM outbound
                             WHERE submitted_at >= $1 AND submitted_at < $2
                               AND broadcast_id IS NOT NULL)
      AND o.submitted_at IS NOT NULL
    GROUP BY o.broadcast_id
    ORDER BY first_sent DESC, o.broadcast_id DESC
    LIMIT $3
), sent AS (
    SELECT o.broadcast_id, o.msisdn, o.shortcode, o.submitted_at
    FROM outbound o JOIN shown s ON s.id = o.broadcast_id
    WHERE o.submitted_at IS NOT NULL
), replies AS (
    SELECT s.broadcast_id, count(DISTINCT i.msisdn) AS n
    FROM sent s
    JOIN inbound i ON i.msisdn = s.msisdn AND i.shortcode = s.shortcode
                  AND i.received_at >= s.submitted_at
                  AND i.received_at < s.submitted_at + interval '1 day'
    WHERE broadcast_attributed(i.msisdn, i.shortcode, i.received_at) = s.broadcast_id
      AND NOT EXISTS (SELECT 1 FROM consent_events e
                      WHERE e.inbound_id = i.id AND e.kind = 'opted_out')
    GROUP BY 1
), opt_outs AS (
    SELECT s.broadcast_id, count(DISTINCT e.msisdn) AS n
    FROM sent s
    JOIN consent_events e ON e.msisdn = s.msisdn AND e.shortcode = s.shortcode
                         AND e.kind = 'opted_out'
                         AND e.occurred_at >= s.submitted_at
                         AND e.occurred_at < s.submitted_at + interval '1 day'
    WHERE broadcast_attributed(e.msisdn, e.shortcode, e.occurred_at) = s.broadcast_id
    GROUP BY 1
), gifts AS (
    SELECT s.broadcast_id,
           jsonb_object_agg(g.currency, jsonb_build_array(g.gifts, g.cents)) AS per_currency
    FROM (SELECT DISTINCT broadcast_id FROM sent) s
    JOIN LATERAL (
        SELECT d.currency, count(*) AS gifts, sum(d.amount_cents)::bigint AS cents
        FROM sent r
        JOIN donations d ON d.msisdn = r.msisdn AND d.shortcode = r.shortcode
                        AND d.confirmed_at >= r.submitted_at
                        AND d.confirmed_at < r.submitted_at + interval '1 day'
        WHERE r.broadcast_id = s.broadcast_id
          AND broadcast_attributed(d.msisdn, d.shortcode, d.confirmed_at) = s.broadcast_id
        GROUP BY d.currency
    ) g ON true
    GROUP BY 1
)
SELECT s.id, b.program, b.shortcode, b.template, s.first_sent, s.recipients,
       coalesce(r.n, 0) AS replies, coalesce(x.n, 0) AS opt_outs,
       coalesce(g.per_currency, '{}'::jsonb) AS gifts
FROM shown s
JOIN broadcasts b ON b.id = s.id
LEFT JOIN replies r ON r.broadcast_id = s.id
LEFT JOIN opt_outs x ON x.broadcast_id = s.id
LEFT JOIN gifts g ON g.broadcast_id = s.id
ORDER BY s.first_sent DESC, s.id DESC
"""

ATTRIBUTED = "SELECT broadcast_attributed($1, $2, $3)"

QUESTIONS_WAITING = """
SELECT program, theme, count(*) AS waiting,
       count(*) FILTER (WHERE sla_due < $1) AS overdue, min(asked_at) AS oldest
FROM questions
WHERE status = ANY($2::text[])
GROUP BY 1, 2
ORDER BY 1, 2
"""


@dataclass(frozen=True, slots=True)
class DayCount:
    day: date  # the local calendar day
    shortcode: str
    keyword: str  # "" for opt-outs, counted per short code only
    count: int


@dataclass(frozen=True, slots=True)
class GiftDay:
    day: date
    currency: str
    gifts: int
    cents: int


@dataclass(frozen=True, slots=True)
class Money:
    currency: str
    gifts: int
    cents: int


@dataclass(frozen=True, slots=True)
class BroadcastResult:
    id: int
    program: str
    shortcode: str
    template: str
    first_sent: datetime
    recipients: int  # numbers the text was sent to (accepted by the SMSC)
    replies: int  # recipients who answered within 24 h (a STOP is not counted here)
    opt_outs: int  # recipients whose STOP within 24 h is credited to it
    gifts: tuple[Money, ...]  # gifts credited to it, per currency

    @property
    def opt_out_rate(self) -> float:
        return self.opt_outs / self.recipients if self.recipients else 0.0

    @property
    def reply_rate(self) -> float:
        return self.replies / self.recipients if self.recipients else 0.0


@dataclass(frozen=True, slots=True)
class ThemeWaiting:
    program: str
    theme: str
    waiting: int  # open, claimed or escalated
    overdue: int  # of those, past their SLA now
    oldest: datetime


async def opt_ins_per_day(conn: asyncpg.Connection, *, since: datetime, until: datetime,
                          zone: str) -> list[DayCount]:
    rows = await conn.fetch(OPT_INS_PER_DAY, since, until, zone, list(JOINED))
    return [DayCount(r["day"], r["shortcode"], r["keyword"], r["n"]) for r in rows]


async def opt_outs_per_day(conn: asyncpg.Connection, *, since: datetime, until: datetime,
                           zone: str) -> list[DayCount]:
    rows = await conn.fetch(OPT_OUTS_PER_DAY, since, until, zone)
    return [DayCount(r["day"], r["shortcode"], "", r["n"]) for r in rows]


async def gifts_per_day(conn: asyncpg.Connection, *, since: datetime, until: datetime,
                        zone: str) -> list[GiftDay]:
    rows = await conn.fetch(GIFTS_PER_DAY, since, until, zone)
    return [GiftDay(r["day"], r["currency"], r["gifts"], r["cents"]) for r in rows]


async def broadcast_results(conn: asyncpg.Connection, *, since: datetime, until: datetime,
                            limit: int = 20) -> list[BroadcastResult]:
    """Broadcasts with a text sent in [since, until), newest first, with what they brought."""
    rows = await conn.fetch(BROADCAST_RESULTS, since, until, limit)
    results = []
    for r in rows:
        gifts = json.loads(r["gifts"])
        results.append(BroadcastResult(
            r["id"], r["program"], r["shortcode"], r["template"], r["first_sent"],
            r["recipients"], r["replies"], r["opt_outs"],
            tuple(Money(c, int(n), int(cents)) for c, (n, cents) in sorted(gifts.items()))))
    return results


async def attributed_broadcast(conn: asyncpg.Connection, msisdn: str, shortcode: str,
                               at: datetime) -> int | None:
    """The broadcast an act of this contact at `at` is credited to (migration 340), or None."""
    value = await conn.fetchval(ATTRIBUTED, msisdn, shortcode, at)
    return int(value) if value is not None else None


async def questions_waiting(conn: asyncpg.Connection, *, now: datetime) -> list[ThemeWaiting]:
    rows = await conn.fetch(QUESTIONS_WAITING, now, list(WAITING))
    return [ThemeWaiting(r["program"], r["theme"], r["waiting"], r["overdue"], r["oldest"])
            for r in rows]
