"""The keyboard alone, on a phone-sized screen: log in, open the menu, search, open a contact.

Someone who cannot use a pointer (or a phone with a keyboard) must reach every
control in order and see where the focus is. Here only Tab, typing, Enter and
Escape are used, at 375x812: the skip link comes first and moves to the content,
the login form submits, the folded navigation opens from its Menu button (Escape
folds it again), the contacts search form's button submits, and a table row's
link opens the contact. Each control reached must show a focus outline.
"""

from __future__ import annotations

import re

from playwright.async_api import Page, expect

from tests.support.browser import browser_page, needs_chromium
from tests.support.questions import Supporter
from tests.support.webapi import PASSWORD, WebApi

pytestmark = needs_chromium
__all__ = ["browser_page"]  # the fixture, shared from tests/support/browser.py

PHONE = {"width": 375, "height": 812}
NUMBER = "+12125550101"
MOST_TABS = 40

_FOCUSED = """(selector) => {
  const focused = document.activeElement;
  if (!focused || !focused.matches(selector)) return null;
  return getComputedStyle(focused).outlineStyle;
}"""


async def tab_to(page: Page, selector: str) -> None:
    """Press Tab until the focus is on `selector`; it must show an outline there."""
    for _ in range(MOST_TABS):
        await page.keyboard.press("Tab")
        outline = await page.evaluate(_FOCUSED, selector)
        if outline is not None:
            assert outline != "none", f"{selector} has the focus but no visible outline"
            return
    raise AssertionError(f"{MOST_TABS} Tab presses never reached {selector} on {page.url}")


async def test_log_in_open_the_menu_search_and_open_a_contact_by_keyboard(
    site: WebApi, browser_page: Page,
) -> None:
    await Supporter(site.pool, NUMBER, "12345").text("JOIN")
    await site.staff("organizer")
    base = str(site.client.make_url("")).rstrip("/")
    page = browser_page
    await page.set_viewport_size(PHONE)  # type: ignore[arg-type]

    await page.goto(base + "/login")
    await page.locator("body").focus()
    await tab_to(page, "a.skip")
    await page.keyboard.press("Enter")
    await expect(page.locator("main")).to_be_focused()
    await tab_to(page, "#email")
    await page.keyboard.type("organizer@example.org")
    await tab_to(page, "#password")
    await page.keyboard.type(PASSWORD)
    await tab_to(page, "main button[type=submit]")
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard")

    # on a phone the navigation is folded behind Menu
    contacts_link = page.get_by_role("navigation", name="Main").get_by_role(
        "link", name="Contacts")
    await expect(contacts_link).to_be_hidden()
    await tab_to(page, "button.menu-toggle")
    await page.keyboard.press("Enter")
    await expect(page.locator("button.menu-toggle")).to_have_attribute("aria-expanded", "true")
    await expect(contacts_link).to_be_visible()
    await tab_to(page, 'nav a[href="/contacts"]')
    await page.keyboard.press("Escape")  # folds it again, back on the button
    await expect(contacts_link).to_be_hidden()
    await expect(page.locator("button.menu-toggle")).to_be_focused()
    await page.keyboard.press("Enter")
    await tab_to(page, 'nav a[href="/contacts"]')
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Contacts")

    # the search form, submitted from its button
    await tab_to(page, "#q")
    await page.keyboard.type("0101")
    await tab_to(page, "main form button[type=submit]")
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(re.compile(re.escape(f"{base}/contacts?q=0101&")))

    # a row's link opens the contact
    await tab_to(page, "main table tbody a")
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", level=1)).to_have_text(f"Contact {NUMBER}")
