"""Newsletter segments as SQL: which confirmed e-mail subscribers of a program an audience
filter reaches (migration 280). Reads only; it writes no table.

Why through the person's number: the audience language reads a contact's profile,
zip, state, activity and donations, which an e-mail address does not have. An
address only has them once a person (person_addresses: verified joins only, never
a guess) links it to a number that has a contact on one of the program's short
codes; the filter is then that contact's, compiled by `gateway.store.audience`
(one filter language, one compiler). An address with no linked number matches no
non-empty filter, and `count` says how many were left out for that reason.

The SMS side's own eligibility (subscribed to the program by SMS, not opted out
of SMS) is deliberately NOT applied: it is consent for texts, and a newsletter
goes on the e-mail consent (address_subscriptions). `program = x` in a filter
still means "subscribed to x by SMS", as the language says.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from gateway.audience import Audience
from gateway.store.audience import SqlParams, compile_audience

# A confirmed subscriber of the program: pending requests and opt-outs never receive one.
SUBSCRIBED = "s.channel = 'email' AND s.program = {program} AND s.state = 'subscribed'"

# A number verified to be the subscriber's person, with a contact on the program's codes.
LINKED_CONTACT = """EXISTS (
    SELECT 1 FROM person_addresses e
    JOIN person_addresses n ON n.person_id = e.person_id AND n.channel = 'sms'
    JOIN contacts c ON c.msisdn = n.address AND c.shortcode = ANY({shortcodes})
    WHERE e.address = s.address{audience})"""

NEXT_IN_SEGMENT = """
SELECT s.address FROM address_subscriptions s
WHERE {where} AND s.address > {after}
ORDER BY s.address LIMIT {limit}
"""

COUNT_SEGMENT = """
SELECT count(*) FILTER (WHERE {segment}) AS recipients,
       count(*) AS subscribers,
       count(*) FILTER (WHERE NOT {linked}) AS unlinked
FROM address_subscriptions s WHERE {subscribed}
"""


@dataclass(frozen=True, slots=True)
class SegmentCount:
    recipients: int  # confirmed subscribers the newsletter would reach
    subscribers: int  # every confirmed subscriber of the program
    unlinked: int  # of those, addresses with no linked number on the program's codes


def segment_where(params: SqlParams, *, program: str, shortcodes: Sequence[str],
                  audience: Audience | None, now: datetime) -> str:
    """WHERE text over `address_subscriptions s`: the confirmed subscribers, then the filter."""
    subscribed = SUBSCRIBED.format(program=params.add(program, "text"))
    if audience is None:
        return subscribed
    return f"{subscribed} AND {_linked(params, shortcodes, audience, now)}"


def _linked(params: SqlParams, shortcodes: Sequence[str], audience: Audience | None,
            now: datetime) -> str:
    codes = params.add(list(shortcodes), "text[]")
    narrowed = "" if audience is None else \
        f" AND ({compile_audience(audience, params, now=now)})"
    return LINKED_CONTACT.format(shortcodes=codes, audience=narrowed)


async def next_subscribers(conn: asyncpg.Connection, *, program: str, shortcodes: Sequence[str],
                           audience: Audience | None, after: str, limit: int,
                           now: datetime) -> list[str]:
    """The next addresses of the segment, in address order after the cursor."""
    params = SqlParams()
    where = segment_where(params, program=program, shortcodes=shortcodes, audience=audience,
                          now=now)
    query = NEXT_IN_SEGMENT.format(where=where, after=params.add(after, "text"),
                                   limit=params.add(limit, "int8"))
    return [r["address"] for r in await conn.fetch(query, *params.values)]


async def count(conn: asyncpg.Connection, *, program: str, shortcodes: Sequence[str],
                audience: Audience | None, now: datetime) -> SegmentCount:
    """The preview's numbers: who the filter reaches, out of how many, and how many
    addresses no non-empty filter can reach for want of a linked number."""
    params = SqlParams()
    subscribed = SUBSCRIBED.format(program=params.add(program, "text"))
    segment = "true" if audience is None else _linked(params, shortcodes, audience, now)
    linked = _linked(params, shortcodes, None, now)
    row = await conn.fetchrow(
        COUNT_SEGMENT.format(segment=segment, linked=linked, subscribed=subscribed),
        *params.values)
    assert row is not None
    return SegmentCount(recipients=row["recipients"], subscribers=row["subscribers"],
                        unlinked=row["unlinked"])
