"""What the composer refuses, and the same refusals from the CLI, the API and the page.

A send time already past, a placeholder that names no field (it would go
out blank), a French program's text without "STOP au <code>", and a time
without a zone: each is refused with the field named, and nothing is
stored. A time given in a zone is shown back in the organizer's zone
(GATEWAY_ORGANIZATION_TIMEZONE, here America/New_York).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from gateway.broadcast import compose_checks, service
from gateway.broadcast.compose_checks import ComposeError
from gateway.config import Settings
from gateway.engine import load_rules
from gateway.engine.templates import parse_template
from tests.support.cli import CLEAN_ENV, PYTHONPATH, ROOT
from tests.support.pages_site import form_token, start_site
from tests.support.webapi import WebApi, assert_error_shape

RULES = load_rules(ROOT / "keywords.yaml")
ORGANIZER_ZONE = "America/New_York"
FRENCH_OK = "Réunion publique samedi 10h. STOP au {shortcode}"
FRENCH_BARE = "Réunion publique samedi 10h."


def rise(text: str) -> None:
    program = RULES.programs["rise"]
    compose_checks.check_text(parse_template(text), program, rules=RULES, shortcode="12345",
                              variables=service.variables_of("rise", "12345"))


def test_every_placeholder_must_name_a_field_or_a_program_value() -> None:
    rise("Hi {first_name|friend}, {program} on {shortcode}; zip {zip|}")
    with pytest.raises(ComposeError) as refused:
        rise("Hi {firstname}, vote Tuesday")
    assert refused.value.field == "text"
    assert "{firstname} (did you mean {first_name}?)" in refused.value.message
    assert "sent empty" in refused.value.message


def test_a_french_broadcast_must_say_stop_au_its_code_and_a_us_one_need_not() -> None:
    ensemble = RULES.programs["ensemble"]
    variables = service.variables_of("ensemble", "38200")
    compose_checks.check_text(parse_template(FRENCH_OK), ensemble, rules=RULES,
                              shortcode="38200", variables=variables)
    for text in (FRENCH_BARE, "Réunion samedi. STOP au 12345", "Réunion. stop"):
        with pytest.raises(ComposeError, match='must say "STOP au 38200"') as refused:
            compose_checks.check_text(parse_template(text), ensemble, rules=RULES,
                                      shortcode="38200", variables=variables)
        assert refused.value.field == "text"
    rise("Rally Saturday at 10.")


def test_the_short_code_is_the_programs_own() -> None:
    ensemble = RULES.programs["ensemble"]
    assert compose_checks.shortcode_for(ensemble, None, "12345") == "38200"
    assert compose_checks.shortcode_for(RULES.programs["rise"], None, "12345") == "12345"
    with pytest.raises(ComposeError, match="is on 38200, not 12345") as refused:
        compose_checks.shortcode_for(ensemble, "12345", "12345")
    assert refused.value.field == "shortcode"
    with pytest.raises(ComposeError, match="known: ensemble, rise"):
        compose_checks.program_of(RULES, "rize")


# -- the CLI ------------------------------------------------------------------------------------


async def cli(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**CLEAN_ENV, "PYTHONPATH": PYTHONPATH, "DATABASE_URL": db_url,
           "GATEWAY_KEYWORDS": str(ROOT / "keywords.yaml"), "GATEWAY_LOG_LEVEL": "warning",
           "GATEWAY_ORGANIZATION_TIMEZONE": ORGANIZER_ZONE}
    return await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "gateway.cli", "broadcast", "create", *args],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=60, check=False,
    )


async def count(pool: asyncpg.Pool) -> int:
    async with pool.acquire() as conn:
        return int(await conn.fetchval("SELECT count(*) FROM broadcasts"))


async def test_the_cli_refuses_naming_the_option_and_stores_nothing(
    db_url: str, pool: asyncpg.Pool,
) -> None:
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    refusals = [
        (("--program", "rise", "--text", "Polls close at 8", "--at", past), "--at: ",
         "is already past"),
        (("--program", "rise", "--text", "Hi {firstname}, vote"), "--text: ",
         "did you mean {first_name}?"),
        (("--program", "ensemble", "--text", FRENCH_BARE), "--text: ",
         'must say "STOP au 38200"'),
        (("--program", "rise", "--text", "x", "--at", "2030-01-01T10:00"), "--at: ",
         "has no time zone"),
        (("--program", "rise", "--text", "x", "--at", "2030-01-01T10:00", "--zone", "Nowhere"),
         "--zone: ", "is not a time zone"),
        (("--program", "rize", "--text", "x"), "--program: ", "known: ensemble, rise"),
    ]
    for args, option, says in refusals:
        done = await cli(db_url, *args)
        assert done.returncode == 2, (args, done.stdout)  # a bad argument (cli_errors)
        assert done.stderr.startswith(f"gateway broadcast: argument {option}"), done.stderr
        assert says in done.stderr
    assert await count(pool) == 0


async def test_the_cli_reads_a_local_time_in_its_zone_and_shows_the_organizers(
    db_url: str, pool: asyncpg.Pool,
) -> None:
    made = await cli(db_url, "--program", "rise", "--text", "Doors open at 5",
                     "--at", "2030-07-01T17:00", "--zone", "America/Chicago")
    assert made.returncode == 0, made.stderr
    # 17:00 CDT is 22:00 UTC, 18:00 in New York
    assert "scheduled for 2030-07-01 18:00 America/New_York (UTC-04:00)" in made.stdout
    french = await cli(db_url, "--program", "ensemble", "--text", FRENCH_OK,
                       "--at", "2030-07-01T10:00[Europe/Paris]")
    assert french.returncode == 0, french.stderr
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT program, shortcode, scheduled_at FROM broadcasts "
                                "ORDER BY id")
    assert [(r["program"], r["shortcode"], r["scheduled_at"].isoformat()) for r in rows] == [
        ("rise", "12345", "2030-07-01T22:00:00+00:00"),
        ("ensemble", "38200", "2030-07-01T08:00:00+00:00"),  # its own code, not the default
    ]


# -- the API and the page (real HTTP) -----------------------------------------------------------


@pytest.fixture
async def organizer_site(pool: asyncpg.Pool, settings: Settings) -> Any:
    site = await start_site(pool, settings, organization_timezone=ORGANIZER_ZONE)
    try:
        yield site
    finally:
        await site.client.close()


async def test_the_api_refuses_naming_the_field_and_shows_the_time_in_the_organizers_zone(
    organizer_site: WebApi, pool: asyncpg.Pool,
) -> None:
    site = organizer_site
    headers = (await site.staff("organizer")).bearer
    past = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    refusals: list[tuple[dict[str, Any], str, str]] = [
        ({"program": "rise", "text": "Polls close at 8", "scheduled_at": past},
         "scheduled_at", "is already past"),
        ({"program": "rise", "text": "Hi {firstname}, vote"}, "text", "{firstname}"),
        ({"program": "ensemble", "text": FRENCH_BARE}, "text", "STOP au 38200"),
        ({"program": "rise", "text": "x", "scheduled_at": "2030-01-01T10:00"}, "scheduled_at",
         "has no time zone"),
        ({"program": "rise", "text": "x", "scheduled_at": "2030-01-01T10:00",
          "time_zone": "Nowhere"}, "time_zone", "is not a time zone"),
        ({"program": "ensemble", "text": FRENCH_OK, "shortcode": "12345"}, "shortcode",
         "is on 38200"),
    ]
    for body, field, says in refusals:
        for path in ("/api/v1/broadcasts", "/api/v1/broadcasts/preview"):
            if path.endswith("preview"):
                body = {k: v for k, v in body.items() if k not in ("scheduled_at", "time_zone")}
                if "scheduled_at" in field or field == "time_zone":
                    continue
            response = await site.client.post(path, json=body, headers=headers)
            assert response.status == 400, (path, body)
            error = assert_error_shape(await response.json())
            assert error["field"] == field and says in error["message"], (path, error)
    assert await count(pool) == 0

    made = await site.client.post("/api/v1/broadcasts", headers=headers, json={
        "program": "rise", "text": "Doors open at 5", "scheduled_at": "2030-01-15T17:00",
        "time_zone": "America/Los_Angeles"})
    assert made.status == 201, await made.text()
    broadcast = (await made.json())["broadcast"]
    assert broadcast["scheduled_at"] == "2030-01-16T01:00:00+00:00"
    assert broadcast["time_zone"] == ORGANIZER_ZONE
    assert broadcast["scheduled_at_local"] == "2030-01-15T20:00:00-05:00"
    moved = await site.client.post(f"/api/v1/broadcasts/{broadcast['id']}/schedule",
                                   headers=headers, json={"at": past})
    assert moved.status == 400
    assert assert_error_shape(await moved.json())["field"] == "scheduled_at"


async def test_the_page_refuses_beside_the_field_and_keeps_what_was_typed(
    organizer_site: WebApi, pool: asyncpg.Pool,
) -> None:
    site = organizer_site
    await site.staff("organizer")
    await site.login("organizer@example.org")
    compose = await (await site.client.get("/broadcasts/new")).text()
    # the zone is chosen from a list, the organizer's own first selected
    assert f'<option value="{ORGANIZER_ZONE}" selected>Eastern Time — New York</option>' \
        in compose
    token = form_token(compose)
    yesterday = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    refusals = [
        ({"program": "rise", "text": "Polls close at 8", "scheduled_at": yesterday,
          "time_zone": "UTC"}, "scheduled_at", "is already past"),
        ({"program": "rise", "text": "Hi {firstname}, vote", "scheduled_at": "",
          "time_zone": ORGANIZER_ZONE}, "text", "did you mean {first_name}?"),
        ({"program": "ensemble", "text": FRENCH_BARE, "scheduled_at": "",
          "time_zone": ORGANIZER_ZONE}, "text", "STOP au 38200"),
        ({"program": "rise", "text": "Polls close at 8", "scheduled_at": "2030-01-01T10:00",
          "time_zone": "Nowhere"}, "time_zone", "is not a time zone"),
    ]
    for form, field, says in refusals:
        for action in ("preview", "create"):
            if action == "preview" and field in ("scheduled_at", "time_zone"):
                continue  # a preview sends nothing, so it reads no send time
            response = await site.client.post("/broadcasts/new", data={
                **form, "where": "state = NY", "csrf_token": token, "action": action})
            html = await response.text()
            assert response.status == 400, (form, action)
            assert f'<p class="error" id="{field}-error">' in html, (form, action)
            assert f'aria-describedby="{field}-error"' in html
            assert says.replace('"', "&#34;") in html or says in html, html[-2000:]
            # what was typed is all still there
            assert f">{form['text']}</textarea>" in html.replace("&#39;", "'")
            assert "state = NY</textarea>" in html
            assert f'value="{form["scheduled_at"]}"' in html
            assert f'value="{form["time_zone"]}" selected' in html
    assert await count(pool) == 0

    made = await site.client.post("/broadcasts/new", allow_redirects=False, data={
        "program": "ensemble", "text": FRENCH_OK, "scheduled_at": "2030-07-01T10:00",
        "time_zone": "Europe/Paris", "csrf_token": token, "action": "create"})
    assert made.status == 303, await made.text()
    page = await (await site.client.get(made.headers["Location"])).text()
    # 10:00 in Paris is 04:00 in New York
    assert 'id="broadcast-scheduled">Jul 1, 2030, 4:00\u202fAM EDT<' in page
    assert "ensemble on 38200" in page
    listing = await (await site.client.get("/broadcasts")).text()
    assert f"times in {ORGANIZER_ZONE}" in listing
    assert "<td>Jul 1, 2030, 4:00\u202fAM EDT</td>" in listing
