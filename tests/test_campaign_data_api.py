"""Organizers edit committees and events over the API; the knowledge base answers from them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from gateway.store import committees as store
from tests.support.webapi import WebApi


async def post(web: WebApi, path: str, bearer: dict[str, str], body: dict[str, Any]
               ) -> tuple[int, Any]:
    response = await web.client.post(path, headers=bearer, json=body)
    return response.status, await response.json()


async def test_a_committee_added_by_an_organizer_is_the_nearest_for_its_area(
    web: WebApi,
) -> None:
    organizer = await web.staff("organizer")
    status, made = await post(web, "/api/v1/committees", organizer.bearer, {
        "name": "Beverly Hills for Rise", "address": "9400 Wilshire Blvd",
        "postal_code": "90210", "country": "US", "city": "Beverly Hills"})
    assert status == 201 and made["area"] == "902" and made["located"] is True
    async with web.pool.acquire() as conn:
        near = await store.get_nearest_committee(
            conn, country="US", postal_code="90211", area="902", lat=34.06, lon=-118.38)
    assert near is not None and near["name"] == "Beverly Hills for Rise"

    status, off = await post(web, f"/api/v1/committees/{made['id']}/active", organizer.bearer,
                             {"on": False})
    assert (status, off["active"]) == (200, False)
    async with web.pool.acquire() as conn:
        assert await store.get_nearest_committee(
            conn, country="US", postal_code="90210", area="902") is None
        actions = [r["action"] for r in await conn.fetch("SELECT action FROM audit_log")]
    assert actions == ["committee.created", "committee.changed"]


async def test_events_are_announced_until_unpublished(web: WebApi) -> None:
    organizer = await web.staff("organizer")
    starts = datetime.now(UTC) + timedelta(days=2)
    status, made = await post(web, "/api/v1/events", organizer.bearer, {
        "title": "Town hall", "starts_at": starts.isoformat(), "timezone": "America/Chicago",
        "location": "Library", "program": "rise", "postal_code": "60601", "country": "US"})
    assert status == 201 and made["area"] == "606"

    async def upcoming() -> list[str]:
        async with web.pool.acquire() as conn:
            rows = await store.list_upcoming_events(
                conn, program="rise", country="US", now=datetime.now(UTC))
        return [r["title"] for r in rows]

    assert await upcoming() == ["Town hall"]
    status, _ = await post(web, f"/api/v1/events/{made['id']}/published", organizer.bearer,
                           {"on": False})
    assert status == 200
    assert await upcoming() == []
    listed = await web.client.get("/api/v1/events", headers=organizer.bearer)
    assert [e["published"] for e in (await listed.json())["events"]] == [False]


async def test_bad_fields_are_named_and_change_nothing(web: WebApi) -> None:
    organizer = await web.staff("organizer")
    status, body = await post(web, "/api/v1/committees", organizer.bearer, {
        "name": "X", "address": "1 Main St", "postal_code": "9021", "country": "US"})
    assert (status, body["error"]["field"]) == (400, "postal_code")
    status, body = await post(web, "/api/v1/events", organizer.bearer, {
        "title": "Rally", "starts_at": "2030-01-01T10:00:00", "timezone": "America/Chicago"})
    assert (status, body["error"]["field"]) == (400, "starts_at")  # a time needs its zone
    status, body = await post(web, "/api/v1/events", organizer.bearer, {
        "title": "Rally", "starts_at": "2030-01-01T10:00:00Z", "timezone": "Mars/Olympus"})
    assert (status, body["error"]["field"]) == (400, "timezone")
    status, _ = await post(web, "/api/v1/events/999/published", organizer.bearer, {"on": True})
    assert status == 404
    async with web.pool.acquire() as conn:
        assert await store.list_events(conn) == []
        assert await store.list_committees(conn) == []
