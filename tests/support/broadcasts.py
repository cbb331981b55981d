"""A seeded audience and broadcasts made and materialized on a fixed clock.

Shared by the broadcast tests that drive the service and the store directly
(no SMPP): each person lives in a hand-picked place, so a test can name the
local hour of every recipient at `NOW`. `afternoon_zone` is for the tests
that run on the real clock instead.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from gateway.broadcast import service
from gateway.broadcast.policy import QuietHoursPolicy
from gateway.engine import load_rules

CODE = "12345"
RULES = load_rules(Path(__file__).resolve().parents[2] / "keywords.yaml")
# Monday 2024-07-01 00:30 UTC: 20:30 in New York and Miami, 19:30 in Chicago,
# 17:30 in Los Angeles, 02:30 in Paris, 14:30 in Honolulu.
NOW = datetime(2024, 7, 1, 0, 30, tzinfo=UTC)
POLICY = QuietHoursPolicy()
VARIABLES = {"program": "Rise Up", "shortcode": CODE}


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


# name: (msisdn, profile, zip, region, country, zones, geo_source)
PEOPLE: dict[str, tuple[Any, ...]] = {
    "new_york": ("+12125550001", {"first_name": "Ana"}, "10001", "NY", "US",
                 ["America/New_York"], "zip"),
    "miami": ("+13055550002", {"first_name": ""}, "33101", "FL", "US",
              ["America/New_York"], "zip"),
    "moved_from_miami": ("+13055550003", {"first_name": None}, "10001", "NY", "US",
                         ["America/New_York"], "zip"),
    "tulsa_area_code": ("+19185550004", {}, None, "OK", "US", ["America/Chicago"],
                        "area_code"),
    "chicago": ("+13125550005", {"first_name": 42}, "60601", "IL", "US",
                ["America/Chicago"], "zip"),
    "los_angeles": ("+12135550006", {"first_name": "Zoë 🙂"}, "90012", "CA", "US",
                    ["America/Los_Angeles"], "zip"),
    "idaho_area_code": ("+12085550007", {"first_name": "O'Brien"}, None, "ID", "US",
                        ["America/Boise", "America/Los_Angeles"], "area_code"),
    "paris": ("+33612345678", {"first_name": "Gil"}, "75011", "75", "FR", ["Europe/Paris"],
              "zip"),
    "nowhere": ("+15555550009", {}, None, None, None, None, None),
    "underived_miami": ("+13055550010", {}, None, None, None, None, None),
}


OPTED_OUT = "+14155550099"
PENDING = "+14155550098"


async def seed(conn: asyncpg.Connection) -> None:
    rows = [
        (m, False, {"rise": "subscribed"}, p, z, r, co, tz, src)
        for m, p, z, r, co, tz, src in PEOPLE.values()
    ]
    rows.append((OPTED_OUT, True, {"rise": "opted_out"}, {}, None, "CA", "US",
                 ["America/Los_Angeles"], "area_code"))
    rows.append((PENDING, False, {"rise": "pending"}, {}, None, "CA", "US",
                 ["America/Los_Angeles"], "area_code"))
    await conn.executemany(
        """INSERT INTO contacts (msisdn, shortcode, opted_out, state, zip, region, country,
                                 timezones, geo_source)
           VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7, $8, $9)""",
        [(m, CODE, out, json.dumps({"v": 1, "subs": {k: {"status": v} for k, v in s.items()},
                                    "profile": p}), z, r, co, tz, src)
         for m, out, s, p, z, r, co, tz, src in rows],
    )


async def create(conn: asyncpg.Connection, *, where: str = "", text: str = "",
                 at: datetime | None = None) -> int:
    return await service.create(
        conn, rules=RULES, now=NOW, program="rise", shortcode=CODE, where=where,
        text=text or "Hi {first_name|friend}, {program} news. Reply STOP to opt out.",
        created_by="organizer@example.org", scheduled_at=at,
    )


async def materialize(conn: asyncpg.Connection, broadcast_id: int, **kwargs: Any) -> Any:
    return await service.materialize(
        conn, broadcast_id, policy=POLICY, variables=VARIABLES, clock=lambda: NOW, **kwargs
    )


# $3 contacts subscribed to "rise" on $1, all in zone $2 (`afternoon_zone`, so quiet
# hours defer nobody): an audience for the tests that materialize on the real clock.
SUBSCRIBED_SEED = """
INSERT INTO contacts (msisdn, shortcode, state, zip, region, country, timezones, geo_source)
SELECT '+1555' || lpad(n::text, 7, '0'), $1,
       '{"v": 1, "subs": {"rise": {"status": "subscribed"}}, "profile": {}}'::jsonb,
       '10001', 'NY', 'US', ARRAY[$2], 'zip'
FROM generate_series(1, $3::int) AS n
"""


def afternoon_zone(now: datetime) -> str:
    """A fixed-offset zone where it is about 13:00 now (any UTC hour has one)."""
    offset = 13 - now.hour  # -10 .. +13, inside Etc/GMT's -12 .. +14
    if offset == 0:
        return "Etc/GMT"
    return f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"  # POSIX signs are inverted
