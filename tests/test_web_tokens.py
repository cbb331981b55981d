"""API tokens expire, end with a password change, and are minted only from a browser session."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import pytest

from gateway.config import Settings
from tests.support.clock import ManualClock
from tests.support.webapi import WebApi, start_web_api


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def web(pool: asyncpg.Pool, settings: Settings, clock: ManualClock) -> AsyncIterator[WebApi]:
    api = await start_web_api(pool, settings, clock=clock, web_token_days=30)
    try:
        yield api
    finally:
        await api.client.close()


async def mint(web: WebApi, csrf: str, path: str = "/api/v1/me/tokens",
               **body: Any) -> dict[str, Any]:
    response = await web.client.post(path, json={"name": "script", **body},
                                     headers={"X-CSRF-Token": csrf})
    assert response.status == 201, await response.text()
    answer: dict[str, Any] = await response.json()
    return answer


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_token_works_until_it_expires(web: WebApi, clock: ManualClock) -> None:
    await web.staff("finance")
    csrf = await web.login("finance@example.org")
    made = await mint(web, csrf)
    assert datetime.fromisoformat(made["expires_at"]) == clock.now + timedelta(days=30)
    short = await mint(web, csrf, expires_in_days=1)
    assert datetime.fromisoformat(short["expires_at"]) == clock.now + timedelta(days=1)
    web.client.session.cookie_jar.clear()  # from here on only the tokens speak
    assert (await web.client.get("/api/v1/me", headers=bearer(short["token"]))).status == 200
    clock.now += timedelta(days=1)
    expired = await web.client.get("/api/v1/me", headers=bearer(short["token"]))
    assert expired.status == 401
    assert "expired" in (await expired.json())["error"]["message"]
    assert (await web.client.get("/api/v1/me", headers=bearer(made["token"]))).status == 200
    clock.now += timedelta(days=29)
    assert (await web.client.get("/api/v1/me", headers=bearer(made["token"]))).status == 401


async def test_a_token_may_not_live_longer_than_the_configured_most(web: WebApi) -> None:
    await web.staff("finance")
    csrf = await web.login("finance@example.org")
    response = await web.client.post("/api/v1/me/tokens", json={
        "name": "forever", "expires_in_days": 31}, headers={"X-CSRF-Token": csrf})
    assert response.status == 400
    error = (await response.json())["error"]
    assert error["field"] == "expires_in_days" and "30 days" in error["message"]


async def test_a_token_cannot_mint_tokens(web: WebApi) -> None:
    admin = await web.staff("admin")
    finance = await web.staff("finance")
    for path in ("/api/v1/me/tokens", f"/api/v1/users/{finance.user.id}/tokens"):
        response = await web.client.post(path, json={"name": "copy"}, headers=admin.bearer)
        assert response.status == 403
        assert (await response.json())["error"]["code"] == "token_from_token"
    async with web.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM api_tokens") == 2  # the staff ones


async def test_a_new_password_revokes_every_token_and_session_of_the_user(web: WebApi) -> None:
    admin = await web.staff("admin")
    organizer = await web.staff("organizer")
    csrf = await web.login("organizer@example.org")
    second = await mint(web, csrf)
    assert (await web.client.get("/api/v1/me")).status == 200
    changed = await web.client.patch(f"/api/v1/users/{organizer.user.id}", json={
        "password": "a long new password"}, headers=admin.bearer)
    assert changed.status == 200
    assert (await web.client.get("/api/v1/me")).status == 401  # the session ended
    for token in (organizer.token, second["token"]):
        assert (await web.client.get("/api/v1/me", headers=bearer(token))).status == 401
    listed = await (await web.client.get(f"/api/v1/users/{organizer.user.id}/tokens",
                                         headers=admin.bearer)).json()
    assert [t["revoked"] for t in listed["tokens"]] == [True, True]
    assert (await web.client.get("/api/v1/me", headers=admin.bearer)).status == 200  # not theirs
    # A change that is not the password leaves tokens alone.
    await web.login("organizer@example.org", "a long new password")
    third = await mint(web, (await (await web.client.get("/api/v1/me")).json())["csrf_token"])
    await web.client.patch(f"/api/v1/users/{organizer.user.id}", json={"role": "finance"},
                           headers=admin.bearer)
    assert (await web.client.get("/api/v1/me", headers=bearer(third["token"]))).status == 200
