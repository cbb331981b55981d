"""Audiences compiled to SQL, run against seeded contacts: each kind of filter, and safety."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from gateway.audience import parse_audience
from gateway.store import audience as audience_store
from gateway.store.audience import SqlParams, eligible_where

NOW = datetime(2024, 7, 1, 15, 0, tzinfo=UTC)
CODE = "12345"


def subs(**programs: str) -> dict[str, Any]:
    return {p: {"status": s, "since": "2024-05-01T00:00:00+00:00"} for p, s in programs.items()}


# name: (msisdn, shortcode, opted_out, subs, profile, zip, region, country, zones)
CONTACTS: dict[str, tuple[Any, ...]] = {
    "ana": ("+13055550001", CODE, False, subs(rise="subscribed", news="subscribed"),
            {"first_name": "Ana", "gender": "F", "team": "blue", "zip": "33101"},
            "33101", "FL", "US", ["America/New_York"]),
    "bob": ("+12125550002", CODE, False, subs(rise="subscribed", news="pending"),
            {"gender": "M", "team": "red", "zip": "10001"},
            "10001", "NY", "US", ["America/New_York"]),
    "cat": ("+14055550003", CODE, False, subs(rise="subscribed"), {},
            None, "OK", "US", ["America/Chicago"]),
    "dan": ("+13125550004", CODE, True, subs(rise="opted_out"),
            {"gender": "other", "team": "blue", "zip": "60601"},
            "60601", "IL", "US", ["America/Chicago"]),
    "eve": ("+16175550005", CODE, False, subs(rise="pending"), {"gender": "F"},
            "02108", "MA", "US", ["America/New_York"]),
    "fay": ("+13055550006", "99999", False, subs(rise="subscribed"), {"gender": "F"},
            "33101", "FL", "US", ["America/New_York"]),
    "gil": ("+33612345678", CODE, False, subs(rise="subscribed"),
            {"gender": "F", "cp": "75011"}, "75011", "75", "FR", ["Europe/Paris"]),
    "hal": ("+15555550008", CODE, False, subs(rise="subscribed"), {}, None, None, None, None),
}
ELIGIBLE = {"ana", "bob", "cat", "gil", "hal"}


async def seed(conn: asyncpg.Connection) -> None:
    await conn.executemany(
        """INSERT INTO contacts (msisdn, shortcode, opted_out, state, zip, region, country,
                                 timezones, geo_source)
           VALUES ($1, $2, $3, $4::jsonb, $5::text, $6, $7, $8, CASE WHEN $5 IS NULL THEN NULL
                   ELSE 'zip' END)""",
        [(m, sc, out, json.dumps({"v": 1, "subs": s, "profile": p}), z, r, co, tz)
         for m, sc, out, s, p, z, r, co, tz in CONTACTS.values()],
    )
    # Activity: Ana texted yesterday, Bob a month ago.
    for name, days in (("ana", 1), ("bob", 30)):
        await conn.execute(
            "INSERT INTO inbound (msisdn, shortcode, body, received_at) VALUES ($1, $2, 'hi', $3)",
            CONTACTS[name][0], CODE, NOW - timedelta(days=days),
        )
    # Donations: Ana's was confirmed; Bob said YES but the charge failed; Cat never said YES.
    for name, kinds in (("ana", ["confirmed"]),
                        ("bob", ["confirmed", "charge_requested", "failed"]), ("cat", [])):
        msisdn = CONTACTS[name][0]
        mo = await conn.fetchval(
            "INSERT INTO inbound (msisdn, shortcode, body, received_at)"
            " VALUES ($1, $2, 'GIVE 10', $3) RETURNING id", msisdn, CODE, NOW - timedelta(days=90),
        )
        await conn.execute(
            """INSERT INTO donations (id, msisdn, shortcode, program, committee, method,
                                      amount_cents, currency, requested_at, expires_at)
               VALUES ($1, $2, $3, 'rise', 'riseup', 'card', 1000, 'USD', $4::timestamptz,
                       $4::timestamptz + interval '1 day')""",
            mo, msisdn, CODE, NOW - timedelta(days=90),
        )
        for kind in kinds:
            await conn.execute(
                "INSERT INTO donation_events (donation_id, kind, occurred_at) VALUES ($1, $2, $3)",
                mo, kind, NOW - timedelta(days=90),
            )


@pytest.fixture
async def conn(pool: asyncpg.Pool) -> Any:
    async with pool.acquire() as connection:
        await seed(connection)
        yield connection


async def who(conn: asyncpg.Connection, where: str, program: str = "rise") -> set[str]:
    params = SqlParams()
    sql = eligible_where(
        params, shortcode=CODE, program=program, audience=parse_audience(where), now=NOW
    )
    rows = await conn.fetch(f"SELECT c.msisdn FROM contacts c WHERE {sql}", *params.values)
    by_number = {c[0]: name for name, c in CONTACTS.items()}
    return {by_number[r["msisdn"]] for r in rows}


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("", ELIGIBLE),
        ("program = news", {"ana"}),
        ("program in (news, other)", {"ana"}),
        ("status(news) = pending", {"bob"}),
        ("status(news) in (pending, subscribed)", {"ana", "bob"}),
        ("zip starts with 33", {"ana"}),
        ('zip starts with ("100", 7501)', {"bob", "gil"}),
        ("state = fl", {"ana"}),
        ("state in (OK, NY)", {"bob", "cat"}),
        ("not state = FL", {"bob", "cat", "gil", "hal"}),  # unknown state is "not FL"
        ("gender = F", {"ana", "gil"}),
        ("gender in (M, other)", {"bob"}),  # Dan opted out
        ("not gender = F", {"bob", "cat", "hal"}),
        ("profile.team = blue", {"ana"}),
        ('profile.team in (red, "blue")', {"ana", "bob"}),
        ("profile.first_name = Ana", {"ana"}),
        ("profile.first_name = ana", set()),  # profile values compare exactly
        ("active within 7 days", {"ana"}),
        ("active within 60 days", {"ana", "bob"}),
        ("not active within 7 days", {"bob", "cat", "gil", "hal"}),
        ("donated", {"ana"}),
        ("not donated", {"bob", "cat", "gil", "hal"}),
        ("(state = FL or gender = M) and not donated", {"bob"}),
        ("state = FL or gender = M and not donated", {"ana", "bob"}),
    ],
)
async def test_each_filter_kind_selects_the_right_contacts(
    conn: asyncpg.Connection, where: str, expected: set[str]
) -> None:
    assert await who(conn, where) == expected


async def test_the_base_set_is_the_programs_reachable_subscribers(
    conn: asyncpg.Connection,
) -> None:
    """Never an opted-out number, another program's people, or another short code's."""
    assert await who(conn, "", program="news") == {"ana"}
    assert await who(conn, "gender in (F, M, other)") == {"ana", "bob", "gil"}


async def test_values_travel_as_parameters_never_as_sql(conn: asyncpg.Connection) -> None:
    hostile = "x' OR '1'='1'; DROP TABLE contacts; --"
    audience = parse_audience(f'profile.team = "{hostile}" or state = "FL"')
    params = SqlParams()
    sql = eligible_where(params, shortcode=CODE, program="rise", audience=audience, now=NOW)
    assert hostile not in sql and "FL" not in sql and "team" not in sql
    assert [hostile] in params.values and ["FL"] in params.values
    assert await who(conn, f'profile.team = "{hostile}"') == set()
    assert await conn.fetchval("SELECT count(*) FROM contacts") == len(CONTACTS)


async def test_count_and_sample(conn: asyncpg.Connection) -> None:
    audience = parse_audience("not donated")
    assert await audience_store.count(
        conn, shortcode=CODE, program="rise", audience=audience, now=NOW
    ) == 4
    picked = await audience_store.sample(
        conn, shortcode=CODE, program="rise", audience=audience, now=NOW, limit=3
    )
    assert len(picked) == 3
    allowed = {CONTACTS[n][0] for n in ("bob", "cat", "gil", "hal")}
    assert {p.msisdn for p in picked} <= allowed
    everyone = await audience_store.sample(
        conn, shortcode=CODE, program="rise", audience=None, now=NOW, limit=50
    )
    gil = next(p for p in everyone if p.msisdn == CONTACTS["gil"][0])
    assert (gil.profile["cp"], gil.region, gil.country, gil.timezones) == (
        "75011", "75", "FR", ("Europe/Paris",)
    )
    hal = next(p for p in everyone if p.msisdn == CONTACTS["hal"][0])
    assert (hal.profile, hal.timezones) == ({}, ())
