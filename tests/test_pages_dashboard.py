"""The dashboard, the landing page, on a day with a confirmed gift: every role, real HTTP.

A confirmed gift makes the donation totals non-empty; their sums are what
the page's money filter formats, so this is the path an empty database
never takes.
"""

from __future__ import annotations

from datetime import UTC, datetime

from gateway.web.access import ACCESS, ROLES, allows
from gateway.web.pages.dashboard import start_of_day
from tests.support.finance_ledger import gift
from tests.support.webapi import WebApi


async def test_the_dashboard_shows_todays_gift_to_every_role_that_may_see_it(
    site: WebApi,
) -> None:
    today = start_of_day(datetime.now(UTC), site.settings.organization_timezone)
    async with site.pool.acquire() as conn:
        # confirmed one minute after the start of today: counted whatever the hour now
        await gift(conn, amount=2_550, at=today.astimezone(UTC))
        await gift(conn, amount=1_000, at=today.astimezone(UTC), outcome="pending")
    seen: dict[str, int] = {}
    for role in ROLES:
        staff = await site.staff(role)
        page = await site.client.get("/dashboard", headers=staff.bearer)
        html = await page.text()
        seen[role] = page.status
        if allows(ACCESS["page.dashboard"], role):
            assert page.status == 200, html[:400]
            assert "35.50" in html  # both gifts confirmed today
            assert "25.50" in html  # the one whose money was taken
    assert {role: status for role, status in seen.items() if status >= 500} == {}
