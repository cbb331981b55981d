"""The donor-details web form over real HTTP and PostgreSQL: the link a held gift's SMS
carries opens a form; a good POST stores the details and releases the gift; a bad one
names each wrong field; a forged, stale or replayed one changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from gateway.billing.stripe_client import StripeCards
from gateway.web.donor_details import CSRF_COOKIE, add_donor_details_routes
from tests.support.donor_details import EVERYTHING, MSISDN, Donor
from tests.support.fake_stripe import FakeStripe
from tests.support.stripe_cards import save_card

GOOD = {"name": "Ada Lovelace", "street": "1 Main St", "city": "Springfield",
        "region": "il", "postal_code": "62701"}


@pytest.fixture
async def donor(pool: asyncpg.Pool, fake: FakeStripe, cards: StripeCards) -> Donor:
    await save_card(pool, fake, MSISDN)
    return Donor(pool, cards)


@pytest.fixture
async def client(donor: Donor) -> AsyncIterator[TestClient[Any, Any]]:
    app = web.Application()
    add_donor_details_routes(app, pool=donor.pool, rules=lambda: donor.rules.current,
                             cookie_secure=False, clock=lambda: donor.now)
    async with TestClient(TestServer(app), cookie_jar=aiohttp.DummyCookieJar()) as c:
        yield c


async def held_link(donor: Donor, amount: int = 60) -> str:
    await donor.give(amount)
    found = re.search(r"https://riseup\.example\.org(/give/details/\S+)", await donor.last_text())
    assert found is not None
    return found.group(1)


async def open_form(client: TestClient[Any, Any], path: str) -> tuple[str, str]:
    """GET the form: (its csrf field, the csrf cookie)."""
    response = await client.get(path)
    assert response.status == 200
    page = await response.text()
    field = re.search(r'name="csrf" value="([^"]+)"', page)
    cookie = response.cookies[CSRF_COOKIE]
    assert field is not None and cookie.value == field.group(1)
    assert cookie["httponly"] and cookie["samesite"] == "Strict"
    return field.group(1), cookie.value


async def post(client: TestClient[Any, Any], path: str, form: dict[str, str], *,
               cookie: str | None, origin: str | None = None) -> tuple[int, str]:
    headers = {"Cookie": f"{CSRF_COOKIE}={cookie}"} if cookie else {}
    if origin:
        headers["Origin"] = origin
    async with client.post(path, data=form, headers=headers) as response:
        return response.status, await response.text()


async def details_rows(pool: asyncpg.Pool) -> int:
    async with pool.acquire() as conn:
        count: int = await conn.fetchval("SELECT count(*) FROM donor_details")
    return count


async def test_the_form_asks_what_the_hold_needs_with_safe_headers(
    donor: Donor, client: TestClient[Any, Any]
) -> None:
    path = await held_link(donor)
    response = await client.get(path)
    page = await response.text()
    assert response.status == 200
    for name in ("name", "street", "city", "region", "postal_code"):
        assert f'name="{name}"' in page
    assert 'name="employer"' not in page and "$60" in page and "Rise Up PAC" in page
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]

    over_200 = await held_link(donor, 250)
    page = await (await client.get(over_200)).text()
    assert 'name="employer"' in page and 'name="occupation"' in page and "best efforts" in page


async def test_good_details_are_stored_and_release_the_gift_once(
    donor: Donor, client: TestClient[Any, Any], fake: FakeStripe
) -> None:
    path = await held_link(donor)
    csrf, cookie = await open_form(client, path)
    status, page = await post(client, path, {**GOOD, "csrf": csrf}, cookie=cookie,
                              origin=f"http://{client.host}:{client.port}")
    assert status == 200 and "your gift will now go through" in page
    assert await donor.statuses() == ["confirmed"]
    async with donor.pool.acquire() as conn:
        row = await conn.fetchrow("SELECT name, region, source FROM donor_details")
    assert dict(row) == {"name": "Ada Lovelace", "region": "IL", "source": "web"}
    await donor.billing.tick()
    assert await donor.statuses() == ["charged"] and fake.payment_intents_created == 1
    # the link is spent: the form is gone, a replayed POST changes nothing
    assert (await client.get(path)).status == 410
    status, _ = await post(client, path, {**GOOD, "csrf": csrf}, cookie=cookie)
    assert status == 410 and await details_rows(donor.pool) == 1


async def test_wrong_fields_are_each_named_and_nothing_is_stored(
    donor: Donor, client: TestClient[Any, Any]
) -> None:
    path = await held_link(donor)
    csrf, cookie = await open_form(client, path)
    bad = {**GOOD, "name": "Ada", "postal_code": "6270", "city": "<script>x</script>",
           "csrf": csrf}
    status, page = await post(client, path, bad, cookie=cookie)
    assert status == 400
    assert "Please correct: Full name, City, ZIP code." in page
    assert "Enter a 5-digit ZIP code" in page and 'aria-invalid="true"' in page
    assert "<script>" not in page and "&lt;script&gt;" in page  # echoed, escaped
    assert await details_rows(donor.pool) == 0
    assert await donor.statuses() == ["awaiting_details"]


async def test_a_post_without_the_cookie_or_from_another_site_is_refused(
    donor: Donor, client: TestClient[Any, Any]
) -> None:
    path = await held_link(donor)
    csrf, cookie = await open_form(client, path)
    status, _ = await post(client, path, {**GOOD, "csrf": csrf}, cookie=None)
    assert status == 403
    status, _ = await post(client, path, {**GOOD, "csrf": "forged"}, cookie=cookie)
    assert status == 403
    status, _ = await post(client, path, {**GOOD, "csrf": csrf}, cookie=cookie,
                           origin="https://evil.example.com")
    assert status == 403
    assert await details_rows(donor.pool) == 0


async def test_unknown_and_expired_links(donor: Donor, client: TestClient[Any, Any]) -> None:
    assert (await client.get("/give/details/" + "x" * 32)).status == 404
    assert (await client.get("/give/details/short")).status == 404
    path = await held_link(donor)
    donor.now += timedelta(days=1, minutes=1)  # the link closes with the hold...
    assert (await client.get(path)).status == 410
    donor.now += timedelta(minutes=10)  # ...which the sweep ends after its grace period
    await donor.billing.tick()
    assert await donor.statuses() == ["expired"]


async def test_details_already_complete_elsewhere_close_the_form(
    donor: Donor, client: TestClient[Any, Any]
) -> None:
    path = await held_link(donor)
    csrf, cookie = await open_form(client, path)
    await donor.details(EVERYTHING)  # staff, or the SMS dialog, got there first
    status, page = await post(client, path, {**GOOD, "csrf": csrf}, cookie=cookie)
    assert status == 410 and "no longer open" in page
