"""The pages without a browser: login, contacts (audited), the composer's forms, errors.

aiohttp's test client against the real pages and API on PostgreSQL; the
forms are posted as a browser would (urlencoded, with the page's token).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import asyncpg
import pytest

from gateway.config import Settings
from gateway.web.pages.charts import bar_chart, nice_ceiling
from tests.support.clock import ManualClock
from tests.support.pages_site import form_token, start_site
from tests.support.webapi import PASSWORD, WebApi

NUMBER = "+12125550101"


@pytest.fixture
async def site(pool: asyncpg.Pool, settings: Settings) -> AsyncIterator[WebApi]:
    # the clock stands still: the login after the failures is inside the wait they earned
    web = await start_site(pool, settings, clock=ManualClock(), web_login_max_failures=2)
    try:
        yield web
    finally:
        await web.client.close()


async def seed_contact(pool: asyncpg.Pool, msisdn: str = NUMBER) -> None:
    state = json.dumps({"v": 1, "subs": {"rise": {"status": "subscribed"}},
                        "profile": {"first_name": "Sam", "zip": "10001"}})
    async with pool.acquire() as conn:
        await conn.execute(
            """INSERT INTO contacts (msisdn, shortcode, state, zip, region, country, timezones,
                                     geo_source)
               VALUES ($1, '12345', $2::jsonb, '10001', 'NY', 'US', '{America/New_York}',
                       'zip')""", msisdn, state)


async def audit_actions(pool: asyncpg.Pool) -> list[tuple[str, str | None]]:
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT action, target FROM audit_log ORDER BY id")
    return [(r["action"], r["target"]) for r in rows]


async def test_login_page_form_logs_in_and_says_why_it_did_not(site: WebApi) -> None:
    await site.staff("organizer")
    page = await site.client.get("/login?next=/contacts")
    html = await page.text()
    assert page.status == 200 and 'name="password"' in html and 'value="/contacts"' in html
    token = form_token(html)
    form = {"email": "organizer@example.org", "password": "wrong", "csrf_token": token,
            "next": "/contacts"}
    failed = await site.client.post("/login", data=form, allow_redirects=False)
    assert failed.headers["Location"] == "/login?error=failed"
    shown = await site.client.get("/login?error=failed")
    assert "Wrong e-mail or password." in await shown.text()
    await site.client.post("/login", data=form, allow_redirects=False)  # second failure
    limited = await site.client.post("/login", data={**form, "password": PASSWORD},
                                     allow_redirects=False)
    assert limited.headers["Location"] == "/login?error=limited"
    assert "Too many failed logins" in await (await site.client.get(
        "/login?error=limited")).text()


async def test_login_form_goes_to_next_and_logout_form_ends_the_session(site: WebApi) -> None:
    await site.staff("organizer")
    token = form_token(await (await site.client.get("/login")).text())
    done = await site.client.post("/login", allow_redirects=False, data={
        "email": "organizer@example.org", "password": PASSWORD, "csrf_token": token,
        "next": "/contacts"})
    assert done.status == 303 and done.headers["Location"] == "/contacts"
    contacts = await site.client.get("/contacts")
    assert contacts.status == 200
    session_token = form_token(await contacts.text())  # the logout form in the header
    out = await site.client.post("/logout", data={"csrf_token": session_token},
                                 allow_redirects=False)
    assert out.status == 303 and out.headers["Location"] == "/login"
    again = await site.client.get("/contacts", allow_redirects=False)
    assert again.status == 303 and again.headers["Location"].startswith("/login?next=")


async def test_a_forged_next_never_leaves_the_site(site: WebApi) -> None:
    page = await site.client.get("/login?next=//evil.example/x")
    assert 'value="/"' in await page.text()


async def test_contacts_list_filter_and_profile_are_shown_and_audited(
    pool: asyncpg.Pool, site: WebApi,
) -> None:
    await seed_contact(pool)
    await seed_contact(pool, "+13125550199")
    await site.staff("organizer")
    await site.login("organizer@example.org")
    listing = await (await site.client.get("/contacts?q=212555")).text()
    assert NUMBER in listing and "+13125550199" not in listing
    by_field = await (await site.client.get("/contacts?field=zip&value=10001")).text()
    assert NUMBER in by_field and "+13125550199" in by_field
    bad = await site.client.get("/contacts?q=a+b")  # neither digits nor an address
    assert bad.status == 400 and "phone number" in await bad.text()
    profile = await site.client.get(f"/contacts/{NUMBER}")
    html = await profile.text()
    assert profile.status == 200 and "Sam" in html and "subscribed" in html
    assert (await site.client.get("/contacts/+12125550999")).status == 404
    viewed = [t for a, t in await audit_actions(pool) if a == "contact.viewed"]
    assert viewed == [None, None, f"contact:{NUMBER}"]


async def test_composer_previews_keeps_a_refused_form_and_creates(
    pool: asyncpg.Pool, site: WebApi,
) -> None:
    await seed_contact(pool)
    await site.staff("organizer")
    await site.login("organizer@example.org")
    compose = await site.client.get("/broadcasts/new")
    html = await compose.text()
    assert '<option value="rise"' in html
    token = form_token(html)
    form = {"csrf_token": token, "program": "rise", "where": "zip starts with 100",
            "text": "Hi {first_name|friend}, rally at noon.", "action": "preview"}
    preview = await (await site.client.post("/broadcasts/new", data=form)).text()
    assert 'id="preview-recipients">1<' in preview
    assert "Hi Sam, rally at noon." in preview
    assert 'id="preview-segments">1<' in preview and "GSM-7" in preview
    unicode = await (await site.client.post("/broadcasts/new", data={
        **form, "text": "Rassemblement à midi 🎉 " * 4})).text()
    assert "UCS-2" in unicode and 'id="preview-segments">2<' in unicode
    refused = await site.client.post("/broadcasts/new", data={**form, "where": "zip ="})
    kept = await refused.text()
    assert refused.status == 400 and 'id="where-error"' in kept
    assert "Hi {first_name|friend}, rally at noon." in kept  # nothing typed is lost
    created = await site.client.post("/broadcasts/new", data={**form, "action": "create"},
                                     allow_redirects=False)
    assert created.status == 303
    location = created.headers["Location"]
    page = await (await site.client.get(location)).text()
    assert 'id="broadcast-status">Draft<' in page and 'data-live="no"' in page
    started = await site.client.post(f"{location}/start", data={"csrf_token": token},
                                     allow_redirects=False)
    assert started.status == 303
    page = await (await site.client.get(location)).text()
    assert 'id="broadcast-status">Sending<' in page and 'data-live="yes"' in page
    again = await site.client.post(f"{location}/start", data={"csrf_token": token})
    assert again.status == 409 and "cannot start" in await again.text()
    # cancelling is final: the button asks first, and nothing changes until confirmed
    ask = await site.client.post(f"{location}/cancel", data={"csrf_token": token},
                                 allow_redirects=False)
    asked = await ask.text()
    assert ask.status == 200 and "Cancel this broadcast for good?" in asked
    assert 'name="confirmed" value="yes"' in asked and f'href="{location}">No, keep it' in asked
    page = await (await site.client.get(location)).text()
    assert 'id="broadcast-status">Sending<' in page
    cancel = await site.client.post(f"{location}/cancel", allow_redirects=False,
                                    data={"csrf_token": token, "confirmed": "yes"})
    assert cancel.status == 303
    actions = [a for a, _ in await audit_actions(pool) if a.startswith("broadcast.")]
    assert actions == ["broadcast.created", "broadcast.started", "broadcast.cancelled"]
    listing = await (await site.client.get("/broadcasts")).text()
    assert "<td>Cancelled</td>" in listing  # the state in plain words


async def test_schedule_form_reads_the_time_in_the_zone_it_sends(
    pool: asyncpg.Pool, site: WebApi,
) -> None:
    await site.staff("organizer")
    await site.login("organizer@example.org")
    token = form_token(await (await site.client.get("/broadcasts/new")).text())
    created = await site.client.post("/broadcasts/new", allow_redirects=False, data={
        "csrf_token": token, "program": "rise", "text": "Later", "action": "create"})
    location = created.headers["Location"]
    scheduled = await site.client.post(f"{location}/schedule", allow_redirects=False, data={
        "csrf_token": token, "scheduled_at": "2031-05-04T18:30", "time_zone": "America/Chicago"})
    assert scheduled.status == 303
    async with pool.acquire() as conn:
        at = await conn.fetchval("SELECT scheduled_at FROM broadcasts")
    assert at.isoformat() == "2031-05-04T23:30:00+00:00"  # 18:30 CDT
    bad = await site.client.post(f"{location}/schedule", data={
        "csrf_token": token, "scheduled_at": "tomorrow", "time_zone": "UTC"})
    assert bad.status == 400 and "not an ISO 8601 date" in await bad.text()
    zoneless = await site.client.post(f"{location}/schedule", data={
        "csrf_token": token, "scheduled_at": "2031-05-04T18:30"})
    assert zoneless.status == 400 and "has no time zone" in await zoneless.text()


async def test_dashboard_renders_counts_and_an_svg_chart(site: WebApi) -> None:
    finance = await site.staff("finance")
    page = await site.client.get("/dashboard", headers=finance.bearer)
    html = await page.text()
    assert page.status == 200
    assert '<svg viewBox="0 0 400 220" role="img"' in html
    assert 'id="smpp-state">connected<' in html and 'id="opt-ins">0<' in html
    assert page.headers["Content-Security-Policy"].startswith("default-src 'self'")


async def test_static_files_are_served(site: WebApi) -> None:
    css = await site.client.get("/static/site.css")
    js = await site.client.get("/static/site.js")
    assert css.status == 200 and js.status == 200
    assert "data-progress-url" not in await css.text()
    assert "X-CSRF-Token" in await js.text()


def test_chart_bars_stay_inside_the_plot_and_the_axis_is_round() -> None:
    assert [nice_ceiling(v) for v in (0, 1, 3, 10, 11, 240, 5001)] == [1, 1, 3, 10, 15, 250,
                                                                        6000]
    chart = bar_chart(["a", "b", "c"], {"x": [0, 7, 3], "y": [1, 2, 0]}, title="t",
                      description="d")
    assert len(chart.bars) == 6
    for bar in chart.bars:
        assert chart.plot_left <= bar.x and bar.x + bar.width <= chart.plot_right
        assert bar.y + bar.height == pytest.approx(chart.baseline)
    tallest = max(chart.bars, key=lambda b: b.height)
    assert tallest.tip == "b x: 7"
    assert [t.text for t in chart.y_ticks] == ["0", "2", "4", "6", "8"]
    with pytest.raises(ValueError, match="series 'x' has 1 values for 3 categories"):
        bar_chart(["a", "b", "c"], {"x": [1]}, title="t", description="d")
