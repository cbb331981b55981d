"""The confirmation and unsubscribe pages in a real browser (Debian's Chromium, Playwright):
opening the link changes nothing, the button does. Skips without Chromium."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import asyncpg
from playwright.async_api import Page, expect

from gateway.config import Settings
from gateway.email_consent import may_send_bulk, unsubscribe_url
from tests.support.browser import browser_page, needs_chromium
from tests.support.clock import ManualClock
from tests.support.email_consent import (
    confirmation_path,
    mailing_settings,
    path_of,
    public_pages,
    tick_box,
)

pytestmark = needs_chromium

__all__ = ["browser_page"]  # the fixture, shared from tests/support/browser.py


async def test_the_citizen_confirms_then_unsubscribes_with_the_buttons(
        pool: asyncpg.Pool, settings: Settings, browser_page: Page, tmp_path: Path) -> None:
    settings = mailing_settings(settings)
    clock = ManualClock(datetime.now(UTC))
    async with pool.acquire() as conn:
        asked = await tick_box(conn, settings, "renee@example.fr", clock(), program="ensemble")
        assert asked.mail_id is not None
        link = await confirmation_path(conn, asked.mail_id)
    page = browser_page
    async with public_pages(pool, settings, clock) as client:
        base = str(client.make_url("")).rstrip("/")
        await page.goto(base + link)
        await expect(page.get_by_role("heading")).to_have_text("Confirmez votre inscription")
        await expect(page.get_by_text("r•••@example.fr")).to_be_visible()
        await page.screenshot(path=str(tmp_path / "confirm.png"))
        async with pool.acquire() as conn:
            assert not await may_send_bulk(conn, "renee@example.fr", "ensemble")
        await page.get_by_role("button", name="Oui, je m'inscris").click()
        await expect(page.get_by_role("heading")).to_have_text("Inscription confirmée")
        async with pool.acquire() as conn:
            assert await may_send_bulk(conn, "renee@example.fr", "ensemble")

        await page.goto(base + path_of(unsubscribe_url(settings, "renee@example.fr",
                                                       "ensemble")))
        await page.get_by_role("button", name="Me désinscrire").click()
        await expect(page.get_by_role("heading")).to_have_text("Vous êtes désinscrit")
        await page.screenshot(path=str(tmp_path / "unsubscribed.png"))
    async with pool.acquire() as conn:
        assert not await may_send_bulk(conn, "renee@example.fr", "ensemble")
