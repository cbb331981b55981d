"""Segments, tags and the export form in a real browser (Debian's Chromium, Playwright).

An organizer tags a contact from its page, saves a Contacts search as a
segment, sees its count, picks it in the broadcast composer, and opens the
export form (no donor columns offered). Screenshots at desktop and phone
widths go to the test's tmp_path.
"""

from __future__ import annotations

from pathlib import Path

import asyncpg
from playwright.async_api import Page, expect

from tests.support.broadcasts import PEOPLE, seed
from tests.support.browser import browser_page, needs_chromium
from tests.support.webapi import PASSWORD, WebApi

pytestmark = needs_chromium

__all__ = ["browser_page"]  # the fixture, shared from tests/support/browser.py


async def _shoot(page: Page, where: Path, name: str) -> None:
    for width, label in ((1280, "desktop"), (375, "phone")):
        await page.set_viewport_size({"width": width, "height": 900})
        await page.screenshot(path=str(where / f"{name}-{label}.png"), full_page=True)
    await page.set_viewport_size({"width": 1280, "height": 900})


async def test_an_organizer_tags_saves_a_segment_and_sends_to_it(
    site: WebApi, pool: asyncpg.Pool, browser_page: Page, tmp_path: Path,
) -> None:
    shots = tmp_path
    async with pool.acquire() as conn:
        await seed(conn)
    await site.staff("organizer", email="org@example.org")
    page = browser_page
    base = str(site.client.make_url("")).rstrip("/")
    await page.goto(base + "/login")
    await page.get_by_label("E-mail").fill("org@example.org")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()

    number = str(PEOPLE["new_york"][0])
    await page.goto(f"{base}/contacts/{number}")
    await page.get_by_label("Add a tag").fill("Volunteer")
    await page.get_by_role("button", name="Tag", exact=True).click()
    await expect(page.locator("#tags")).to_contain_text("volunteer")
    await _shoot(page, shots, "contact-tags")

    await page.goto(f"{base}/contacts?program=rise&tag=volunteer")
    await expect(page.locator("#contacts")).to_contain_text(number)
    await page.get_by_label("Segment name").fill("NY volunteers")
    await _shoot(page, shots, "contacts-save-segment")
    await page.get_by_role("button", name="Save the segment").click()
    await expect(page.locator("#segments")).to_contain_text("NY volunteers")
    await expect(page.locator("#segments td.count")).to_have_text("1")
    await _shoot(page, shots, "segments")

    await page.get_by_role("link", name="NY volunteers").click()
    await expect(page.locator("#segment-count")).to_have_text("1")
    await _shoot(page, shots, "segment")
    await page.get_by_role("link", name="Broadcast to this segment").click()
    await expect(page.locator("#segment option:checked")).to_contain_text("NY volunteers")
    await _shoot(page, shots, "composer-segment")

    await page.goto(base + "/exports")
    await expect(page.locator("#export-fields")).not_to_contain_text("employer")
    await _shoot(page, shots, "export")
