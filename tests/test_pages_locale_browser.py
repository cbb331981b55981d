"""The dashboard and the broadcast composer in French, in headless Chromium, desktop and phone.

Why: French sentences run about a fifth longer than the English ones the
layout was drawn with, so a label, a tile or a button that fitted in English
can push a 375 px phone sideways. The screenshots are written under the
test's output directory for people to look at.
"""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest
from playwright.async_api import Page

from gateway.store import users as user_store
from tests.support.browser import browser_page, needs_chromium
from tests.support.dashboard_data import seed, site_at_noon
from tests.support.webapi import WebApi

pytestmark = needs_chromium
__all__ = ["browser_page", "site_at_noon"]  # the fixtures, shared from tests/support

# Any element of <main> whose right edge passes the viewport's (the French overflows),
# except inside a box that scrolls on its own (a wide table, the keywords file's lines).
OVERFLOWING = """width => {
  const scrolls = e => { for (let a = e.parentElement; a; a = a.parentElement) {
    if (['auto', 'scroll'].includes(getComputedStyle(a).overflowX)) return true; }
    return false; };
  return [...document.querySelectorAll('main *')]
    .filter(e => !e.closest('details:not([open]), svg') && !scrolls(e))
    .filter(e => e.getBoundingClientRect().right > width + 1)
    .map(e => e.tagName + (e.id ? '#' + e.id : '') + ': ' + e.textContent.trim().slice(0, 40));
}"""


async def french_page(site: WebApi, page: Page, width: int) -> str:
    staff = await site.staff("organizer")
    async with site.pool.acquire() as conn:
        await user_store.set_preferences(conn, staff.user.id, time_zone="Europe/Paris",
                                         language="fr")
    await page.set_extra_http_headers(staff.bearer)
    await page.set_viewport_size({"width": width, "height": 900})
    return str(site.client.make_url("")).rstrip("/")


@pytest.mark.parametrize("width", [1280, 375])
async def test_the_french_dashboard_and_composer_fit_the_screen(
    site_at_noon: WebApi, pool: asyncpg.Pool, browser_page: Page, tmp_path: Path, width: int,
) -> None:
    await seed(pool)
    page = browser_page
    base = await french_page(site_at_noon, page, width)
    await page.goto(f"{base}/dashboard?days=30")
    await page.screenshot(path=str(tmp_path / f"dashboard-fr-{width}.png"), full_page=True)
    sections = page.locator("main section")
    for i in range(await sections.count()):  # one picture per section, for a closer look
        await sections.nth(i).screenshot(path=str(tmp_path / f"dashboard-fr-{width}-{i}.png"))
    assert await page.locator("h1").inner_text() == "Tableau de bord"
    assert await page.evaluate("document.documentElement.scrollWidth") <= width
    assert await page.evaluate(OVERFLOWING, width) == []
    await page.select_option("#days", "7")
    await page.get_by_role("button", name="Afficher").click()
    await page.wait_for_url("**/dashboard?days=7")

    await page.goto(f"{base}/broadcasts/new")
    await page.fill("#text", "Bonjour {first_name|ami}, rassemblement samedi à 10 h.")
    await page.get_by_role("button", name="Aperçu").click()
    await page.wait_for_selector("#preview")
    await page.screenshot(path=str(tmp_path / f"composer-fr-{width}.png"), full_page=True)
    assert await page.locator("#preview-h").inner_text() == "Aperçu"
    assert await page.evaluate("document.documentElement.scrollWidth") <= width
    assert await page.evaluate(OVERFLOWING, width) == []


PAGES = ("/broadcasts", "/broadcasts/1", "/campaign", "/keywords", "/users", "/me/tokens",
         "/subscribers", "/newsletters", "/voice-line", "/voice-line/report")


async def test_the_other_french_admin_pages_fit_a_phone(
    site_at_noon: WebApi, pool: asyncpg.Pool, browser_page: Page, tmp_path: Path,
) -> None:
    await seed(pool)
    page = browser_page
    staff = await site_at_noon.staff("admin")
    async with site_at_noon.pool.acquire() as conn:
        await user_store.set_preferences(conn, staff.user.id, time_zone=None, language="fr")
    await page.set_extra_http_headers(staff.bearer)
    await page.set_viewport_size({"width": 375, "height": 900})
    base = str(site_at_noon.client.make_url("")).rstrip("/")
    for path in (*PAGES, f"/users/{staff.user.id}"):
        answer = await page.goto(f"{base}{path}")
        assert answer is not None and answer.status == 200, path
        name = path.strip("/").replace("/", "-")
        await page.screenshot(path=str(tmp_path / f"{name}-fr-375.png"), full_page=True)
        assert await page.locator("html").get_attribute("lang") == "fr", path
        assert await page.evaluate("document.documentElement.scrollWidth") <= 375, path
        assert await page.evaluate(OVERFLOWING, 375) == [], path
