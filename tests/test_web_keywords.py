"""Keyword files checked through the API: every problem with its file, line and column."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from gateway.config import Settings
from tests.support.webapi import Staff, WebApi, start_web_api

ROOT = Path(__file__).resolve().parents[1]
BROKEN = (ROOT / "keywords.yaml").read_text(encoding="utf-8") + "\ncolour: red\n"


@pytest.fixture
async def web(pool: asyncpg.Pool, settings: Settings, tmp_path: Path) -> AsyncIterator[WebApi]:
    live = tmp_path / "keywords.yaml"
    live.write_text((ROOT / "keywords.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    api = await start_web_api(pool, settings, keywords=live)
    try:
        yield api
    finally:
        await api.client.close()


@pytest.fixture
async def organizer(web: WebApi) -> Staff:
    return await web.staff("organizer")


async def test_a_good_file_is_valid(web: WebApi, organizer: Staff) -> None:
    text = (ROOT / "keywords.yaml").read_text(encoding="utf-8")
    response = await web.client.post("/api/v1/keywords/validate", json={"text": text},
                                     headers=organizer.bearer)
    body = await response.json()
    assert body["valid"] is True and body["problems"] == [] and "rise" in body["programs"]


@pytest.mark.parametrize("how", ["json", "yaml", "upload"])
async def test_a_bad_file_lists_its_problems_with_positions(
    web: WebApi, organizer: Staff, how: str,
) -> None:
    if how == "json":
        kwargs: dict[str, Any] = {"json": {"text": BROKEN, "filename": "mine.yaml"}}
    elif how == "yaml":
        kwargs = {"data": BROKEN.encode(), "headers": {"Content-Type": "text/yaml"}}
    else:
        form = aiohttp.FormData()
        form.add_field("text", BROKEN.encode(), filename="mine.yaml",
                       content_type="text/yaml")
        kwargs = {"data": form}
    headers = {**organizer.bearer, **kwargs.pop("headers", {})}
    response = await web.client.post("/api/v1/keywords/validate", headers=headers, **kwargs)
    assert response.status == 200, await response.text()
    body = await response.json()
    assert body["valid"] is False
    first = body["problems"][0]
    lines = BROKEN.count("\n")
    assert (first["line"], first["column"]) == (lines, 1)
    assert "unknown key" in first["message"]
    assert first["text"] == f"{first['file']}:{first['line']}:{first['column']}: " \
                            f"{first['message']}"


async def test_reload_refuses_a_bad_file_on_disk_and_keeps_the_rules(
    web: WebApi, organizer: Staff,
) -> None:
    web.settings.keywords.write_text(BROKEN, encoding="utf-8")
    response = await web.client.post("/api/v1/keywords/reload", headers=organizer.bearer)
    assert response.status == 422
    body = await response.json()
    assert body["error"]["code"] == "invalid_keywords" and body["problems"]
    assert web.reloads == []
    web.settings.keywords.write_text((ROOT / "keywords.yaml").read_text(encoding="utf-8"),
                                     encoding="utf-8")
    response = await web.client.post("/api/v1/keywords/reload", headers=organizer.bearer)
    assert response.status == 200
    assert len(web.reloads) == 1
