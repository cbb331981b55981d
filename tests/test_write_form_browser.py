"""The public form /write in a real browser (Debian's Chromium, driven by Playwright), served
by a whole running gateway: fill, send, thanks; a missing theme said next to it; a robot's
honeypot post thanked and dropped. Skips without Chromium, like the other browser tests.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from playwright.async_api import Page, expect

from gateway.app import Gateway
from gateway.config import Settings
from gateway.smpp.simulator import SmscSimulator
from tests.support.browser import browser_page, needs_chromium
from tests.support.e2e import gateway_settings, running_gateway, stop_gateway
from tests.support.write_site import form_settings

pytestmark = needs_chromium

__all__ = ["browser_page"]  # the fixture, shared from tests/support/browser.py

# where the screenshots go: the test's temporary directory, unless a person wants to look
SCREENSHOTS = "WRITE_FORM_SCREENSHOTS"


@pytest.fixture
async def form_gateway(settings: Settings, smsc: SmscSimulator) -> AsyncIterator[Gateway]:
    """A gateway serving /write; no minimum fill time (a browser fills in milliseconds)."""
    gw = await running_gateway(gateway_settings(
        form_settings(settings, write_form_min_seconds=0.0), smsc), smsc)
    try:
        yield gw
    finally:
        await stop_gateway(gw)


async def count(pool: asyncpg.Pool, table: str) -> int:
    async with pool.acquire() as conn:
        return int(await conn.fetchval(f"SELECT count(*) FROM {table}"))


async def test_fill_send_and_see_the_thanks(form_gateway: Gateway, browser_page: Page,
                                            tmp_path: Path) -> None:
    page = browser_page
    shots = Path(os.environ.get(SCREENSHOTS) or tmp_path)
    await page.goto(f"http://127.0.0.1:{form_gateway.http_port}/write?lang=fr")
    await page.get_by_label("Thème").select_option(label="Santé")
    await page.get_by_label("Votre message").fill(
        "Les urgences de Besançon ferment la nuit : que proposez-vous ?")
    await page.get_by_label("Votre nom").fill("Renée Dupré")
    await page.get_by_label("Votre adresse e-mail").fill("renee@example.fr")
    box = page.get_by_label("Je souhaite recevoir des informations")
    await expect(box).not_to_be_checked()  # unticked unless the citizen ticks it
    await page.screenshot(path=str(shots / "write-form.png"), full_page=True)
    await page.get_by_role("button", name="Envoyer").click()

    await expect(page.get_by_role("status")).to_contain_text("Votre message est bien arrivé")
    await page.screenshot(path=str(shots / "write-thanks.png"), full_page=True)
    assert await count(form_gateway.pool, "web_messages") == 1
    assert await count(form_gateway.pool, "mail_outbox") == 1


async def test_a_missing_theme_is_said_next_to_the_theme(form_gateway: Gateway,
                                                         browser_page: Page,
                                                         tmp_path: Path) -> None:
    page = browser_page
    await page.goto(f"http://127.0.0.1:{form_gateway.http_port}/write?lang=en")
    await page.get_by_label("Your message").fill("When will the hospital reopen at night?")
    await page.get_by_label("Your e-mail address").fill("renee@example.fr")
    await page.get_by_role("button", name="Send").click()

    theme = page.get_by_label("Theme")
    await expect(theme).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("#theme-error")).to_have_text("Choose a theme from the list.")
    await expect(page.get_by_label("Your message")).to_have_value(
        "When will the hospital reopen at night?")
    await page.screenshot(path=str(Path(os.environ.get(SCREENSHOTS) or tmp_path)
                                   / "write-missing-theme.png"), full_page=True)
    assert await count(form_gateway.pool, "web_messages") == 0


async def test_a_robot_filling_the_honeypot_is_thanked_and_nothing_is_kept(
        form_gateway: Gateway, browser_page: Page) -> None:
    page = browser_page
    await page.goto(f"http://127.0.0.1:{form_gateway.http_port}/write?lang=fr")
    await expect(page.locator("#website")).not_to_be_in_viewport()  # people never see it
    await page.get_by_label("Thème").select_option("sante")
    await page.get_by_label("Votre message").fill("Buy cheap pills")
    await page.get_by_label("Votre adresse e-mail").fill("robot@example.net")
    await page.locator("#website").evaluate("field => { field.value = 'http://spam.example' }")
    await page.get_by_role("button", name="Envoyer").click()

    await expect(page.get_by_role("status")).to_contain_text("Votre message est bien arrivé")
    assert await count(form_gateway.pool, "web_messages") == 0
    assert await count(form_gateway.pool, "questions") == 0
