"""Audiences as SQL: the AST of `gateway.audience` compiled to a WHERE over contacts.

Every value travels as a `$n` parameter; the only text put into the SQL is
this module's own fragments, so no filter an organizer types can change the
statement's shape. Each predicate is made two-valued (`coalesce(..., false)`)
so `not state = FL` means "everyone else", including people whose state is
unknown, rather than SQL's NULL logic silently dropping them.

The eligible set is always narrowed first to the broadcast's short code, its
program's subscribers, and numbers that have not opted out; the organizer's
filter can only narrow it further.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, assert_never

import asyncpg

from gateway.audience import (
    ActiveWithin,
    And,
    Audience,
    Donated,
    GenderIn,
    InProgram,
    KeywordIn,
    Not,
    NumberIn,
    Or,
    ProfileIn,
    ProgramStatus,
    StateIn,
    TagIn,
    TimeZoneIn,
    ZipPrefix,
)

SUBSCRIBED = "subscribed"

# Membership lives in contacts.state->'subs'->program->>'status' (gateway/engine/state.py);
# containment (@>) keeps it one indexable operator.
ELIGIBLE = "c.shortcode = {shortcode} AND NOT c.opted_out AND c.state @> {membership}"

# "Active": a message from them since then (the MO log is the record of activity).
ACTIVE_SINCE = (
    "EXISTS (SELECT 1 FROM inbound i WHERE i.msisdn = c.msisdn AND i.shortcode = c.shortcode"
    " AND i.received_at >= {since})"
)

# A donation the donor confirmed with YES (migrations/003) that did not fail or lapse:
# billed, charged, on its way, or later refunded. Failed, refused, cancelled and
# expired requests never took money, so they do not make a donor.
DONATED = (
    "EXISTS (SELECT 1 FROM donations d WHERE d.msisdn = c.msisdn AND d.shortcode = c.shortcode"
    " AND d.confirmed_at IS NOT NULL"
    " AND d.status NOT IN ('failed', 'refused', 'cancelled', 'expired'))"
)

# Tagged (store/tags.py): tags belong to the number, whichever short code it texted.
TAGGED = "EXISTS (SELECT 1 FROM contact_tags t WHERE t.msisdn = c.msisdn AND t.tag = ANY({tags}))"

# Joined by texting one of these keywords: its consent ledger says so, as the contact
# search's keyword filter reads it (store/lookups.py SEARCH_CONTACTS).
JOINED_BY = (
    "EXISTS (SELECT 1 FROM consent_events e WHERE e.msisdn = c.msisdn"
    " AND e.shortcode = c.shortcode AND e.keyword = ANY({keywords}) AND e.kind <> 'opted_out')"
)

COUNT = "SELECT count(*) FROM contacts c WHERE {where}"

SAMPLE = """
SELECT c.msisdn, c.state->'profile' AS profile, c.zip, c.region, c.country, c.timezones
FROM contacts c
WHERE {where}
ORDER BY random()
LIMIT {limit}
"""


class SqlParams:
    """Numbered parameters for one statement; `add` returns the placeholder with its cast."""

    def __init__(self) -> None:
        self.values: list[Any] = []

    def add(self, value: Any, cast: str) -> str:
        self.values.append(value)
        return f"${len(self.values)}::{cast}"


@dataclass(frozen=True, slots=True)
class SampleContact:
    msisdn: str
    profile: dict[str, Any]
    zip: str | None
    region: str | None
    country: str | None
    timezones: tuple[str, ...]


def membership(program: str, status: str = SUBSCRIBED) -> str:
    """The jsonb a contact's state contains when its status in `program` is `status`."""
    return json.dumps({"subs": {program: {"status": status}}}, separators=(",", ":"))


def eligible_where(
    params: SqlParams,
    *,
    shortcode: str,
    program: str,
    audience: Audience | None,
    now: datetime,
) -> str:
    """WHERE text over `contacts c`: the program's reachable subscribers, then the audience."""
    base = ELIGIBLE.format(
        shortcode=params.add(shortcode, "text"),
        membership=params.add(membership(program), "jsonb"),
    )
    if audience is None:
        return base
    return f"{base} AND ({compile_audience(audience, params, now=now)})"


def compile_audience(audience: Audience, params: SqlParams, *, now: datetime) -> str:
    match audience:
        case InProgram(programs):
            docs = [membership(p) for p in programs]
            return f"coalesce(c.state @> ANY({params.add(docs, 'jsonb[]')}), false)"
        case ProgramStatus(program, statuses):
            docs = [membership(program, s) for s in statuses]
            return f"coalesce(c.state @> ANY({params.add(docs, 'jsonb[]')}), false)"
        case ZipPrefix(prefixes):
            patterns = [_like_prefix(p) for p in prefixes]
            return f"coalesce(c.zip LIKE ANY({params.add(patterns, 'text[]')}), false)"
        case StateIn(states):
            return f"coalesce(c.region = ANY({params.add(list(states), 'text[]')}), false)"
        case GenderIn(genders):
            values = params.add(list(genders), "text[]")
            return f"coalesce(c.state->'profile'->>'gender' = ANY({values}), false)"
        case ProfileIn(field, values):
            name = params.add(field, "text")
            wanted = params.add(list(values), "text[]")
            return f"coalesce(c.state->'profile'->>{name} = ANY({wanted}), false)"
        case ActiveWithin(days):
            since = params.add(now - timedelta(days=days), "timestamptz")
            return ACTIVE_SINCE.format(since=since)
        case Donated():
            return DONATED
        case TagIn(tags):
            return TAGGED.format(tags=params.add(list(tags), "text[]"))
        case KeywordIn(keywords):
            return JOINED_BY.format(keywords=params.add(list(keywords), "text[]"))
        case TimeZoneIn(zones):
            return f"coalesce(c.timezones && {params.add(list(zones), 'text[]')}, false)"
        case NumberIn(numbers):
            return f"c.msisdn = ANY({params.add(list(numbers), 'text[]')})"
        case Not(item):
            return f"NOT ({compile_audience(item, params, now=now)})"
        case And(items):
            return " AND ".join(f"({compile_audience(i, params, now=now)})" for i in items)
        case Or(items):
            return " OR ".join(f"({compile_audience(i, params, now=now)})" for i in items)
        case _:
            assert_never(audience)


def _like_prefix(prefix: str) -> str:
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


async def count(
    conn: asyncpg.Connection,
    *,
    shortcode: str,
    program: str,
    audience: Audience | None,
    now: datetime,
) -> int:
    params = SqlParams()
    where = eligible_where(params, shortcode=shortcode, program=program, audience=audience, now=now)
    value: int = await conn.fetchval(COUNT.format(where=where), *params.values)
    return value


async def sample(
    conn: asyncpg.Connection,
    *,
    shortcode: str,
    program: str,
    audience: Audience | None,
    now: datetime,
    limit: int,
) -> list[SampleContact]:
    """Up to `limit` eligible contacts picked at random, for previews."""
    params = SqlParams()
    where = eligible_where(params, shortcode=shortcode, program=program, audience=audience, now=now)
    query = SAMPLE.format(where=where, limit=params.add(limit, "int8"))
    return [_sample(row) for row in await conn.fetch(query, *params.values)]


def _sample(row: asyncpg.Record) -> SampleContact:
    profile = json.loads(row["profile"]) if row["profile"] is not None else {}
    return SampleContact(
        msisdn=row["msisdn"],
        profile=profile if isinstance(profile, dict) else {},
        zip=row["zip"],
        region=row["region"],
        country=row["country"],
        timezones=tuple(row["timezones"] or ()),
    )


RECIPIENTS = """
SELECT c.msisdn FROM contacts c
WHERE {where} AND c.msisdn > {after}
ORDER BY c.msisdn
LIMIT {limit}
"""


async def recipients(
    conn: asyncpg.Connection,
    *,
    shortcode: str,
    program: str,
    audience: Audience | None,
    now: datetime,
    after: str = "",
    limit: int = 10_000,
) -> list[str]:
    """The eligible numbers after `after`, in number order: a page of an audience's people."""
    params = SqlParams()
    where = eligible_where(params, shortcode=shortcode, program=program, audience=audience, now=now)
    query = RECIPIENTS.format(where=where, after=params.add(after, "text"),
                              limit=params.add(limit, "int8"))
    return [r["msisdn"] for r in await conn.fetch(query, *params.values)]
