"""A French organizer schedules a broadcast with the browser's own date picker.

Why: send times are pickers with their zone, not free text. The picker is the
browser's own (`datetime-local`), drawn in the browser's language (a French
Chrome shows jj/mm/aaaa; this machine's Chromium has only its en-US locale
pack, so the test sets the picker's value rather than typing in an order);
the zone beside it starts at the viewer's own zone, and the gateway turns
the pair into one instant, shown back in that zone in the viewer's words.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import asyncpg
from playwright.async_api import Page

from gateway.store import users as user_store
from tests.support.browser import browser_page, needs_chromium
from tests.support.dashboard_data import site_at_noon
from tests.support.webapi import WebApi

pytestmark = needs_chromium
__all__ = ["browser_page", "site_at_noon"]  # the fixtures, shared from tests/support


async def test_a_french_organizer_schedules_with_the_picker_in_paris_time(
    site_at_noon: WebApi, pool: asyncpg.Pool, browser_page: Page, tmp_path: Path,
) -> None:
    page = browser_page
    staff = await site_at_noon.staff("organizer")
    async with pool.acquire() as conn:
        await user_store.set_preferences(conn, staff.user.id, time_zone="Europe/Paris",
                                         language="fr")
    await page.set_extra_http_headers(staff.bearer)
    base = str(site_at_noon.client.make_url("")).rstrip("/")

    await page.goto(f"{base}/broadcasts/new")
    await page.fill("#text", "Rassemblement samedi à 10 h, place de la mairie.")
    assert await page.locator("#time_zone").input_value() == "Europe/Paris"
    await page.fill("#scheduled_at", "2024-07-15T14:30")
    await page.screenshot(path=str(tmp_path / "composer-picker-fr.png"), full_page=True)
    await page.get_by_role("button", name="Créer l’envoi groupé").click()
    await page.wait_for_url("**/broadcasts/*")

    async with pool.acquire() as conn:
        scheduled = await conn.fetchval(
            "SELECT scheduled_at FROM broadcasts ORDER BY id DESC LIMIT 1")
    assert scheduled == datetime(2024, 7, 15, 12, 30, tzinfo=UTC)  # 14:30 in Paris, summer
    await page.screenshot(path=str(tmp_path / "broadcast-scheduled-fr.png"), full_page=True)
    assert "15 juil. 2024, 14:30" in await page.locator("main").inner_text()
