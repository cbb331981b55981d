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

# Broadcasts with a text sent in the window, newest first by their first text. Each
# broadcast is one probe of outbound_broadcast_sent_idx (migration 410) for "sent in the
# window" and one for its first text; only the shown ones' texts are then read (the same
# index, without the heap). The MOs, STOPs and gifts are read once for the span those
# texts can be credited in (BRIN), then matched to the recipients.
# `recipients`: numbers the text was sent to. Replies: recipients who texted anything
# but a STOP; opt-outs: recipients whose STOP is credited to it; gifts: confirmed gifts
# credited to it.
BROADCAST_RESULTS = """
WITH shown AS MATERIALIZED (
    SELECT b.id, first.submitted_at AS first_sent
    FROM broadcasts b CROSS JOIN LATERAL (
        SELECT o.submitted_at FROM outbound o
        WHERE o.broadcast_id = b.id AND o.submitted_at IS NOT NULL
        ORDER BY o.submitted_at LIMIT 1
    ) first
    WHERE EXISTS (SELECT 1 FROM outbound o
                  WHERE o.broadcast_id = b.id AND o.submitted_at >= $1 AND o.submitted_at < $2)
    ORDER BY first.submitted_at DESC, b.id DESC
    LIMIT $3
), sent AS MATERIALIZED (
    SELECT o.broadcast_id, o.msisdn, o.shortcode, o.submitted_at
    FROM shown s JOIN outbound o ON o.broadcast_id = s.id
    WHERE o.submitted_at IS NOT NULL
), reached AS (
    SELECT broadcast_id, count(*) AS recipients FROM sent GROUP BY 1
), span AS (  -- when a credited act can happen: from the first text to 24 h after the last
    SELECT min(s.first_sent) AS first, max(l.sent) + interval '1 day' AS last
    FROM shown s CROSS JOIN LATERAL (
        SELECT max(o.submitted_at) AS sent FROM outbound o
        WHERE o.broadcast_id = s.id AND o.submitted_at IS NOT NULL
    ) l
), stops AS MATERIALIZED (
    SELECT e.inbound_id, e.msisdn, e.shortcode, e.occurred_at
    FROM span, consent_events e
    WHERE e.kind = 'opted_out' AND e.occurred_at >= span.first AND e.occurred_at < span.last
), candidates AS MATERIALIZED (  -- acts of a recipient within 24 h of its text
    SELECT s.broadcast_id, 'reply' AS act, i.msisdn, i.shortcode, i.received_at AS at,
           NULL::text AS currency, 0::bigint AS cents
    FROM span, inbound i
    JOIN sent s ON s.msisdn = i.msisdn AND s.shortcode = i.shortcode
               AND i.received_at >= s.submitted_at
               AND i.received_at < s.submitted_at + interval '1 day'
    WHERE i.received_at >= span.first AND i.received_at < span.last
      AND i.id NOT IN (SELECT inbound_id FROM stops)
    UNION ALL
    SELECT s.broadcast_id, 'stop', e.msisdn, e.shortcode, e.occurred_at, NULL, 0
    FROM stops e
    JOIN sent s ON s.msisdn = e.msisdn AND s.shortcode = e.shortcode
               AND e.occurred_at >= s.submitted_at
               AND e.occurred_at < s.submitted_at + interval '1 day'
    UNION ALL
    SELECT s.broadcast_id, 'gift', d.msisdn, d.shortcode, d.confirmed_at, d.currency,
           d.amount_cents
    FROM span, donations d
    JOIN sent s ON s.msisdn = d.msisdn AND s.shortcode = d.shortcode
               AND d.confirmed_at >= s.submitted_at
               AND d.confirmed_at < s.submitted_at + interval '1 day'
    WHERE d.confirmed_at >= span.first AND d.confirmed_at < span.last
), credited AS MATERIALIZED (  -- the rule decides, once per candidate
    SELECT * FROM candidates c
    WHERE broadcast_attributed(c.msisdn, c.shortcode, c.at) = c.broadcast_id
), replies AS (
    SELECT broadcast_id, count(DISTINCT msisdn) AS n FROM credited WHERE act = 'reply'
    GROUP BY 1
), opt_outs AS (
    SELECT broadcast_id, count(DISTINCT msisdn) AS n FROM credited WHERE act = 'stop'
    GROUP BY 1
), gift_rows AS (
    SELECT broadcast_id, currency, count(*) AS gifts, sum(cents)::bigint AS cents
    FROM credited WHERE act = 'gift'
    GROUP BY 1, 2
), gifts AS (
    SELECT broadcast_id,
           jsonb_object_agg(currency, jsonb_build_array(gifts, cents)) AS per_currency
    FROM gift_rows GROUP BY 1
)
SELECT s.id, b.program, b.shortcode, b.template, s.first_sent, n.recipients,
       coalesce(r.n, 0) AS replies, coalesce(x.n, 0) AS opt_outs,
       coalesce(g.per_currency, '{}'::jsonb) AS gifts
FROM shown s
JOIN broadcasts b ON b.id = s.id
JOIN reached n ON n.broadcast_id = s.id
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
