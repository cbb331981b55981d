"""Password login, the session cookie, CSRF on unsafe requests, the login rate limit, logout."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from http.cookies import SimpleCookie

import asyncpg
import pytest

from gateway.config import Settings
from gateway.store import web_sessions as session_store
from gateway.web.auth import SESSION_COOKIE
from gateway.web.credentials import digest
from gateway.web.sessions import LOGIN_CSRF_COOKIE
from tests.support.clock import ManualClock
from tests.support.webapi import PASSWORD, WebApi, start_web_api


@pytest.fixture
async def web(pool: asyncpg.Pool, settings: Settings) -> AsyncIterator[WebApi]:
    # The clock stands still: a login right after three failures is inside the wait
    # they earned, however long three password hashes take on a busy machine.
    api = await start_web_api(pool, settings, clock=ManualClock(), web_login_max_failures=3)
    try:
        yield api
    finally:
        await api.client.close()


def session_cookie(headers: object) -> SimpleCookie:
    cookies: SimpleCookie = SimpleCookie()
    for value in headers.getall("Set-Cookie", []):  # type: ignore[attr-defined]
        cookies.load(value)
    return cookies


async def test_login_sets_an_httponly_samesite_cookie_and_the_session_is_stored_hashed(
    web: WebApi,
) -> None:
    organizer = await web.staff("organizer")
    response = await web.client.post("/login", json={"email": "Organizer@Example.org",
                                                      "password": PASSWORD})
    assert response.status == 200
    body = await response.json()
    assert body["user"]["role"] == "organizer" and body["csrf_token"]
    morsel = session_cookie(response.headers)[SESSION_COOKIE]
    assert morsel["httponly"] is True
    assert morsel["samesite"] == "Lax"
    assert not morsel["secure"]  # this test server is http: Secure turned off in settings
    async with web.pool.acquire() as conn:
        stored = await session_store.get_session(conn, digest(morsel.value), datetime.now(UTC))
        raw = await conn.fetchval("SELECT count(*) FROM web_sessions WHERE id_hash = $1",
                                  morsel.value.encode())
    assert stored is not None and stored.user.id == organizer.user.id
    assert raw == 0  # the cookie value itself is nowhere in the table
    me = await web.client.get("/api/v1/me")
    assert (await me.json())["email"] == "organizer@example.org"


async def test_cookies_are_secure_and_strict_when_configured(
    pool: asyncpg.Pool, settings: Settings,
) -> None:
    api = await start_web_api(pool, settings, web_cookie_secure=True,
                              web_cookie_samesite="Strict")
    try:
        await api.staff("finance")
        response = await api.client.post("/login", json={"email": "finance@example.org",
                                                          "password": PASSWORD})
        morsel = session_cookie(response.headers)[SESSION_COOKIE]
        assert morsel["secure"] is True
        assert morsel["samesite"] == "Strict"
        assert morsel["httponly"] is True
    finally:
        await api.client.close()


async def test_unsafe_requests_with_the_cookie_need_the_csrf_token(web: WebApi) -> None:
    await web.staff("admin")
    csrf = await web.login("admin@example.org")
    new_token = {"name": "script"}
    refused = await web.client.post("/api/v1/me/tokens", json=new_token)
    assert refused.status == 403
    assert (await refused.json())["error"]["code"] == "csrf"
    wrong = await web.client.post("/api/v1/me/tokens", json=new_token,
                                  headers={"X-CSRF-Token": "guess"})
    assert wrong.status == 403
    by_header = await web.client.post("/api/v1/me/tokens", json=new_token,
                                      headers={"X-CSRF-Token": csrf})
    assert by_header.status == 201
    form_without = await web.client.post("/api/v1/me/tokens", data={"name": "form"})
    assert form_without.status == 403
    form_with = await web.client.post("/api/v1/me/tokens",
                                      data={"name": "form", "csrf_token": csrf})
    assert form_with.status == 201
    safe = await web.client.get("/api/v1/me/tokens")  # reading needs no token
    names = [token["name"] for token in (await safe.json())["tokens"]]
    assert names == ["test", "script", "form"]


async def test_form_login_needs_the_login_pages_token_and_redirects(web: WebApi) -> None:
    await web.staff("organizer")
    form = {"email": "organizer@example.org", "password": PASSWORD, "next": "/broadcasts"}
    refused = await web.client.post("/login", data=form, allow_redirects=False)
    assert refused.status == 403
    web.client.session.cookie_jar.update_cookies({LOGIN_CSRF_COOKIE: "page-token"})
    ok = await web.client.post("/login", data={**form, "csrf_token": "page-token"},
                               allow_redirects=False)
    assert ok.status == 303 and ok.headers["Location"] == "/broadcasts"
    assert SESSION_COOKIE in session_cookie(ok.headers)
    web.client.session.cookie_jar.update_cookies({LOGIN_CSRF_COOKIE: "page-token"})
    away = await web.client.post("/login", data={**form, "next": "//evil.example/",
                                                 "csrf_token": "page-token"},
                                 allow_redirects=False)
    assert away.headers["Location"] == "/"
    web.client.session.cookie_jar.update_cookies({LOGIN_CSRF_COOKIE: "page-token"})
    failed = await web.client.post("/login", data={**form, "password": "wrong password!",
                                                   "csrf_token": "page-token"},
                                   allow_redirects=False)
    assert failed.status == 303 and failed.headers["Location"] == "/login?error=failed"


async def test_failed_logins_are_rate_limited_even_with_the_right_password(web: WebApi) -> None:
    await web.staff("finance")
    for _ in range(3):
        response = await web.client.post("/login", json={"email": "finance@example.org",
                                                          "password": "not the password"})
        assert response.status == 401
        assert (await response.json())["error"] == {
            "code": "login_failed", "message": "wrong e-mail or password", "field": "password"}
    limited = await web.client.post("/login", json={"email": "finance@example.org",
                                                     "password": PASSWORD})
    assert limited.status == 429
    assert int(limited.headers["Retry-After"]) > 0
    assert (await limited.json())["error"]["code"] == "too_many_attempts"


async def test_a_good_login_clears_the_count_for_that_email(web: WebApi) -> None:
    await web.staff("finance")
    for _ in range(2):
        await web.client.post("/login", json={"email": "finance@example.org", "password": "x"})
    await web.login("finance@example.org")
    for _ in range(2):
        await web.client.post("/login", json={"email": "finance@example.org", "password": "x"})
    await web.login("finance@example.org")


async def test_unknown_email_and_disabled_user_get_the_same_answer(web: WebApi) -> None:
    admin = await web.staff("admin")
    expert = await web.staff("expert", themes=("health",))
    await web.client.patch(f"/api/v1/users/{expert.user.id}", json={"disabled": True},
                           headers=admin.bearer)
    answers = []
    for email in ("nobody@example.org", "expert@example.org"):
        response = await web.client.post("/login", json={"email": email, "password": PASSWORD})
        answers.append((response.status, await response.json()))
    assert answers[0] == answers[1]
    assert answers[0][0] == 401


async def test_logout_ends_the_session_in_the_database(web: WebApi) -> None:
    await web.staff("organizer")
    csrf = await web.login("organizer@example.org")
    cookie = web.client.session.cookie_jar.filter_cookies(web.client.make_url("/"))
    session_id = cookie[SESSION_COOKIE].value
    response = await web.client.post("/logout", headers={"X-CSRF-Token": csrf})
    assert response.status == 200
    async with web.pool.acquire() as conn:
        left = await conn.fetchval("SELECT count(*) FROM web_sessions WHERE id_hash = $1",
                                   digest(session_id))
    assert left == 0
    web.client.session.cookie_jar.update_cookies({SESSION_COOKIE: session_id})  # replayed
    me = await web.client.get("/api/v1/me")
    assert me.status == 401


async def test_disabling_a_user_ends_their_sessions(web: WebApi) -> None:
    admin = await web.staff("admin")
    organizer = await web.staff("organizer")
    await web.login("organizer@example.org")
    assert (await web.client.get("/api/v1/me")).status == 200
    await web.client.patch(f"/api/v1/users/{organizer.user.id}", json={"disabled": True},
                           headers=admin.bearer)
    assert (await web.client.get("/api/v1/me")).status == 401
