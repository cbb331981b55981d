"""Read queries for one broadcast's results (docs/links-and-results.md). SQL only.

Which reply, STOP or gift is the broadcast's is decided by the SQL function
`broadcast_attributed` (migration 340, docs/dashboard.md), the one rule the
dashboard uses too; the joins here only narrow the candidates to acts of the
broadcast's recipients within 24 hours of their own text, then the function
decides (a later broadcast to the same person takes the act). Read through
the (broadcast_id, msisdn) key and each table's number index: one broadcast,
never the whole history.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

# What became of its texts: sent (accepted by the SMSC, any later fate), delivered,
# failed per status and carrier reason, and never sent (opted out first, cancelled).
OUTCOMES = """
SELECT o.status, coalesce(nullif(o.last_error, ''), seg.error_code, '') AS reason,
       count(*) AS n
FROM outbound o
LEFT JOIN LATERAL (SELECT s.error_code FROM outbound_segments s
                   WHERE s.outbound_id = o.id AND s.error_code IS NOT NULL
                   ORDER BY s.seq LIMIT 1) seg ON o.status IN ('undeliverable', 'rejected')
WHERE o.broadcast_id = $1
GROUP BY 1, 2
ORDER BY 1, 2
"""

# Replies (recipients who texted anything but a STOP), opt-outs (STOPs) and confirmed
# gifts credited to the broadcast, each within 24 h of the recipient's own text.
_CREDITED_CTES = """
sent AS MATERIALIZED (
    SELECT o.msisdn, o.shortcode, o.submitted_at, o.variant
    FROM outbound o WHERE o.broadcast_id = $1 AND o.submitted_at IS NOT NULL
), stops AS MATERIALIZED (
    SELECT e.inbound_id, e.msisdn, e.shortcode, e.occurred_at
    FROM sent s JOIN consent_events e
      ON e.msisdn = s.msisdn AND e.shortcode = s.shortcode AND e.kind = 'opted_out'
     AND e.occurred_at >= s.submitted_at AND e.occurred_at < s.submitted_at + interval '1 day'
), candidates AS (
    SELECT 'reply' AS act, i.msisdn, i.shortcode, i.received_at AS at,
           NULL::text AS currency, 0::bigint AS cents
    FROM sent s JOIN inbound i
      ON i.msisdn = s.msisdn AND i.shortcode = s.shortcode
     AND i.received_at >= s.submitted_at AND i.received_at < s.submitted_at + interval '1 day'
    WHERE i.id NOT IN (SELECT inbound_id FROM stops WHERE inbound_id IS NOT NULL)
    UNION ALL
    SELECT 'stop', msisdn, shortcode, occurred_at, NULL, 0 FROM stops
    UNION ALL
    SELECT 'gift', d.msisdn, d.shortcode, d.confirmed_at, d.currency, d.amount_cents
    FROM sent s JOIN donations d
      ON d.msisdn = s.msisdn AND d.shortcode = s.shortcode
     AND d.confirmed_at >= s.submitted_at AND d.confirmed_at < s.submitted_at + interval '1 day'
), credited AS MATERIALIZED (
    SELECT * FROM candidates c WHERE broadcast_attributed(c.msisdn, c.shortcode, c.at) = $1
)"""

CREDITED = f"""
WITH {_CREDITED_CTES}
SELECT act, coalesce(currency, '') AS currency, count(DISTINCT msisdn) AS people,
       count(*) AS acts, coalesce(sum(cents), 0)::bigint AS cents
FROM credited GROUP BY 1, 2 ORDER BY 1, 2
"""

# Per A/B variant: texts sent, recipients who followed a link, and the recipients whose
# reply or STOP, and the gifts, credited to the broadcast, by the variant they got.
VARIANT_STATS = f"""
WITH {_CREDITED_CTES},
per_number AS (
    SELECT msisdn, bool_or(act = 'reply') AS replied, bool_or(act = 'stop') AS stopped,
           count(*) FILTER (WHERE act = 'gift') AS gifts
    FROM credited GROUP BY 1
), clicked AS (
    SELECT DISTINCT msisdn FROM short_links WHERE broadcast_id = $1 AND clicks > 0
)
SELECT s.variant, count(*) AS sent,
       count(*) FILTER (WHERE s.msisdn IN (SELECT msisdn FROM clicked)) AS clicks,
       count(*) FILTER (WHERE p.replied) AS replies,
       coalesce(sum(p.gifts), 0)::bigint AS gifts,
       count(*) FILTER (WHERE p.stopped) AS opt_outs
FROM sent s LEFT JOIN per_number p ON p.msisdn = s.msisdn
WHERE s.variant IS NOT NULL
GROUP BY 1 ORDER BY 1
"""


@dataclass(frozen=True, slots=True)
class Outcome:
    status: str  # the outbox row's status (store/words.py says it in words)
    reason: str  # the carrier's or the sender's reason for a failure, '' when none
    count: int


@dataclass(frozen=True, slots=True)
class Credited:
    act: str  # 'reply', 'stop' or 'gift'
    currency: str  # a gift's currency; '' for replies and STOPs
    people: int  # distinct recipients
    acts: int  # rows (gifts: how many)
    cents: int  # gifts: the amount


async def outcomes(conn: asyncpg.Connection, broadcast_id: int) -> list[Outcome]:
    return [Outcome(r["status"], r["reason"], r["n"])
            for r in await conn.fetch(OUTCOMES, broadcast_id)]


async def credited(conn: asyncpg.Connection, broadcast_id: int) -> list[Credited]:
    return [Credited(r["act"], r["currency"], r["people"], r["acts"], r["cents"])
            for r in await conn.fetch(CREDITED, broadcast_id)]


async def variant_stats(conn: asyncpg.Connection, broadcast_id: int) -> list[asyncpg.Record]:
    """variant, sent, clicks, replies, gifts, opt_outs of each variant that sent a text."""
    return list(await conn.fetch(VARIANT_STATS, broadcast_id))
