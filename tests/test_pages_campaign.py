"""The committees-and-events page: organizers add and switch them without a terminal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gateway.store import committees as store
from tests.support.pages_site import form_token
from tests.support.webapi import WebApi


async def test_an_organizer_adds_a_committee_and_an_event_and_retires_them(
    site: WebApi,
) -> None:
    await site.staff("organizer", email="org@example.org")
    await site.login("org@example.org")
    page = await site.client.get("/campaign")
    text = await page.text()
    assert page.status == 200 and "No committee yet." in text
    token = form_token(text)

    added = await site.client.post("/campaign/committees", allow_redirects=False, data={
        "csrf_token": token, "name": "Loop for Rise", "address": "1 Wacker Dr",
        "postal_code": "60601", "country": "US", "city": "Chicago", "phone": ""})
    assert (added.status, added.headers["Location"]) == (303, "/campaign?added=committee")
    starts = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    added = await site.client.post("/campaign/events", allow_redirects=False, data={
        "csrf_token": token, "title": "Phone bank", "starts_at": starts,
        "timezone": "America/Chicago", "location": "Loop office", "program": "",
        "postal_code": "", "country": ""})
    assert added.status == 303

    async with site.pool.acquire() as conn:
        [committee] = await store.list_committees(conn)
        [event] = await store.list_events(conn)
    assert (committee["area"], committee["active"]) == ("606", True)
    assert (event["program"], event["published"]) == (None, True)  # every program

    for path in (f"/campaign/committees/{committee['id']}/active",
                 f"/campaign/events/{event['id']}/published"):
        switched = await site.client.post(path, allow_redirects=False,
                                          data={"csrf_token": token, "on": "false"})
        assert switched.status == 303
    async with site.pool.acquire() as conn:
        assert [c["active"] for c in await store.list_committees(conn)] == [False]
        assert [e["published"] for e in await store.list_events(conn)] == [False]
        actions = [r["action"] for r in await conn.fetch(
            "SELECT action FROM audit_log WHERE action NOT LIKE 'session.%' ORDER BY id")]
    assert actions == ["committee.created", "event.created", "committee.changed",
                       "event.changed"]


async def test_a_refused_form_keeps_what_was_typed_and_names_the_field(site: WebApi) -> None:
    await site.staff("organizer", email="org@example.org")
    await site.login("org@example.org")
    token = form_token(await (await site.client.get("/campaign")).text())
    refused = await site.client.post("/campaign/events", data={
        "csrf_token": token, "title": "Rally", "starts_at": "2030-01-01T10:00:00Z",
        "timezone": "Mars/Olympus", "location": "Main square"})
    text = await refused.text()
    assert refused.status == 400
    assert 'aria-invalid="true" aria-describedby="timezone-event-error"' in text
    assert "is not a time zone" in text and 'value="Main square"' in text
    no_token = await site.client.post("/campaign/committees", data={"name": "X"})
    assert no_token.status == 403
    async with site.pool.acquire() as conn:
        assert await store.list_events(conn) == [] and await store.list_committees(conn) == []


async def test_finance_staff_do_not_see_the_page(site: WebApi) -> None:
    finance = await site.staff("finance")
    response = await site.client.get("/campaign", headers=finance.bearer)
    assert response.status == 403
