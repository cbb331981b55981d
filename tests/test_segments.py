"""Saved segments and tags: a segment saved on its page and chosen in the composer reaches
exactly its filter's people, read when the broadcast is materialized; a keyword's tag is
written in the MO's own transaction; tags by hand show on the contact and filter Contacts."""

from __future__ import annotations

import contextlib
from pathlib import Path

import asyncpg

from gateway.engine import parse_rules
from gateway.engine.holder import RulesHolder
from gateway.pipeline.decide import DecisionWriter
from gateway.services import segments as segment_service
from gateway.store import broadcasts as broadcast_store
from gateway.store import inbound as inbound_store
from gateway.store import segments as segment_store
from gateway.store import tags as tag_store
from gateway.store.inbound import NewInbound
from tests.support.broadcasts import CODE, NOW, OPTED_OUT, PEOPLE, RULES, materialize, seed
from tests.support.pages_site import form_token
from tests.support.webapi import WebApi

TAGGED = ("new_york", "chicago", "paris")
TEXT = "Hi {first_name|friend}, {program} news. Reply STOP to opt out."


def number(name: str) -> str:
    return str(PEOPLE[name][0])


def expected(tag_people: set[str], regions: set[str]) -> set[str]:
    """The filter `tag = volunteer or state in (...)` worked out by hand over PEOPLE (all
    subscribed to rise on CODE; the opted-out and the pending are not in PEOPLE)."""
    return {number(n) for n, person in PEOPLE.items()
            if n in tag_people or person[3] in regions}


async def test_a_saved_segment_chosen_in_the_composer_reaches_exactly_its_filter(
        site: WebApi, pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await seed(conn)
        assert await tag_store.tag_numbers(
            conn, "Volunteer", [number(n) for n in TAGGED] + [OPTED_OUT]) == 4
    await site.staff("organizer")
    await site.login("organizer@example.org")
    token = form_token(await (await site.client.get("/segments")).text())
    saved = await site.client.post("/segments", allow_redirects=False, data={
        "name": "Volunteers", "program": "rise", "where": "tag = volunteer",
        "csrf_token": token})
    assert saved.status == 303, await saved.text()
    segment_id = int(saved.headers["Location"].rsplit("=", 1)[1])
    listing = await (await site.client.get("/segments")).text()
    assert ">Volunteers</a>" in listing and '<td class="count">3</td>' in listing

    composer = await (await site.client.get(f"/broadcasts/new?segment={segment_id}")).text()
    assert f'<option value="{segment_id}" selected>Volunteers' in composer
    made = await site.client.post("/broadcasts/new", allow_redirects=False, data={
        "program": "rise", "segment": str(segment_id), "where": "", "text": TEXT,
        "scheduled_at": "", "time_zone": "UTC", "csrf_token": token, "action": "create"})
    assert made.status == 303, await made.text()
    broadcast_id = int(made.headers["Location"].rsplit("/", 1)[1])

    # changed after the broadcast was made, before it is sent: the send reads it then
    changed = await site.client.post(f"/segments/{segment_id}", allow_redirects=False, data={
        "name": "Volunteers and California", "program": "rise",
        "where": "tag = volunteer or state = CA", "csrf_token": token})
    assert changed.status == 303, await changed.text()
    async with pool.acquire() as conn:
        await materialize(conn, broadcast_id)
        sent_to = {r["msisdn"] for r in await conn.fetch(
            "SELECT msisdn FROM outbound WHERE broadcast_id = $1", broadcast_id)}
        broadcast = await broadcast_store.get_broadcast(conn, broadcast_id)
        _, paged = await segment_service.recipients(
            conn, segment_id, rules=RULES, default_shortcode=CODE, now=NOW, limit=2)
    want = expected(set(TAGGED), {"CA"})
    assert want == {number(n) for n in ("new_york", "chicago", "paris", "los_angeles")}
    assert sent_to == want
    assert broadcast is not None and broadcast.segment_id == segment_id
    assert broadcast.filter == "tag = volunteer or state = CA"  # what it really went to
    assert broadcast.segment_name == "Volunteers and California"
    assert broadcast.segment_resolved_at is not None
    assert paged == sorted(want)[:2]  # the send API's seam pages the same people
    page = await (await site.client.get(f"/broadcasts/{broadcast_id}")).text()
    assert f'<a href="/segments/{segment_id}">Volunteers and California</a>' in page

    # resolved once: a later change does not rewrite what the broadcast recorded
    async with pool.acquire() as conn:
        assert not await broadcast_store.resolve_segment(conn, broadcast_id, now=NOW)


async def test_a_segment_is_refused_beside_its_field_and_kept_as_typed(site: WebApi) -> None:
    await site.staff("organizer")
    await site.login("organizer@example.org")
    token = form_token(await (await site.client.get("/segments")).text())
    refused = await site.client.post("/segments", data={
        "name": "Bad", "program": "rise", "where": "tag = ", "csrf_token": token})
    html = await refused.text()
    assert refused.status == 400
    assert '<p class="error" id="where-error">' in html
    assert 'value="Bad"' in html
    from_contacts = await site.client.post("/segments", data={
        "from": "contacts", "name": "No program", "search_zip": "100", "csrf_token": token})
    assert from_contacts.status == 400
    assert '<p class="error" id="program-error">' in await from_contacts.text()


async def test_the_contacts_search_saves_as_the_same_filter(site: WebApi,
                                                            pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await seed(conn)
        await tag_store.tag_numbers(conn, "door-knock", [number("new_york"), number("miami")])
    await site.staff("organizer")
    await site.login("organizer@example.org")
    page = await (await site.client.get("/contacts?program=rise&tag=door-knock")).text()
    assert number("new_york") in page and number("miami") in page
    assert number("chicago") not in page
    saved = await site.client.post("/segments", allow_redirects=False, data={
        "from": "contacts", "name": "Door knock NY", "search_program": "rise",
        "search_status": "subscribed", "search_zip": "100", "search_tag": "door-knock",
        "csrf_token": form_token(page)})
    assert saved.status == 303, await saved.text()
    async with pool.acquire() as conn:
        [segment] = await conn.fetch("SELECT program, filter FROM segments")
    assert (segment["program"], segment["filter"]) == ("rise",
                                                       "zip starts with 100 and tag = door-knock")


async def test_tags_by_hand_show_on_the_contact_and_come_off(site: WebApi,
                                                             pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await seed(conn)
    await site.staff("organizer")
    await site.login("organizer@example.org")
    msisdn = number("chicago")
    page = await (await site.client.get(f"/contacts/{msisdn}")).text()
    token = form_token(page)
    bad = await site.client.post(f"/contacts/{msisdn}/tags", data={
        "tag": "Not a tag!", "csrf_token": token})
    assert "is not a tag" in (await bad.text()).replace("&#39;", "'")
    added = await site.client.post(f"/contacts/{msisdn}/tags", data={
        "tag": " Phone-Bank ", "csrf_token": token})
    assert "phone-bank</a>" in await added.text()
    async with pool.acquire() as conn:
        [row] = await tag_store.tags_of(conn, msisdn)
        assert (row.tag, row.source, row.tagged_by) == ("phone-bank", "hand",
                                                        "organizer@example.org")
        assert await conn.fetchval(
            "SELECT count(*) FROM audit_log WHERE action = 'contact.tagged'") == 1
    removed = await site.client.post(f"/contacts/{msisdn}/tags/phone-bank/delete",
                                     data={"csrf_token": token})
    assert removed.status == 200
    async with pool.acquire() as conn:
        assert await tag_store.tags_of(conn, msisdn) == []


TAGGING_RULES = parse_rules(
    (Path(__file__).resolve().parents[1] / "keywords.yaml").read_text(encoding="utf-8").replace(
        "    action: dialog\n    dialog: volunteer\n",
        "    action: dialog\n    dialog: volunteer\n    tags: [volunteer, from-sms]\n", 1))


async def test_a_keywords_tag_lands_in_the_mos_own_transaction(pool: asyncpg.Pool) -> None:
    assert TAGGING_RULES.shortcodes[CODE].exact["VOLUNTEER"].tags == ("volunteer", "from-sms")
    writer = DecisionWriter(RulesHolder(TAGGING_RULES))
    ids = inbound_store.IdReserve("inbound_id_seq", block=1)
    mo = NewInbound("+12125550142", CODE, "volunteer", 0, 1, NOW)

    class Abandoned(Exception):
        pass

    with contextlib.suppress(Abandoned):
        async with pool.acquire() as conn, conn.transaction():
            [mo_id] = await ids.take(conn, 1)
            await inbound_store.insert_batch(conn, [mo], [mo_id])
            await writer.decide_and_write(conn, [(mo_id, mo)])
            assert len(await tag_store.tags_of(conn, mo.msisdn)) == 2  # seen inside it
            raise Abandoned
    async with pool.acquire() as conn:
        assert await tag_store.tags_of(conn, mo.msisdn) == []  # rolled back with the MO
        async with conn.transaction():
            [mo_id] = await ids.take(conn, 1)
            await inbound_store.insert_batch(conn, [mo], [mo_id])
            await writer.decide_and_write(conn, [(mo_id, mo)])
        tags = await tag_store.tags_of(conn, mo.msisdn)
        event = await conn.fetchval(
            "SELECT data->>'tags' FROM contact_events WHERE name = 'contact_tagged'")
    assert [(t.tag, t.source, t.tagged_by, t.tagged_at) for t in tags] == [
        ("from-sms", "keyword", "VOLUNTEER", NOW), ("volunteer", "keyword", "VOLUNTEER", NOW)]
    assert event == '["volunteer", "from-sms"]'


async def test_an_erasure_takes_the_numbers_tags(pool: asyncpg.Pool) -> None:
    from gateway.store import privacy as privacy_store
    steps = dict(privacy_store.ERASE_STEPS)
    async with pool.acquire() as conn:
        await tag_store.tag_numbers(conn, "volunteer", ["+12125550142", "+12125550143"])
        assert await steps["contact_tags"](conn, "+12125550142", "x") == 1
        assert [t.tag for t in await tag_store.tags_of(conn, "+12125550143")] == ["volunteer"]


async def test_the_broadcast_api_targets_a_segment_of_its_program_only(
        site: WebApi, pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await seed(conn)
        segment = await segment_store.insert(conn, name="Chicago", program="rise",
                                             filter="state = IL", by="organizer@example.org")
    staff = await site.staff("organizer")
    wrong = await site.client.post("/api/v1/broadcasts", headers=staff.bearer, json={
        "program": "ensemble", "segment_id": segment.id, "text": "Bonjour. STOP au 38200"})
    assert wrong.status == 400
    assert (await wrong.json())["error"]["field"] == "segment_id"
    made = await site.client.post("/api/v1/broadcasts", headers=staff.bearer, json={
        "program": "rise", "segment_id": segment.id, "text": TEXT})
    assert made.status == 201, await made.text()
    broadcast = (await made.json())["broadcast"]
    assert (broadcast["segment_id"], broadcast["segment_name"], broadcast["filter"]) == (
        segment.id, "Chicago", "state = IL")
    async with pool.acquire() as conn:
        await materialize(conn, broadcast["id"])
        sent_to = {r["msisdn"] for r in await conn.fetch(
            "SELECT msisdn FROM outbound WHERE broadcast_id = $1", broadcast["id"])}
    assert sent_to == expected(set(), {"IL"}) == {number("chicago")}
