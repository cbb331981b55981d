"""The phone simulator page on a real gateway, without a browser; and its production default.

The page's JSON helpers are called as its script calls them (session cookie
plus X-CSRF-Token); the texts go through the SMSC simulator's phone port
into the gateway and the replies come back the same way. The dashboard then
counts what happened.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import asyncpg

from gateway.app import Gateway
from gateway.config import Settings
from gateway.store import users as user_store
from gateway.web.credentials import hash_password
from tests.support.pages_site import start_site

NUMBER = "+12125550177"
PASSWORD = "a long demo passphrase"



async def replies(http: aiohttp.ClientSession, count: int) -> list[dict[str, Any]]:
    """Poll as the page does until `count` replies have arrived."""
    async with asyncio.timeout(10):
        while True:
            async with http.get("/phone/messages", params={"number": NUMBER}) as response:
                found = (await response.json())["messages"]
            incoming = [m for m in found if m["direction"] == "in"]
            if len(incoming) >= count:
                messages: list[dict[str, Any]] = found
                return messages
            await asyncio.sleep(0.05)


async def test_text_join_from_the_page_and_see_the_replies_and_the_counts(
    pool: asyncpg.Pool, demo_gateway: Gateway,
) -> None:
    async with pool.acquire() as conn:
        await user_store.insert_user(conn, email="admin@example.org", role="admin", themes=(),
                                     password_hash=hash_password(PASSWORD))
    base = f"http://127.0.0.1:{demo_gateway.http_port}"
    jar = aiohttp.CookieJar(unsafe=True)  # cookies for 127.0.0.1
    async with aiohttp.ClientSession(base, cookie_jar=jar) as http:
        async with http.post("/login", json={"email": "admin@example.org",
                                             "password": PASSWORD}) as response:
            csrf = (await response.json())["csrf_token"]
        async with http.get("/phone", params={"number": NUMBER}) as response:
            assert response.status == 200
            assert 'href="/phone"' in await response.text()  # in the navigation: enabled
        headers = {"X-CSRF-Token": csrf}
        async with http.post("/phone/send", json={"number": NUMBER, "text": "JOIN"},
                             headers=headers) as response:
            sent = await response.json()
            assert response.status == 200, sent
        assert sent["message"] == {"id": 1, "direction": "out", "text": "JOIN",
                                   "status": "ESME_ROK", "to": "12345"}
        first = await replies(http, 1)
        assert first[0]["text"] == "JOIN" and first[1]["direction"] == "in"
        assert first[1]["status"] == "12345"  # from the short code
        async with http.post("/phone/send", data={"number": NUMBER, "text": "Y",
                                                  "csrf_token": csrf},
                             allow_redirects=False) as response:  # the form, no script
            assert response.status == 303
            assert response.headers["Location"] == "/phone?number=%2B12125550177&shortcode=12345"
        await replies(http, 2)
        async with http.post("/phone/send", json={"number": NUMBER, "text": "hi"}) as response:
            assert response.status == 403  # the script's call without its CSRF header
        async with http.get("/dashboard") as response:
            html = await response.text()
        assert 'id="opt-ins">1<' in html and 'id="smpp-state">connected<' in html
        async with http.get("/phone/messages", params={"number": "12"}) as response:
            assert response.status == 400
            assert (await response.json())["error"]["field"] == "number"


async def test_the_page_texts_every_short_code_of_the_keywords_file(
    pool: asyncpg.Pool, demo_gateway: Gateway,
) -> None:
    """keywords.yaml runs 12345 (Rise Up Alerts) and 38200 (Ensemble Citoyen): both offered."""
    async with pool.acquire() as conn:
        await user_store.insert_user(conn, email="admin@example.org", role="admin", themes=(),
                                     password_hash=hash_password(PASSWORD))
    base = f"http://127.0.0.1:{demo_gateway.http_port}"
    async with aiohttp.ClientSession(base, cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.post("/login", json={"email": "admin@example.org",
                                             "password": PASSWORD}) as response:
            csrf = (await response.json())["csrf_token"]
        async with http.get("/phone", params={"number": NUMBER, "shortcode": "38200"}) as page:
            html = await page.text()
        assert '<option value="12345">12345 (Rise Up Alerts)</option>' in html
        assert '<option value="38200" selected>38200 (Ensemble Citoyen)</option>' in html
        async with http.post("/phone/send", json={"number": NUMBER, "text": "ADHERER",
                                                  "shortcode": "38200"},
                             headers={"X-CSRF-Token": csrf}) as response:
            assert response.status == 200, await response.text()
        reply = next(m for m in await replies(http, 1) if m["direction"] == "in")
        assert reply["status"] == "38200" and "Ensemble Citoyen" in reply["text"]
        async with http.post("/phone/send", json={"number": NUMBER, "text": "JOIN",
                                                  "shortcode": "99999"},
                             headers={"X-CSRF-Token": csrf}) as response:
            refused = await response.json()
        assert response.status == 400 and refused["error"]["field"] == "shortcode"
        assert "99999" in refused["error"]["message"]


async def test_the_phone_simulator_is_off_unless_configured(
    pool: asyncpg.Pool, settings: Settings,
) -> None:
    site = await start_site(pool, settings)
    try:
        admin = await site.staff("admin")
        page = await site.client.get("/phone", headers=admin.bearer)
        assert page.status == 404 and "GATEWAY_WEB_PHONE_SIMULATOR" in await page.text()
        send = await site.client.post("/phone/send", headers=admin.bearer,
                                      json={"number": NUMBER, "text": "JOIN"})
        assert send.status == 404
        assert 'href="/phone"' not in await (await site.client.get(
            "/dashboard", headers=admin.bearer)).text()
    finally:
        await site.client.close()
