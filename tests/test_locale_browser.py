"""My settings in a real browser (Debian's Chromium, driven by Playwright).

A finance user logs in, opens My settings from the frame, chooses
America/Los_Angeles and French with the keyboard-usable selects, saves, and
from then on reads the frame in French and the reconciliation's time in
Pacific time with its amounts in the French way. Screenshots of both pages
are written to the test's output directory for people to look at. Skips
without Chromium, like tests/test_browser_e2e.py.
"""

from __future__ import annotations

import re
from pathlib import Path

from playwright.async_api import Page, expect

from tests.support.browser import browser_page, needs_chromium
from tests.support.finance_ledger import gift
from tests.support.webapi import PASSWORD, WebApi

pytestmark = needs_chromium
__all__ = ["browser_page"]  # the fixture, shared from tests/support/browser.py


async def test_a_user_chooses_french_and_pacific_time_and_the_pages_follow(
        site: WebApi, browser_page: Page, tmp_path: Path) -> None:
    staff = await site.staff("finance")
    async with site.pool.acquire() as conn:
        await gift(conn, amount=123_456)
    page = browser_page
    base = str(site.client.make_url("")).rstrip("/")
    await page.goto(base + "/login")
    await page.get_by_label("E-mail").fill(staff.user.email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await page.get_by_role("link", name="My settings").click()
    await page.get_by_label("Time zone").select_option("America/Los_Angeles")
    await page.get_by_label("Language").select_option("fr")
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Mes réglages")
    await expect(page.get_by_role("status")).to_contain_text("Enregistré.")
    await page.screenshot(path=str(tmp_path / "my-settings-fr.png"), full_page=True)
    await page.get_by_role("link", name="Rapprochement").click()
    await expect(page.get_by_role("button", name="Se déconnecter")).to_be_visible()
    as_of = await page.locator("#identity").inner_text()
    assert re.search(r"\d{2}:\d{2} UTC[−-]0[78]:00", as_of), as_of
    main = await page.locator("main").text_content() or ""
    assert "1\u202f234,56\u00a0$US" in main  # fr_FR writes the US dollar "$US"
    await page.screenshot(path=str(tmp_path / "reconciliation-fr.png"), full_page=True)
