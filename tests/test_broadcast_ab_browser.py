"""The composer's A/B fields and a broadcast's results and variants, in headless Chromium.

An organizer writes a text with a link and a second variant, creates it; the
test's texts go out (materialized with short links, then marked sent and some
clicked); the page shows the results, each variant's numbers and the button
that sends the winner, in English and in French. Screenshots are written under
the test's output directory for people to look at.
"""

from __future__ import annotations

import json
from pathlib import Path

import asyncpg
from playwright.async_api import Page

from gateway.broadcast import clicks
from tests.support.broadcasts import CODE, NOW, materialize
from tests.support.browser import browser_page, needs_chromium
from tests.support.webapi import WebApi

pytestmark = needs_chromium
__all__ = ["browser_page"]

IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) Safari/604.1"


async def seed_people(conn: asyncpg.Connection, count: int = 200) -> None:
    state = json.dumps({"v": 1, "subs": {"rise": {"status": "subscribed"}}, "profile": {}})
    await conn.executemany(
        "INSERT INTO contacts (msisdn, shortcode, opted_out, state, region, country, timezones,"
        " geo_source) VALUES ($1, $2, false, $3::jsonb, 'NY', 'US', '{America/New_York}', 'zip')",
        [(f"+1212555{n:04d}", CODE, state) for n in range(count)])


async def test_an_organizer_composes_an_ab_test_and_reads_its_results(
    site: WebApi, pool: asyncpg.Pool, browser_page: Page, tmp_path: Path,
) -> None:
    async with pool.acquire() as conn:
        await seed_people(conn)
    staff = await site.staff("organizer")
    page = browser_page
    await page.set_extra_http_headers(staff.bearer)
    base = str(site.client.make_url("")).rstrip("/")
    await page.goto(f"{base}/broadcasts/new")
    await page.fill("#text", "Rally Saturday: https://example.org/rally?src=sms Reply STOP to end")
    await page.get_by_text("Test variants (A/B) before sending to everyone").click()
    await page.fill("#variant_2",
                    "Come Saturday! https://example.org/rally?src=b Reply STOP to end")
    await page.fill("#test_percent", "50")
    await page.select_option("#metric", "clicks")
    await page.uncheck("#ab_auto")
    await page.screenshot(path=str(tmp_path / "composer-ab.png"), full_page=True)
    await page.get_by_role("button", name="Create broadcast").click()
    await page.wait_for_url("**/broadcasts/*")
    broadcast_id = int(page.url.rsplit("/", 1)[1])
    assert await page.locator("#variants tbody tr").count() == 2

    async with pool.acquire() as conn:
        await conn.execute("UPDATE broadcasts SET status = 'running' WHERE id = $1",
                           broadcast_id)
        await materialize(conn, broadcast_id, link_base="https://go.example.org/")
        await conn.execute("UPDATE outbound SET status = 'delivered', submitted_at = $2"
                           " WHERE broadcast_id = $1", broadcast_id, NOW)
        tokens = [r["token"] for r in await conn.fetch(
            "SELECT token FROM short_links WHERE broadcast_id = $1 ORDER BY id LIMIT 9",
            broadcast_id)]
        for token in tokens + tokens[:3]:
            await clicks.visit(conn, token, user_agent=IPHONE, method="GET", at=NOW)
        await clicks.visit(conn, tokens[0], user_agent="WhatsApp/2", method="GET", at=NOW)
        sent = await conn.fetchval("SELECT count(*) FROM outbound WHERE broadcast_id = $1",
                                   broadcast_id)
    await page.goto(f"{base}/broadcasts/{broadcast_id}")
    assert await page.locator('[data-result="sent"]').inner_text() == str(sent)
    assert await page.locator('[data-result="unique_clicks"]').inner_text() == "9"
    assert await page.locator('[data-result="total_clicks"]').inner_text() == "12"
    assert await page.get_by_role("button", name="Send the winner").count() == 1
    await page.screenshot(path=str(tmp_path / "broadcast-results-en.png"), full_page=True)
    assert await page.evaluate("document.documentElement.scrollWidth") <= 1280

    async with pool.acquire() as conn:
        await conn.execute("UPDATE users SET language = 'fr' WHERE id = $1", staff.user.id)
    await page.goto(f"{base}/broadcasts/{broadcast_id}")
    assert await page.get_by_role("heading", name="Résultats").count() == 1
    assert await page.get_by_role("button", name="Envoyer la gagnante").count() == 1
    await page.screenshot(path=str(tmp_path / "broadcast-results-fr.png"), full_page=True)

    await page.select_option("#winner", "2")
    await page.get_by_role("button", name="Envoyer la gagnante").click()
    await page.wait_for_url(f"**/broadcasts/{broadcast_id}")
    assert "(gagnante)" in await page.locator("#variants tbody tr").nth(1).inner_text()
