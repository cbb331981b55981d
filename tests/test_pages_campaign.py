"""The committees-and-events page: organizers add and switch them without a terminal."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

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
    starts = datetime.now(ZoneInfo("America/Chicago")).replace(second=0, microsecond=0,
                                                                tzinfo=None) + timedelta(days=3)
    added = await site.client.post("/campaign/events", allow_redirects=False, data={
        "csrf_token": token, "title": "Phone bank", "starts_local": f"{starts:%Y-%m-%dT%H:%M}",
        "timezone": "America/Chicago", "location": "Loop office", "program": "",
        "postal_code": "", "country": ""})
    assert added.status == 303

    async with site.pool.acquire() as conn:
        [committee] = await store.list_committees(conn)
        [event] = await store.list_events(conn)
    assert (committee["area"], committee["active"]) == ("606", True)
    assert (event["program"], event["published"]) == (None, True)  # every program
    # the picker's wall-clock time, read in the chosen zone
    assert event["starts_at"] == starts.replace(tzinfo=ZoneInfo("America/Chicago"))

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
        "csrf_token": token, "title": "Rally", "starts_local": "2030-01-01T10:00",
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


async def test_the_form_offers_choices_and_refuses_in_sentences(site: WebApi) -> None:
    """Programs, countries and zones are selects; what is refused is said in words."""
    await site.staff("organizer", email="org@example.org")
    await site.login("org@example.org")
    text = await (await site.client.get("/campaign")).text()
    assert '<option value="rise">Rise Up Alerts (rise)</option>' in text
    assert '<option value="FR">France</option>' in text
    assert '<option value="America/Chicago">Central Time — Chicago</option>' in text
    # the organization's zone is chosen at first, even when it is not a country's (UTC)
    assert '<option value="UTC" selected>UTC</option>' in text
    assert 'type="datetime-local"' in text
    token = form_token(text)

    refused = await site.client.post("/campaign/committees", data={
        "csrf_token": token, "name": "Loop", "address": "1 Wacker Dr", "postal_code": "6060",
        "country": "XX"})
    text = await refused.text()
    assert refused.status == 400 and "should match pattern" not in text
    assert "A postal code is 5 digits, like 60601 or 75011." in text
    assert "is not a country the gateway can place" in text and 'value="Loop"' in text

    # the reported bug: the program typed as its display name was accepted, and the
    # event never showed; now it is refused beside the field, the rest kept
    refused = await site.client.post("/campaign/events", data={
        "csrf_token": token, "title": "Rally", "starts_local": "2030-03-10T02:30",
        "timezone": "America/Chicago", "program": "Rise Up Alerts"})
    text = await refused.text()
    assert refused.status == 400
    assert "02:30 does not exist on 2030-03-10 in this time zone" in text  # spring forward
    assert 'value="2030-03-10T02:30"' in text
    refused = await site.client.post("/campaign/events", data={
        "csrf_token": token, "title": "Rally", "starts_local": "2030-03-10T14:30",
        "timezone": "America/Chicago", "program": "Rise Up Alerts"})
    text = await refused.text()
    assert refused.status == 400 and 'aria-describedby="program-event-error"' in text
    assert ("No program &#39;Rise Up Alerts&#39; in keywords.yaml."
            " Did you mean &#39;rise&#39;?") in text
    async with site.pool.acquire() as conn:
        assert await store.list_events(conn) == [] and await store.list_committees(conn) == []


async def test_the_api_refuses_an_unknown_program_too(site: WebApi) -> None:
    organizer = await site.staff("organizer")
    response = await site.client.post("/api/v1/events", headers=organizer.bearer, json={
        "title": "Rally", "starts_at": "2030-01-01T10:00:00-06:00",
        "timezone": "America/Chicago", "program": "Rise Up Alerts"})
    body = await response.json()
    assert response.status == 400, body
    assert body["error"]["field"] == "program"
    assert "Did you mean 'rise'?" in body["error"]["message"]
