"""My API tokens: post/redirect/get, so reloading the page never makes a second token.

Why: the page that showed a new token was the answer to the form's POST, and a
reload posted the form again. Now the POST redirects; the secret reaches the
GET as a one-time flash of the session (gateway/web/flash.py), never in the
URL, sealed so the database row alone does not reveal it.
"""

from __future__ import annotations

import re

import aiohttp

from gateway.store import users as user_store
from tests.support.pages_site import form_token
from tests.support.webapi import PASSWORD, WebApi

NEW_TOKEN = re.compile(r'<code id="new-token">(gwt_[^<]+)</code>')


async def test_a_reload_after_making_a_token_shows_the_list_and_makes_nothing(
    site: WebApi,
) -> None:
    staff = await site.staff("organizer")
    await site.login("organizer@example.org")
    csrf = form_token(await (await site.client.get("/me/tokens")).text())
    made = await site.client.post("/me/tokens", allow_redirects=False, data={
        "csrf_token": csrf, "name": "nightly export", "days": "7",
        "scopes": "contacts:read"})
    assert made.status == 303 and made.headers["Location"] == "/me/tokens"  # no secret in it
    async with site.pool.acquire() as conn:
        [sealed] = await conn.fetch("SELECT sealed FROM web_flashes")
    shown = await (await site.client.get("/me/tokens")).text()
    [secret] = NEW_TOKEN.findall(shown)
    assert secret.encode() not in bytes(sealed["sealed"])  # the row alone reveals nothing
    me = await site.client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.status == 200

    reloaded = await (await site.client.get("/me/tokens")).text()
    assert NEW_TOKEN.findall(reloaded) == [] and secret not in reloaded
    assert "nightly export" in reloaded
    async with site.pool.acquire() as conn:
        mine = [t.name for t in await user_store.list_tokens(conn, staff.user.id)]
        assert await conn.fetchval("SELECT count(*) FROM web_flashes") == 0
    assert mine.count("nightly export") == 1


async def test_the_flash_is_only_for_the_session_that_made_the_token(site: WebApi) -> None:
    await site.staff("organizer")
    await site.login("organizer@example.org")
    csrf = form_token(await (await site.client.get("/me/tokens")).text())
    await site.client.post("/me/tokens", allow_redirects=False, data={
        "csrf_token": csrf, "name": "nightly export", "days": "7",
        "scopes": "contacts:read"})
    # another browser of the same user: its own session, no secret
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as other:
        logged = await other.post(site.client.make_url("/login"), json={
            "email": "organizer@example.org", "password": PASSWORD})
        assert logged.status == 200
        page = await (await other.get(site.client.make_url("/me/tokens"))).text()
    assert NEW_TOKEN.findall(page) == [] and "nightly export" in page
    assert NEW_TOKEN.findall(await (await site.client.get("/me/tokens")).text())
