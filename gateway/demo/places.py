"""The demo's local committees and upcoming events, written as organizers' pages write them.

Committees sit at zips the cast lives in, so `WHERE 10001` or a profile zip
finds one through the knowledge lookup; events start a few days after the
seed, in their own time zone, so EVENTS and AGENDA have something to say.
Every name says "(demo)" so no one mistakes them for a real office.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

import asyncpg

from gateway.geo import postal_position
from gateway.services.audit import record
from gateway.services.campaign_data import COMMITTEE_CREATED, EVENT_CREATED, new_committee
from gateway.store import committees as store
from gateway.store.committees import NewCampaignEvent

ACTOR: Final = "demo seed"

# name, address, postal code, country, city, phone
COMMITTEES: Final = (
    ("Rise Up Manhattan (demo)", "350 W 31st St, Suite 4", "10001", "US", "New York",
     "212-555-0100"),
    ("Rise Up Brooklyn (demo)", "75 Court St", "11201", "US", "Brooklyn", None),
    ("Rise Up Chicago (demo)", "1500 N Milwaukee Ave", "60622", "US", "Chicago", None),
    ("Rise Up Denver (demo)", "1600 Champa St", "80202", "US", "Denver", None),
    ("Rise Up Los Angeles (demo)", "200 N Spring St", "90012", "US", "Los Angeles",
     "213-555-0100"),
    ("Rise Up Atlanta (demo)", "55 Park Pl NE", "30303", "US", "Atlanta", None),
    ("Comité Paris 11e (démo)", "12 rue Oberkampf", "75011", "FR", "Paris", None),
    ("Comité Lyon 3e (démo)", "40 cours Gambetta", "69003", "FR", "Lyon", None),
    ("Comité Marseille (démo)", "8 quai du Port", "13001", "FR", "Marseille", None),
)


@dataclass(frozen=True, slots=True)
class DemoEvent:
    title: str
    program: str | None
    in_days: int
    local_time: time
    zone: str
    location: str
    postal_code: str | None
    country: str | None


EVENTS: Final = (
    DemoEvent("Volunteer training, online (demo)", "rise", 2, time(20), "America/New_York",
              "Video call, link texted the day before", None, "US"),
    DemoEvent("Phone bank for paid family leave (demo)", "rise", 3, time(18),
              "America/New_York", "Rise Up Manhattan, 350 W 31st St", "10001", "US"),
    DemoEvent("Canvass kickoff (demo)", "rise", 5, time(10), "America/Chicago",
              "Rise Up Chicago, 1500 N Milwaukee Ave", "60622", "US"),
    DemoEvent("Town hall with the candidate (demo)", "rise", 9, time(19),
              "America/Los_Angeles", "Rise Up Los Angeles, 200 N Spring St", "90012", "US"),
    DemoEvent("Réunion publique (démo)", "ensemble", 4, time(19), "Europe/Paris",
              "Comité Paris 11e, 12 rue Oberkampf", "75011", "FR"),
    DemoEvent("Porte-à-porte (démo)", "ensemble", 6, time(10), "Europe/Paris",
              "Comité Lyon 3e, 40 cours Gambetta", "69003", "FR"),
)


def starts_at(event: DemoEvent, today: datetime) -> datetime:
    zone = ZoneInfo(event.zone)
    day = today.astimezone(zone).date() + timedelta(days=event.in_days)
    return datetime.combine(day, event.local_time, tzinfo=zone).astimezone(UTC)


async def add_committees(conn: asyncpg.Connection) -> int:
    """The committees not there yet (by name); returns how many were added."""
    have = {row["name"] for row in await store.list_committees(conn, None)}
    added = 0
    for name, address, postal_code, country, city, phone in COMMITTEES:
        if name in have:
            continue
        committee = new_committee(name, address, postal_code, country, city=city, phone=phone)
        committee_id = await store.insert_committee(conn, committee)
        await record(conn, None, COMMITTEE_CREATED, f"committee:{committee_id}", actor=ACTOR,
                     name=name, postal_code=postal_code)
        added += 1
    return added


async def add_events(conn: asyncpg.Connection, now: datetime) -> int:
    """The events not there yet (by title), dated from `now`; returns how many were added."""
    have = {row["title"] for row in await store.list_events(conn, limit=1000)}
    added = 0
    for event in EVENTS:
        if event.title in have:
            continue
        area = None
        if event.postal_code is not None and event.country is not None:
            area, _, _ = postal_position(event.country, event.postal_code)
        event_id = await store.insert_event(conn, NewCampaignEvent(
            title=event.title, starts_at=starts_at(event, now), timezone=event.zone,
            location=event.location, program=event.program, postal_code=event.postal_code,
            country=event.country, area=area))
        await record(conn, None, EVENT_CREATED, f"event:{event_id}", actor=ACTOR,
                     title=event.title)
        added += 1
    return added
