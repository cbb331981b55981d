"""Read queries for the dashboard page: traffic, consent and donations at a glance. SQL only.

Why counted from the tables rather than from Prometheus counters: the
counters die with the process and each gateway instance has its own; the
rows are shared by every instance and survive restarts, so the dashboard
shows the campaign, not one process. The time window is always passed in
(the caller reads the clock), and hours are cut in UTC so a day with a
daylight-saving change still has 24 buckets.

Money comes back as int cents: PostgreSQL's sum() of a bigint column is a
numeric (asyncpg hands over a Decimal), so the sums are cast to bigint
here, at the store boundary, where the page's money filter expects int.

Cost: each count reads only its time range, through the BRIN indexes of
migration 013 (the tables are appended in time order).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

# Money actually taken (the same statuses the finance reports count).
TAKEN_STATUSES = ("billed", "charged", "partially_refunded", "refunded", "disputed")

TRAFFIC_SINCE = """
SELECT (SELECT count(*) FROM inbound WHERE received_at >= $1) AS mo,
       (SELECT count(*) FROM outbound WHERE submitted_at >= $1) AS mt
"""

CONSENT_SINCE = """
SELECT count(*) FILTER (WHERE kind IN ('opt_in_confirmed', 'resubscribed')) AS opt_ins,
       count(*) FILTER (WHERE kind = 'opted_out') AS opt_outs
FROM consent_events
WHERE occurred_at >= $1
"""

DONATIONS_SINCE = """
SELECT currency,
       count(*) AS confirmed,
       sum(amount_cents)::bigint AS confirmed_cents,
       count(*) FILTER (WHERE status = ANY($2::text[])) AS taken,
       coalesce(sum(amount_cents) FILTER (WHERE status = ANY($2::text[])), 0)::bigint
           AS taken_cents
FROM donations
WHERE confirmed_at >= $1
GROUP BY currency
ORDER BY currency
"""

HOURLY = """
WITH mo AS (
    SELECT date_trunc('hour', received_at, 'UTC') AS hour, count(*) AS n
    FROM inbound WHERE received_at >= $1 GROUP BY 1
), mt AS (
    SELECT date_trunc('hour', submitted_at, 'UTC') AS hour, count(*) AS n
    FROM outbound WHERE submitted_at >= $1 GROUP BY 1
), consent AS (
    SELECT date_trunc('hour', occurred_at, 'UTC') AS hour,
           count(*) FILTER (WHERE kind IN ('opt_in_confirmed', 'resubscribed')) AS opt_ins,
           count(*) FILTER (WHERE kind = 'opted_out') AS opt_outs
    FROM consent_events WHERE occurred_at >= $1 GROUP BY 1
)
SELECT h.hour, coalesce(mo.n, 0) AS mo, coalesce(mt.n, 0) AS mt,
       coalesce(consent.opt_ins, 0) AS opt_ins, coalesce(consent.opt_outs, 0) AS opt_outs
FROM generate_series(date_trunc('hour', $1::timestamptz, 'UTC'),
                     date_trunc('hour', $2::timestamptz, 'UTC'),
                     interval '1 hour') AS h(hour)
LEFT JOIN mo USING (hour)
LEFT JOIN mt USING (hour)
LEFT JOIN consent USING (hour)
ORDER BY h.hour
"""


@dataclass(frozen=True, slots=True)
class Traffic:
    mo: int  # MOs received since the given time
    mt: int  # MTs accepted by the SMSC since then


@dataclass(frozen=True, slots=True)
class ConsentCounts:
    opt_ins: int  # confirmed opt-ins and re-subscriptions
    opt_outs: int


@dataclass(frozen=True, slots=True)
class DonationTotals:
    currency: str
    confirmed: int  # YES received (the legal date of receipt)
    confirmed_cents: int
    taken: int  # of those, billed or charged
    taken_cents: int


@dataclass(frozen=True, slots=True)
class HourCounts:
    hour: datetime  # start of the UTC hour
    mo: int
    mt: int
    opt_ins: int
    opt_outs: int


async def traffic_since(conn: asyncpg.Connection, since: datetime) -> Traffic:
    row = await conn.fetchrow(TRAFFIC_SINCE, since)
    return Traffic(mo=row["mo"], mt=row["mt"])


async def consent_since(conn: asyncpg.Connection, since: datetime) -> ConsentCounts:
    row = await conn.fetchrow(CONSENT_SINCE, since)
    return ConsentCounts(opt_ins=row["opt_ins"], opt_outs=row["opt_outs"])


async def donations_since(conn: asyncpg.Connection, since: datetime) -> list[DonationTotals]:
    rows = await conn.fetch(DONATIONS_SINCE, since, list(TAKEN_STATUSES))
    return [DonationTotals(r["currency"], r["confirmed"], r["confirmed_cents"], r["taken"],
                           r["taken_cents"]) for r in rows]


async def list_hourly(conn: asyncpg.Connection, *, since: datetime, until: datetime
                      ) -> list[HourCounts]:
    """One row per UTC hour from `since`'s hour to `until`'s, zeros included."""
    rows = await conn.fetch(HOURLY, since, until)
    return [HourCounts(r["hour"], r["mo"], r["mt"], r["opt_ins"], r["opt_outs"]) for r in rows]
