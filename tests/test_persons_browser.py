"""The person flow in a real browser (Debian's Chromium, driven by Playwright).

An organizer sends a confirmation link from the contact page; the citizen
opens it and presses the button; the contact page then lists the e-mail as
confirmed by a link, and the organizer merges a second address with a reason.
Skips without Chromium, like the other browser tests.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
from playwright.async_api import Page, expect

from gateway.config import Settings
from tests.support.browser import browser_page, needs_chromium
from tests.support.pages_site import start_site
from tests.support.persons import citizen_mail, sms_at, store_mail, token_in
from tests.support.webapi import PASSWORD, WebApi

pytestmark = needs_chromium

__all__ = ["browser_page"]  # the fixture, shared from tests/support/browser.py

NUMBER = "+12125550101"
EMAIL = "ana@example.org"
WORK = "ana@work.example"


@pytest.fixture
async def mail_site(pool: asyncpg.Pool, settings: Settings) -> AsyncIterator[WebApi]:
    web = await start_site(pool, settings, mail_from_address="contact@campagne.example")
    try:
        yield web
    finally:
        await web.client.close()


async def test_send_a_link_confirm_it_then_merge_another_address(
    pool: asyncpg.Pool, mail_site: WebApi, browser_page: Page, tmp_path: Path,
) -> None:
    async with pool.acquire() as conn:
        await conn.execute("INSERT INTO contacts (msisdn, shortcode) VALUES ($1, '12345')",
                           NUMBER)
        await sms_at(conn, NUMBER, "My e-mail is ana@example.org",
                     datetime.now(UTC) - timedelta(hours=1))
        await store_mail(conn, citizen_mail(EMAIL, "Hello from home", "..."),
                         envelope_from=EMAIL)
        await store_mail(conn, citizen_mail(WORK, "Hello from work", "..."),
                         envelope_from=WORK)
    await mail_site.staff("organizer")
    base = str(mail_site.client.make_url("")).rstrip("/")
    page = browser_page

    await page.goto(base + "/login")
    await page.get_by_label("E-mail").fill("organizer@example.org")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await page.goto(f"{base}/contacts/{NUMBER}")
    await expect(page.locator("#person-none")).to_be_visible()
    await page.get_by_label("Send a confirmation link to").fill(EMAIL)
    await page.get_by_role("button", name="Send the link").click()
    await expect(page.locator("#person-done")).to_contain_text("Nothing is linked until")
    await expect(page.locator("#links-sent")).to_contain_text("waiting until")

    async with pool.acquire() as conn:
        body = await conn.fetchval(
            "SELECT text_body FROM mail_outbox WHERE purpose = 'confirmation'")
    await page.goto(f"{base}/link/{token_in(body)}")
    await expect(page.locator("#link-intro")).to_contain_text("*******0101")
    await page.get_by_role("button", name="Yes, they are both mine").click()
    await expect(page.locator("#link-outcome")).to_contain_text("now recognised as yours")

    await page.goto(f"{base}/contacts/{NUMBER}")
    addresses = page.locator("#person-addresses")
    await expect(addresses).to_contain_text(EMAIL)
    await expect(addresses).to_contain_text("confirmed by a link sent to it")
    await expect(page.locator("#timeline .kind-mail_in")).to_have_count(1)

    await page.get_by_label("Other address").fill(WORK)
    await page.get_by_label("Reason: how you know").fill("she wrote from both and told us")
    await page.get_by_role("button", name="Merge").click()
    await expect(page.locator("#confirm-error")).to_contain_text("tick the box")  # not ticked
    await expect(page.get_by_label("Other address")).to_have_value(WORK)  # typed text kept
    await page.get_by_label("I have checked").check()
    await page.get_by_role("button", name="Merge").click()
    await expect(page.locator("#person-done")).to_contain_text("now one person")
    await expect(page.locator("#person-addresses tbody tr")).to_have_count(3)
    await expect(page.locator("#timeline .kind-mail_in")).to_have_count(2)
    shot = Path(os.environ.get("PERSONS_SCREENSHOT", tmp_path / "contact.png"))
    await page.screenshot(path=str(shot), full_page=True)
    async with pool.acquire() as conn:
        methods = [r["method"] for r in await conn.fetch(
            "SELECT method FROM person_links ORDER BY id")]
    assert methods == ["confirmed_link", "expert_merge"]
