"""A number's gifts: the Stripe link goes to the right dashboard, and the table reads on a phone.

Why: every card gift linked to Stripe's live dashboard, even with a test key (its
payments are under /test/) or the local fake (whose payments no dashboard has);
and the six-column table was cramped at 375 px. Now the link follows the key
(gateway/services/contact_donations.py `stripe_dashboard`) and under 600 px each
gift is a card of labelled lines (site.css `table.cards`), checked in Chromium;
the screenshots are written under the test's output directory.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from playwright.async_api import Page
from pydantic import SecretStr

from gateway.config import Settings
from tests.support.browser import browser_page, needs_chromium
from tests.support.finance_ledger import gift
from tests.support.pages_site import start_site

__all__ = ["browser_page"]

DONOR = "+12125550100"
_logins = itertools.count()
REF = re.compile(r'href="(https://dashboard\.stripe\.com[^"]*)"')


async def gifts_page(pool: asyncpg.Pool, settings: Settings, **changes: Any) -> str:
    site = await start_site(pool, settings, **changes)
    try:
        staff = await site.staff("finance", email=f"finance{next(_logins)}@example.org")
        response = await site.client.get(f"/contacts/{DONOR}/donations", headers=staff.bearer)
        assert response.status == 200
        return await response.text()
    finally:
        await site.client.close()


async def test_the_stripe_link_follows_the_key_and_never_points_at_the_fake(
    pool: asyncpg.Pool, settings: Settings,
) -> None:
    async with pool.acquire() as conn:
        card = await gift(conn, method="card", msisdn=DONOR)
    test_key = await gifts_page(pool, settings, stripe_secret_key=SecretStr("sk_test_abc"),
                                stripe_api_base="https://api.stripe.com")
    [link] = REF.findall(test_key)
    assert link == f"https://dashboard.stripe.com/test/payments/{card.payment_intent}"
    live = await gifts_page(pool, settings, stripe_secret_key=SecretStr("rk_live_abc"),
                            stripe_api_base="https://api.stripe.com/")
    assert REF.findall(live) == [link.replace("/test/", "/")]
    fake = await gifts_page(pool, settings, stripe_secret_key=SecretStr("sk_test_abc"),
                            stripe_api_base="http://127.0.0.1:9")
    assert REF.findall(fake) == [] and "dashboard.stripe.com" not in fake
    assert f"card payment {card.payment_intent}" in fake  # the id, to look up by hand
    unset = await gifts_page(pool, settings, stripe_secret_key=None)
    assert "dashboard.stripe.com" not in unset


@needs_chromium
@pytest.mark.parametrize("width", [375, 1280])
async def test_the_gifts_read_on_a_phone(pool: asyncpg.Pool, settings: Settings,
                                         browser_page: Page, tmp_path: Path,
                                         width: int) -> None:
    async with pool.acquire() as conn:
        await gift(conn, method="card", msisdn=DONOR, amount=2_500)
        await gift(conn, method="carrier", msisdn=DONOR, amount=1_000, refunded=400)
    site = await start_site(pool, settings)
    try:
        staff = await site.staff("admin")
        page = browser_page
        await page.set_extra_http_headers(staff.bearer)
        await page.set_viewport_size({"width": width, "height": 800})
        base = str(site.client.make_url("")).rstrip("/")
        await page.goto(f"{base}/contacts/{DONOR}/donations")
        await page.screenshot(path=str(tmp_path / f"gifts-{width}.png"), full_page=True)
        assert await page.evaluate("document.documentElement.scrollWidth") <= width
        cells = page.locator("#gifts tbody tr:first-child td")
        assert await cells.count() == 6
        row = await page.locator("#gifts tbody tr").first.bounding_box()
        assert row is not None
        for i in range(6):
            box = await cells.nth(i).bounding_box()
            assert box is not None
            if width == 375:  # a card: every line as wide as the gift, its label beside it
                assert box["width"] >= row["width"] - 24, (i, box, row)
                label = await cells.nth(i).evaluate(
                    "td => getComputedStyle(td, '::before').content")
                assert label.strip('"') in {"Asked", "Amount", "How", "For",
                                            "Where it stands", "Receipt"}
            else:  # a table: the six columns side by side
                assert box["width"] < row["width"] / 2
    finally:
        await site.client.close()
