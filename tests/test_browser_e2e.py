"""The admin pages in a real browser: headless Chromium from Debian, driven by Playwright.

One organizer's afternoon, end to end, against a real gateway, its SMSC
simulator (with the phone port) and PostgreSQL: log in, text JOIN and Y from
the phone simulator page from two phones, find a new supporter in contacts,
compose a broadcast to both, start it, and watch its progress page (which
refreshes itself) send to one and hold the other for quiet hours. The
browser is the system's /usr/bin/chromium; Playwright only drives it (no
browser download). Without Chromium the test skips, saying so.

Quiet hours are not dodged: nobody's zone is rewritten. Of two real numbers
(tests/support/quiet_numbers.py), one's own local time allows the broadcast now and
the other's holds it, judged by the gateway's own policy from the numbers'
area codes, so the test works at any hour and sees both outcomes.
"""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg
from playwright.async_api import Page, expect

from gateway import geo
from gateway.app import Gateway
from gateway.smpp.simulator import SmscSimulator
from gateway.store import users as user_store
from gateway.web.credentials import hash_password
from tests.support.browser import browser_page, needs_chromium
from tests.support.quiet_numbers import allowed_and_held

EMAIL = "organizer@example.org"
PASSWORD = "a long demo passphrase"
BROADCAST = "Rise Up rallies Saturday at noon. See you there!"

pytestmark = needs_chromium
__all__ = ["browser_page"]  # the fixture, shared from tests/support/browser.py


async def text_from_phone(page: Page, text: str, *, replies_before: int) -> None:
    await page.get_by_label("Text", exact=True).fill(text)
    await page.get_by_role("button", name="Send").click()
    # at least one more reply (Y is answered by the confirmation and the first question)
    await expect(page.locator("#conversation li.in").nth(replies_before)).to_be_visible()


async def test_log_in_join_find_the_contact_broadcast_and_watch_it_finish(
    pool: asyncpg.Pool, demo_gateway: Gateway, phone_smsc: SmscSimulator, browser_page: Page,
) -> None:
    async with pool.acquire() as conn:
        await user_store.insert_user(conn, email=EMAIL, role="organizer", themes=(),
                                     password_hash=hash_password(PASSWORD))
    page = browser_page
    base = f"http://127.0.0.1:{demo_gateway.http_port}"

    # log in: the home page sends us to the login form, then to the dashboard
    await page.goto(base + "/")
    await expect(page).to_have_url(f"{base}/login")
    await page.get_by_label("E-mail").fill(EMAIL)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard")
    await expect(page.locator("#smpp-state")).to_have_text("connected")

    # the phone simulator: two supporters JOIN, then Y to the double opt-in question
    reachable, sleeping = allowed_and_held(datetime.now(UTC))
    for number in (reachable, sleeping):
        await page.get_by_role("link", name="Phone simulator").click()
        await page.get_by_label("Phone number").fill(number)
        await page.get_by_role("button", name="Use this phone").click()
        await text_from_phone(page, "JOIN", replies_before=0)
        await text_from_phone(page, "Y", replies_before=1)
        await expect(page.locator("#conversation li.out")).to_have_count(2)

    # contacts: the new supporter is listed, and subscribed
    await page.get_by_role("link", name="Contacts").click()
    await page.get_by_role("link", name=reachable).click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(f"Contact {reachable}")
    await expect(page.locator(".pairs")).to_contain_text("subscribed")

    # the composer: preview, then create
    await page.get_by_role("link", name="Broadcasts").click()
    await page.get_by_role("link", name="New broadcast").click()
    await page.get_by_label("Program", exact=True).select_option("rise")
    await page.locator("#composer #text").fill(BROADCAST)
    await page.get_by_role("button", name="Preview").click()
    await expect(page.locator("#preview-recipients")).to_have_text("2")
    await expect(page.locator("#preview-encoding")).to_have_text("GSM-7")
    await expect(page.locator("#preview-segments")).to_have_text("1")
    await page.get_by_role("button", name="Create broadcast").click()
    await expect(page.locator("#broadcast-status")).to_have_text("Draft")

    # start it: the self-refreshing progress shows one sent and one waiting for the morning
    await page.get_by_role("button", name="Start").click()
    await expect(page.locator('#progress [data-field="sent"]')).to_have_text("1", timeout=60_000)
    await expect(page.locator('#progress [data-field="deferred"]')).to_have_text("1")
    await expect(page.locator("#broadcast-status")).not_to_have_text("Sent")
    assert phone_smsc.texts_to(reachable)[-1] == BROADCAST
    assert BROADCAST not in phone_smsc.texts_to(sleeping)
    # the page says where the held one is and when it will go
    await page.reload()
    held = page.locator("#held tbody tr")
    await expect(held).to_have_count(1)
    await expect(held).to_contain_text(geo.from_area_code(sleeping).timezones[0])
    await expect(held.locator("td").nth(1)).to_have_text("1")

    # and the reachable supporter's phone shows it
    await page.get_by_role("link", name="Phone simulator").click()
    await page.get_by_label("Phone number").fill(reachable)
    await page.get_by_role("button", name="Use this phone").click()
    await expect(page.locator("#conversation li.in").last).to_contain_text(BROADCAST)
