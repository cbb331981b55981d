"""The e-mail addresses the campaign knows as people, for the contacts search and the e-mail
contact page. Read-only.

Why a read of its own and not a table: an address that wrote to us is already
recorded where it came in (mail_inbound, web_messages, the question it asked,
the list it asked to join, the person it was verified to be), so a "known
addresses" table would be a second copy to keep in step and to erase. The
smallest sound read is the union of those five: mail from a person (never
answerable mail: bounces, auto-replies, list traffic, robots and our own
addresses are nobody's contact; mail_inbound.never_answer), a form post with
an address, a written question (its address may be a Reply-To), a consent
request, a person's verified address. Staff addresses that only received
our notices are left out: mail_outbox is not read.

Addresses are compared in the form gateway/email_address.py gives them
(lower case); mail_inbound keeps From as written, so it is lowered here, as
everywhere it is compared (its index is on lower(from_address)).
"""

from __future__ import annotations

import asyncpg

# Every sighting of an address: when, and how (what the page says about it). Retention
# reads it too (store/privacy.py): an address is idle when its last sighting is old.
SEEN = """
    SELECT lower(from_address) AS address, received_at AS at, 'email' AS via
    FROM mail_inbound WHERE never_answer IS NULL AND from_address LIKE '%_@_%'
    UNION ALL
    SELECT email, asked_at, 'question' FROM questions WHERE email IS NOT NULL
    UNION ALL
    SELECT email, received_at, 'form' FROM web_messages WHERE email IS NOT NULL
    UNION ALL
    SELECT address, since, 'list' FROM address_subscriptions WHERE channel = 'email'
    UNION ALL
    SELECT address, added_at, 'person' FROM person_addresses WHERE channel = 'email'
"""

# What a search row and the page's head show; $1.. are the caller's filter.
_SUMMARY = """
SELECT s.address, min(s.at) AS first_seen, max(s.at) AS last_seen,
       array_agg(DISTINCT s.via ORDER BY s.via) AS via,
       (SELECT coalesce(array_agg(o.address ORDER BY o.address), '{{}}')
        FROM person_addresses p JOIN person_addresses o
             ON o.person_id = p.person_id AND o.channel = 'sms'
        WHERE p.address = s.address) AS numbers
FROM ({seen}) AS s
WHERE {where}
GROUP BY s.address
ORDER BY s.address
"""

# Addresses holding the typed text ($1, a LIKE pattern), after $2, at most $3. The
# condition reaches every branch of the union, so each table is read once.
SEARCH = _SUMMARY.format(
    seen=SEEN, where="s.address LIKE $1 AND ($2::text IS NULL OR s.address > $2)") + """
LIMIT $3
"""

# One address, exactly: each branch uses its table's index on the address.
GET = _SUMMARY.format(seen=SEEN, where="s.address = $1")


def _like_part(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def search(conn: asyncpg.Connection, part: str, *, after: str | None = None,
                 limit: int = 50) -> list[asyncpg.Record]:
    """Known addresses containing `part` (already in lower case), in address order; each
    with first and last sighting, how it was seen, and its person's numbers."""
    return list(await conn.fetch(SEARCH, _like_part(part), after, limit))


async def get(conn: asyncpg.Connection, address: str) -> asyncpg.Record | None:
    """The address's summary (as `search` gives it), or None when it is no one we know."""
    row: asyncpg.Record | None = await conn.fetchrow(GET, address)
    return row

