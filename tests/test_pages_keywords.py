"""The keywords page: the file in force by line, a checked copy with line and column,
reload on every instance through the API's path; organizers and admins only."""

from __future__ import annotations

import html
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from gateway.config import Settings
from tests.support.pages_site import form_token, start_site
from tests.support.webapi import WebApi

ROOT = Path(__file__).resolve().parents[1]
GOOD = (ROOT / "keywords.yaml").read_text(encoding="utf-8")


@pytest.fixture
async def reloads() -> list[str]:
    return []


@pytest.fixture
async def keywords_site(pool: asyncpg.Pool, settings: Settings, tmp_path: Path,
                        reloads: list[str]) -> AsyncIterator[WebApi]:
    live = tmp_path / "keywords.yaml"
    live.write_text(GOOD, encoding="utf-8")

    def reload_rules() -> bool:
        reloads.append("swapped")
        return True

    web = await start_site(pool, settings, keywords=live, reload_rules=reload_rules)
    try:
        yield web
    finally:
        await web.client.close()


async def _organizer(site: WebApi) -> str:
    await site.staff("organizer", email="org@example.org")
    await site.login("org@example.org")
    return form_token(await (await site.client.get("/keywords")).text())


async def test_the_file_in_force_is_shown_line_by_line(keywords_site: WebApi) -> None:
    await _organizer(keywords_site)
    page = await (await keywords_site.client.get("/keywords")).text()
    lines = GOOD.splitlines()
    assert f'id="line-{len(lines)}"' in page and f'id="line-{len(lines) + 1}"' not in page
    assert f"<code>{html.escape(lines[0])}</code>" in page
    assert "never from this page" in page  # no write path, and it says so


async def test_a_wrong_copy_shows_line_and_column_and_keeps_the_text(
    keywords_site: WebApi,
) -> None:
    token = await _organizer(keywords_site)
    broken = GOOD + "colour: <red>\n"
    checked = await keywords_site.client.post("/keywords/check",
                                              data={"csrf_token": token, "copy": broken})
    text = await checked.text()
    assert checked.status == 422
    line = broken.count("\n")
    assert f"Line {line}, column 1" in text and "unknown key" in text
    assert "colour: &lt;red&gt;\n^</code>" in text  # the line itself, the column marked
    kept = text.split('class="code"', 1)[1].split(">", 1)[1].split("</textarea>", 1)[0]
    assert html.unescape(kept) == broken  # the copy, kept as typed
    assert 'aria-invalid="true"' in text
    fixed = await keywords_site.client.post("/keywords/check",
                                            data={"csrf_token": token, "copy": GOOD})
    text = await fixed.text()
    assert fixed.status == 200 and "The copy is valid: 2 programs" in text
    assert keywords_site.settings.keywords.read_text(encoding="utf-8") == GOOD  # unwritten


async def test_reload_all_instances_or_say_why_not(keywords_site: WebApi,
                                                   reloads: list[str]) -> None:
    token = await _organizer(keywords_site)
    done = await keywords_site.client.post("/keywords/reload", data={"csrf_token": token})
    assert done.status == 200 and "Reloaded: every running gateway" in await done.text()
    assert reloads == ["swapped"]

    keywords_site.settings.keywords.write_text(GOOD + "colour: red\n", encoding="utf-8")
    refused = await keywords_site.client.post("/keywords/reload", data={"csrf_token": token})
    text = await refused.text()
    line = (GOOD + "colour: red\n").count("\n")
    assert refused.status == 422 and "the rules in force stay" in text
    assert f'<a href="#line-{line}">line {line}, column 1</a>' in text
    assert reloads == ["swapped"]
    async with keywords_site.pool.acquire() as conn:
        actions = [r["action"] for r in await conn.fetch(
            "SELECT action FROM audit_log WHERE action LIKE 'keywords.%' ORDER BY id")]
    assert actions == ["keywords.reloaded", "keywords.reload_refused"]  # as the API's


async def test_without_a_gateway_the_page_says_there_is_nothing_to_reload(
    site: WebApi,
) -> None:
    token = await _organizer(site)
    page = await (await site.client.get("/keywords")).text()
    assert "nothing to reload" in page
    refused = await site.client.post("/keywords/reload", data={"csrf_token": token})
    assert refused.status == 409 and "no running gateway" in await refused.text()


async def test_admins_in_finance_and_experts_out(keywords_site: WebApi,
                                                 reloads: list[str]) -> None:
    admin = await keywords_site.staff("admin")
    for path in ("/keywords", "/keywords/check", "/keywords/reload"):
        method = "GET" if path == "/keywords" else "POST"
        allowed = await keywords_site.client.request(method, path, headers=admin.bearer,
                                                     data={"copy": GOOD})
        assert allowed.status == 200, path
        for role in ("finance", "expert"):
            who = await keywords_site.staff(role, email=f"{role}{len(path)}@example.org")
            refused = await keywords_site.client.request(method, path, headers=who.bearer,
                                                         data={"copy": GOOD})
            assert refused.status == 403, (role, path)
    assert reloads == ["swapped"]
