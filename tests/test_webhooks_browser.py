"""The webhooks pages in a real browser (Debian's Chromium, Playwright): an admin finds them
in the navigation, ticks event types, sees the secret once and not on reload, reads the
delivery log (a receiver's HTML answer shown as text), and a delete asks first. Screenshots
at desktop and phone widths go to the test's tmp_path."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from playwright.async_api import Page, expect

from gateway.config import Settings
from gateway.hooks.sender import DeliveryConfig, WebhookSender
from tests.support.browser import browser_page, needs_chromium
from tests.support.clock import ManualClock
from tests.support.pages_site import start_site
from tests.support.questions import Supporter
from tests.support.webapi import PASSWORD, WebApi
from tests.support.webhook_receiver import Receiver

pytestmark = needs_chromium

__all__ = ["browser_page"]  # the fixture, shared from tests/support/browser.py


@pytest.fixture
async def admin_site(pool: asyncpg.Pool, settings: Settings) -> AsyncIterator[WebApi]:
    made = await start_site(pool, settings, webhooks_allow_loopback_http=True)
    await made.staff("admin", email="admin@example.org")
    try:
        yield made
    finally:
        await made.client.close()


async def _shoot(page: Page, tmp_path: Path, name: str) -> None:
    for width, label in ((1280, "desktop"), (375, "phone")):
        await page.set_viewport_size({"width": width, "height": 900})
        await page.screenshot(path=str(tmp_path / f"{name}-{label}.png"), full_page=True)
        if label == "phone":  # nothing wider than the phone's screen
            wide = await page.evaluate("document.documentElement.scrollWidth")
            assert wide <= 375, f"{name}: the page is {wide} px wide on a phone"
    await page.set_viewport_size({"width": 1280, "height": 900})


async def test_an_admin_makes_a_webhook_and_reads_its_log(
        admin_site: WebApi, browser_page: Page, tmp_path: Path) -> None:
    receiver = await Receiver(fail_first=1, failure_text="<h1>Service Unavailable</h1> "
                              "the CRM is being upgraded, try again later").start()
    page = browser_page
    base = str(admin_site.client.make_url("")).rstrip("/")
    try:
        await page.goto(base + "/login")
        await page.get_by_label("E-mail").fill("admin@example.org")
        await page.get_by_label("Password").fill(PASSWORD)
        await page.get_by_role("button", name="Log in").click()
        await page.get_by_role("link", name="Webhooks").click()
        await page.get_by_label("Receiver URL").fill(receiver.url)
        await page.get_by_label("What it is (for you)").fill("CRM (NGP VAN bridge)")
        await page.get_by_label("A number joined a program").check()
        await page.get_by_label("A number opted out").check()
        await _shoot(page, tmp_path, "webhooks")
        await page.get_by_role("button", name="Add the webhook").click()
        secret = page.locator("#webhook-secret")
        await expect(secret).to_have_text(re.compile(r"^whsec_"))
        await _shoot(page, tmp_path, "webhook-created")
        await page.reload()
        await expect(secret).to_have_count(0)
        await expect(page.get_by_text("The secret was shown once")).to_be_visible()

        await Supporter(admin_site.pool, "+33600000801").text("ADHERER")
        work = WebhookSender(admin_site.pool, DeliveryConfig(
            owner="gw-1", allow_private_networks=True), clock=ManualClock())
        try:
            await work.deliver_due()
        finally:
            await work.close()
        await page.goto(page.url.split("?")[0])
        answer = page.locator("#deliveries td.answer pre")
        await expect(answer).to_contain_text("<h1>Service Unavailable</h1>")  # as text
        await expect(page.locator("#deliveries h1")).to_have_count(0)
        await _shoot(page, tmp_path, "webhook-log")

        await page.get_by_role("button", name="Delete…").click()
        await expect(page.get_by_text("cannot be undone")).to_be_visible()
        await _shoot(page, tmp_path, "webhook-delete")
        await page.get_by_role("link", name="Cancel").click()
        await expect(page.get_by_role("heading", name="Delivery log")).to_be_visible()
    finally:
        await receiver.stop()
