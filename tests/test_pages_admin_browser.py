"""The staff, token and keywords pages in a real browser (Debian's Chromium, Playwright).

What only a browser shows: the themes choice appears only while the role
select says expert (a CSS rule, no script), a destructive button leads to
its confirm step and Cancel goes back, the token secret is on the answer
page and gone on reload, a wrong keywords copy comes back with its line and
column. Screenshots at desktop and phone widths go to the test's tmp_path.
"""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Page, expect

from tests.support.browser import browser_page, needs_chromium
from tests.support.webapi import PASSWORD, WebApi

pytestmark = needs_chromium

__all__ = ["browser_page"]  # the fixture, shared from tests/support/browser.py


async def _log_in(page: Page, base: str, email: str) -> None:
    await page.goto(base + "/login")
    await page.get_by_label("E-mail").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()


async def _shoot(page: Page, tmp_path: Path, name: str) -> None:
    for width, label in ((1280, "desktop"), (375, "phone")):
        await page.set_viewport_size({"width": width, "height": 900})
        await page.screenshot(path=str(tmp_path / f"{name}-{label}.png"), full_page=True)
    await page.set_viewport_size({"width": 1280, "height": 900})


async def test_an_admin_walks_accounts_tokens_and_keywords(
    site: WebApi, browser_page: Page, tmp_path: Path,
) -> None:
    await site.staff("admin", email="admin@example.org")
    await site.staff("organizer", email="org@example.org")
    page = browser_page
    base = str(site.client.make_url("")).rstrip("/")
    await _log_in(page, base, "admin@example.org")

    await page.get_by_role("link", name="Staff accounts").click()
    themes = page.locator("#new-user .expert-themes")
    await expect(themes).to_be_hidden()
    await page.locator("#role-new").select_option("expert")
    await expect(themes).to_be_visible()
    await page.get_by_label("E-mail", exact=True).fill("nurse@example.org")
    await page.get_by_label("Santé (ensemble)").check()
    await _shoot(page, tmp_path, "users")
    await page.get_by_role("button", name="Add the account").click()
    await expect(page.locator("#new-password")).to_be_visible()
    await expect(page.locator("#change-user .expert-themes")).to_be_visible()
    await _shoot(page, tmp_path, "user-created")
    await page.get_by_role("link", name="All staff accounts").click()
    await page.get_by_role("link", name="nurse@example.org").click()
    await expect(page.locator("#new-password")).to_have_count(0)  # shown once only

    await page.get_by_role("button", name="Disable the account…").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Disable this account?")
    await _shoot(page, tmp_path, "confirm")
    await page.get_by_role("link", name="Cancel").click()
    await expect(page.locator("dl.pairs")).to_contain_text("active")

    await page.get_by_role("link", name="My API tokens").click()
    await page.get_by_label("What it is for").fill("nightly export")
    await page.get_by_label("Read contacts, their history and consent").check()
    await page.get_by_role("button", name="Make the token").click()
    await expect(page.locator("#new-token")).to_contain_text("gwt_")
    await _shoot(page, tmp_path, "my-tokens")
    await page.reload()  # the browser's reload: a GET (post/redirect/get), no new token
    await expect(page.locator("#new-token")).to_have_count(0)
    await expect(page.locator("#tokens tr", has_text="nightly export")).to_have_count(1)

    await page.get_by_role("link", name="Keywords file").click()
    await page.locator("#copy").fill("programs: [\n")
    await page.get_by_role("button", name="Check").click()
    await expect(page.locator("#check-result")).to_contain_text("Line ")
    await expect(page.locator("#copy")).to_have_value("programs: [\n")
    await _shoot(page, tmp_path, "keywords")
