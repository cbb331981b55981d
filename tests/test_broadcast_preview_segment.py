"""The broadcast preview takes a saved segment as the create does: its count and samples are
exactly the segment's people (API and composer page), refused beside the right field."""

from __future__ import annotations

import asyncpg

from gateway.store import segments as segment_store
from gateway.store import tags as tag_store
from tests.support.broadcasts import OPTED_OUT, PEOPLE, seed
from tests.support.pages_site import form_token
from tests.support.webapi import WebApi

TEXT = "Hi {first_name|friend}, {program} news. Reply STOP to opt out."
TAGGED = ("new_york", "chicago", "paris")


async def saved_segment(pool: asyncpg.Pool, program: str = "rise") -> int:
    async with pool.acquire() as conn:
        await seed(conn)
        await tag_store.tag_numbers(
            conn, "Volunteer", [str(PEOPLE[n][0]) for n in TAGGED] + [OPTED_OUT])
        segment = await segment_store.insert(
            conn, name="Volunteers", program=program, filter="tag = volunteer or state = CA",
            by="organizer@example.org")
    return segment.id


async def test_the_api_preview_counts_and_samples_exactly_the_segment(
        site: WebApi, pool: asyncpg.Pool) -> None:
    segment_id = await saved_segment(pool)
    organizer = await site.staff("organizer")
    want = {str(p[0]) for name, p in PEOPLE.items() if name in TAGGED or p[3] == "CA"}
    answer = await site.client.post("/api/v1/broadcasts/preview", headers=organizer.bearer, json={
        "program": "rise", "segment_id": segment_id, "text": TEXT, "sample_size": 50})
    assert answer.status == 200, await answer.text()
    found = await answer.json()
    assert found["recipients"] == len(want) == 4
    assert {s["msisdn"] for s in found["samples"]} == want
    assert found["segment"] == {"id": segment_id, "name": "Volunteers",
                                "filter": "tag = volunteer or state = CA"}
    everyone = await (await site.client.post(
        "/api/v1/broadcasts/preview", headers=organizer.bearer,
        json={"program": "rise", "text": TEXT})).json()
    assert everyone["recipients"] == len(PEOPLE) and everyone["segment"] is None

    both = await site.client.post("/api/v1/broadcasts/preview", headers=organizer.bearer, json={
        "program": "rise", "segment_id": segment_id, "where": "state = NY", "text": TEXT})
    assert both.status == 400
    assert (await both.json())["error"]["field"] == "where"
    other = await site.client.post("/api/v1/broadcasts/preview", headers=organizer.bearer, json={
        "program": "ensemble", "segment_id": segment_id, "text": TEXT})
    assert other.status == 400
    assert (await other.json())["error"]["field"] == "segment_id"
    missing = await site.client.post("/api/v1/broadcasts/preview", headers=organizer.bearer,
                                     json={"program": "rise", "segment_id": 999_999,
                                           "text": TEXT})
    assert missing.status == 404


async def test_the_composer_previews_a_chosen_segment(site: WebApi, pool: asyncpg.Pool) -> None:
    segment_id = await saved_segment(pool)
    await site.staff("organizer")
    await site.login("organizer@example.org")
    token = form_token(await (await site.client.get("/broadcasts/new")).text())
    page = await site.client.post("/broadcasts/new", data={
        "program": "rise", "segment": str(segment_id), "where": "", "text": TEXT,
        "scheduled_at": "", "time_zone": "UTC", "csrf_token": token, "action": "preview"})
    html = await page.text()
    assert page.status == 200, html
    assert '<dd id="preview-recipients">4</dd>' in html
    assert "tag = volunteer or state = CA" in html
