"""The dashboard with a campaign's data in headless Chromium, desktop and phone widths.

Why: the charts are SVG scaled by CSS, and tables of up to 90 rows sit beside
them; what fits in an HTML string can still overflow a 375 px phone or shrink
its axis labels to specks. The screenshots are written under the test's
output directory for people to look at.
"""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest
from playwright.async_api import Page

from tests.support.browser import browser_page, needs_chromium
from tests.support.dashboard_data import seed, site_at_noon
from tests.support.webapi import WebApi

pytestmark = needs_chromium
__all__ = ["browser_page", "site_at_noon"]  # the fixture, shared from tests/support/browser.py



@pytest.mark.parametrize("width", [1280, 375])
async def test_the_dashboard_fits_the_screen_with_readable_charts(
    site_at_noon: WebApi, pool: asyncpg.Pool, browser_page: Page, tmp_path: Path, width: int,
) -> None:
    await seed(pool)
    staff = await site_at_noon.staff("organizer")
    page = browser_page
    await page.set_extra_http_headers(staff.bearer)
    await page.set_viewport_size({"width": width, "height": 900})
    base = str(site_at_noon.client.make_url("")).rstrip("/")
    await page.goto(f"{base}/dashboard?days=30")
    await page.screenshot(path=str(tmp_path / f"dashboard-{width}.png"), full_page=True)
    sections = page.locator("main section")
    for i in range(await sections.count()):  # one picture per section, for a closer look
        await sections.nth(i).screenshot(path=str(tmp_path / f"dashboard-{width}-{i}.png"))
    # no sideways scrolling of the page (a wide table scrolls inside its own box)
    assert await page.evaluate("document.documentElement.scrollWidth") <= width
    charts = page.locator(".charts figure.chart svg")
    assert await charts.count() == 5  # per hour; growth, opt-outs, gifts, amount in USD
    for i in range(await charts.count()):
        box = await charts.nth(i).bounding_box()
        assert box is not None and box["width"] <= width - 16
    # axis labels stay readable once the SVG is scaled to the screen
    label = await page.locator("#growth-h ~ .charts svg text.axis").first.bounding_box()
    assert label is not None and label["height"] >= 9
    await page.select_option("#days", "7")
    await page.get_by_role("button", name="Show").click()
    await page.wait_for_url("**/dashboard?days=7")
    assert await page.locator("#growth-days tbody tr").count() == 7
