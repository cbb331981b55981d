"""A broadcast held by quiet hours says when each recipient group goes: held_groups, the CLI's
progress, the API and the broadcast page, against a real database and real HTTP.

The zones are chosen from the real clock (a fixed-offset zone where it is
now about 02:00, one where it is about 13:00), so the answer is known
whatever hour the test runs: the night group is released at 08:00 local.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from gateway.broadcast import control, held, send_time, service
from gateway.broadcast.policy import DEFAULT_RULES, FRANCE, RESTRICTED_RULES, QuietHoursPolicy
from gateway.broadcast.quiet_hours import QuietRules, next_allowed
from gateway.config import Settings
from gateway.engine import load_rules
from gateway.web.filters import format_when
from gateway.web.locale import Viewer
from tests.support.cli import CLEAN_ENV, PYTHONPATH, ROOT
from tests.support.pages_site import start_site
from tests.support.webapi import WebApi

CODE = "12345"
def when(value: datetime, zone: str) -> str:
    """The pages' own time filter, for an English-speaking viewer, in `zone`."""
    return format_when(value, Viewer(language="en"), zone)
ORGANIZER_ZONE = "America/New_York"


def zone_where_it_is(hour: int, now: datetime) -> tuple[str, int]:
    """A fixed-offset zone where the local hour is `hour` now, and its offset in hours."""
    offset = (hour - now.hour) % 24
    offset = offset - 24 if offset > 11 else offset  # Etc/GMT spans -12 .. +14
    if offset == 0:
        return "Etc/GMT", 0
    return f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}", offset  # POSIX signs inverted


def eight_next_morning(zone: str, now: datetime) -> datetime:
    local = now.astimezone(ZoneInfo(zone))
    day = local.date() if local.time() < time(8) else local.date() + timedelta(days=1)
    return datetime.combine(day, time(8), ZoneInfo(zone)).astimezone(UTC)


async def held_broadcast(pool: asyncpg.Pool, now: datetime) -> tuple[int, str, str]:
    """Two New Yorkers and a Floridian in a zone at night, one New Yorker in the afternoon."""
    night, _ = zone_where_it_is(2, now)
    day, _ = zone_where_it_is(13, now)
    people = [("+12125550001", "NY", night), ("+12125550002", "NY", night),
              ("+13055550003", "FL", night), ("+12125550004", "NY", day)]
    state = json.dumps({"v": 1, "subs": {"rise": {"status": "subscribed"}}, "profile": {}})
    async with pool.acquire() as conn:
        await conn.executemany(
            """INSERT INTO contacts (msisdn, shortcode, state, region, country, timezones,
                                     geo_source)
               VALUES ($1, $2, $3::jsonb, $4, 'US', $5, 'zip')""",
            [(m, CODE, state, region, [zone]) for m, region, zone in people])
        broadcast_id = await service.create(
            conn, rules=load_rules(ROOT / "keywords.yaml"), program="rise", shortcode=CODE,
            where="", text="Rally on Saturday.", created_by="held-test", now=now)
        await control.start(conn, broadcast_id)
        await service.materialize(conn, broadcast_id, policy=QuietHoursPolicy(),
                                  variables=service.variables_of("rise", CODE),
                                  clock=lambda: datetime.now(UTC))
    return broadcast_id, night, day


async def test_held_rows_are_grouped_with_the_time_the_sender_will_release_them(
    pool: asyncpg.Pool,
) -> None:
    now = datetime.now(UTC)
    broadcast_id, night, _ = await held_broadcast(pool, now)
    async with pool.acquire() as conn:
        groups = await held.held_groups(conn, broadcast_id, now=datetime.now(UTC))
        stored = {r["msisdn"]: r["not_before"] for r in await conn.fetch(
            "SELECT msisdn, not_before FROM outbound WHERE broadcast_id = $1", broadcast_id)}
    release = eight_next_morning(night, now)
    assert [(g.zones, g.window, g.waiting, g.release_at) for g in groups] == [
        ((night,), "08:00-20:00, at most 3 per 24 h", 1, release),  # Florida's rules
        ((night,), "08:00-21:00", 2, release),
    ]
    # the same instant the materialization stored for each held row
    assert stored["+12125550001"] == stored["+13055550003"] == release
    assert stored["+12125550004"] <= datetime.now(UTC)  # the afternoon one is not held


async def test_progress_in_the_cli_says_when_each_group_goes(
    db_url: str, pool: asyncpg.Pool,
) -> None:
    now = datetime.now(UTC)
    broadcast_id, night, _ = await held_broadcast(pool, now)
    env = {**CLEAN_ENV, "PYTHONPATH": PYTHONPATH, "DATABASE_URL": db_url,
           "GATEWAY_KEYWORDS": str(ROOT / "keywords.yaml"), "GATEWAY_LOG_LEVEL": "warning",
           "GATEWAY_ORGANIZATION_TIMEZONE": ORGANIZER_ZONE}
    done = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "gateway.cli", "broadcast", "progress",
                         str(broadcast_id)],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    shown = send_time.show(eight_next_morning(night, now), ORGANIZER_ZONE)
    lines = done.stdout.splitlines()
    assert lines[0] == (f"held: 1 in {night} until {shown} "
                        "(allowed there 08:00-20:00, at most 3 per 24 h)")
    assert lines[1] == f"held: 2 in {night} until {shown} (allowed there 08:00-21:00)"
    assert "deferred 3" in lines[2]


@pytest.fixture
async def organizer_site(pool: asyncpg.Pool, settings: Settings) -> Any:
    site = await start_site(pool, settings, organization_timezone=ORGANIZER_ZONE)
    try:
        yield site
    finally:
        await site.client.close()


async def test_the_api_and_the_page_show_the_release_per_group(
    organizer_site: WebApi, pool: asyncpg.Pool,
) -> None:
    site = organizer_site
    now = datetime.now(UTC)
    broadcast_id, night, _ = await held_broadcast(pool, now)
    release = eight_next_morning(night, now)
    staff = await site.staff("organizer")
    answer = await (await site.client.get(f"/api/v1/broadcasts/{broadcast_id}",
                                          headers=staff.bearer)).json()
    assert answer["held"] == [
        {"zones": [night], "window": "08:00-20:00, at most 3 per 24 h", "waiting": 1,
         "release_at": release.isoformat(),
         "release_at_local": send_time.local_iso(release, ORGANIZER_ZONE)},
        {"zones": [night], "window": "08:00-21:00", "waiting": 2,
         "release_at": release.isoformat(),
         "release_at_local": send_time.local_iso(release, ORGANIZER_ZONE)},
    ]
    page = await (await site.client.get(f"/broadcasts/{broadcast_id}",
                                        headers=staff.bearer)).text()
    table = re.search(r'<table id="held">.*?</table>', page, re.S)
    assert table is not None, page
    rows = re.findall(r"<tr><th scope=\"row\">(.*?)</th><td>(.*?)</td><td>(.*?)</td>"
                      r"<td>(.*?)</td></tr>", table[0])
    shown = when(release, ORGANIZER_ZONE)
    local = when(release, night)
    assert rows == [(f"1 held until {local} in {night}", "08:00-20:00, at most 3 per 24 h",
                     "1", shown),
                    (f"2 held until {local} in {night}", "08:00-21:00", "2", shown)]
    assert f"Released at ({ORGANIZER_ZONE})" in table[0]


async def test_the_page_says_when_each_zone_is_released_in_its_own_time(
    organizer_site: WebApi, pool: asyncpg.Pool,
) -> None:
    """Two zones at night, a few hours apart: each goes at its own next allowed minute,
    the quiet-hours module's answer, shown in that zone's local time."""
    site = organizer_site
    now = datetime.now(UTC)
    early, _ = zone_where_it_is(1, now)
    late, _ = zone_where_it_is(5, now)
    state = json.dumps({"v": 1, "subs": {"rise": {"status": "subscribed"}}, "profile": {}})
    people = [("+12125550011", early), ("+12125550012", early), ("+12125550013", late)]
    async with pool.acquire() as conn:
        await conn.executemany(
            """INSERT INTO contacts (msisdn, shortcode, state, region, country, timezones,
                                     geo_source)
               VALUES ($1, $2, $3::jsonb, 'NY', 'US', $4, 'zip')""",
            [(m, CODE, state, [zone]) for m, zone in people])
        broadcast_id = await service.create(
            conn, rules=load_rules(ROOT / "keywords.yaml"), program="rise", shortcode=CODE,
            where="", text="Rally on Saturday.", created_by="held-test", now=now)
        await control.start(conn, broadcast_id)
        await service.materialize(conn, broadcast_id, policy=QuietHoursPolicy(),
                                  variables=service.variables_of("rise", CODE),
                                  clock=lambda: datetime.now(UTC))
    staff = await site.staff("organizer")
    page = await (await site.client.get(f"/broadcasts/{broadcast_id}",
                                        headers=staff.bearer)).text()
    checked = datetime.now(UTC)
    held = page.split('id="held"')[1].split("</table>")[0]  # the results follow it
    heads = re.findall(r'<tr><th scope="row">(.*?)</th>', held)
    expected = []
    for zone, waiting in ((late, 1), (early, 2)):  # soonest release first
        release = next_allowed(checked, (zone,), DEFAULT_RULES)  # the quiet-hours rule
        assert release == eight_next_morning(zone, now)  # 08:00 there
        expected.append(f"{waiting} held until {when(release, zone)} in {zone}")
    assert heads == expected
    denied = await site.client.get(f"/broadcasts/{broadcast_id}",
                                   headers=(await site.staff("finance")).bearer)
    assert denied.status == 403


def test_a_groups_window_reads_as_its_rule_set() -> None:
    assert held.window_text(DEFAULT_RULES) == "08:00-21:00"
    assert held.window_text(RESTRICTED_RULES) == "08:00-20:00, at most 3 per 24 h"
    assert held.window_text(FRANCE) == ("08:00-20:00 Mon-Sat Europe/Paris time, "
                                        "not on FR holidays")
    assert held.window_text(QuietRules(start=time(9), end=time(17), weekdays=frozenset({0, 2}))
                            ) == "09:00-17:00 Mon,Wed"
