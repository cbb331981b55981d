"""The send API: idempotency (also with two gateways racing), suppression with its reason,
the batch limit, bad numbers, and, end to end over SMPP, a delivery receipt seen by GET and
by a webhook receiver.

The requests go to the real web app on a socket; the sends go through the real
gateway (broadcast tick, outbox, sender) to the SMSC simulator, which answers with
receipts. Contacts are seeded in a zone where it is early afternoon, so quiet hours
never hold the test's messages back.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from gateway.app import Gateway
from gateway.config import Settings
from gateway.smpp.simulator import SmscSimulator
from gateway.store.db import create_pool
from tests.support import broadcasts
from tests.support.broadcasts import afternoon_zone
from tests.support.clock import ManualClock
from tests.support.e2e import SHORTCODE, gateway_settings, running_gateway, stop_gateway, wait_for
from tests.support.webapi import WebApi, assert_error_shape, start_web_api
from tests.support.webhook_receiver import Receiver

SUBSCRIBED = ["+12125550101", "+12125550102"]
OPTED_OUT = "+12125550199"
STRANGER = "+12125550150"  # a contact, not subscribed to the program
TEXT = "Rise Up rallies Saturday at noon."


async def seed(conn: asyncpg.Connection) -> None:
    zone = afternoon_zone(datetime.now(UTC))
    subscribed = json.dumps({"v": 1, "subs": {"rise": {"status": "subscribed"}}, "profile": {}})
    opted_out = json.dumps({"v": 1, "subs": {"rise": {"status": "opted_out"}}, "profile": {}})
    other = json.dumps({"v": 1, "subs": {}, "profile": {}})
    await conn.executemany(
        """INSERT INTO contacts (msisdn, shortcode, opted_out, state, zip, region, country,
                                 timezones, geo_source)
           VALUES ($1, $2, $3, $4::jsonb, '10001', 'NY', 'US', $5, 'zip')""",
        [(m, SHORTCODE, False, subscribed, [zone]) for m in SUBSCRIBED]
        + [(OPTED_OUT, SHORTCODE, True, opted_out, [zone]),
           (STRANGER, SHORTCODE, False, other, [zone])])


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime.now(UTC))


@pytest.fixture
async def gateway(settings: Settings, smsc: SmscSimulator) -> AsyncIterator[Gateway]:
    """The conftest's gateway, whose webhook deliveries may reach the loopback receiver."""
    gw = await running_gateway(
        gateway_settings(settings, smsc, webhooks_allow_private_networks=True), smsc)
    try:
        yield gw
    finally:
        await stop_gateway(gw)


@pytest.fixture
async def api(pool: asyncpg.Pool, settings: Settings, clock: ManualClock
              ) -> AsyncIterator[WebApi]:
    web = await start_web_api(pool, settings, clock=clock, send_api_batch_limit=5,
                              webhooks_allow_loopback_http=True,
                              webhooks_allow_private_networks=True)
    async with pool.acquire() as conn:
        await seed(conn)
    try:
        yield web
    finally:
        await web.client.close()


def message(to: str, text: str = TEXT) -> dict[str, Any]:
    return {"program": "rise", "to": to, "text": text}


async def post(web: WebApi, headers: dict[str, str], body: dict[str, Any],
               key: str | None = None) -> tuple[int, dict[str, Any], dict[str, str]]:
    sent = {**headers, **({"Idempotency-Key": key} if key else {})}
    response = await web.client.post("/api/v1/messages", json=body, headers=sent)
    return response.status, await response.json(), dict(response.headers)


async def counts(pool: asyncpg.Pool) -> tuple[int, int, int]:
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT (SELECT count(*) FROM api_send_batches) AS batches,"
            " (SELECT count(*) FROM api_messages) AS messages,"
            " (SELECT count(*) FROM broadcasts) AS broadcasts")
    assert row is not None
    return row["batches"], row["messages"], row["broadcasts"]


async def test_the_same_key_twice_makes_one_message_and_answers_the_same(
        api: WebApi, pool: asyncpg.Pool) -> None:
    staff = await api.staff("organizer")
    status, first, _ = await post(api, staff.bearer, message(SUBSCRIBED[0]), key="k-1")
    assert status == 201, first
    assert first["messages"][0]["status"] == "accepted"
    # the same body with its keys in another order is the same request
    reordered = {"text": TEXT, "to": SUBSCRIBED[0], "program": "rise"}
    status, again, headers = await post(api, staff.bearer, reordered, key="k-1")
    assert status == 201
    assert again == first
    assert headers.get("Idempotent-Replayed") == "true"
    assert await counts(pool) == (1, 1, 1)
    listed = await api.client.get("/api/v1/messages", params={"idempotency_key": "k-1"},
                                  headers=staff.bearer)
    assert [m["id"] for m in (await listed.json())["messages"]] == \
        [first["messages"][0]["id"]]


async def test_the_same_key_with_another_body_is_a_422(api: WebApi, pool: asyncpg.Pool) -> None:
    staff = await api.staff("organizer")
    status, _, _ = await post(api, staff.bearer, message(SUBSCRIBED[0]), key="k-2")
    assert status == 201
    status, body, _ = await post(api, staff.bearer, message(SUBSCRIBED[1]), key="k-2")
    assert status == 422
    error = assert_error_shape(body)
    assert error["code"] == "idempotency_key_reused"
    assert await counts(pool) == (1, 1, 1)


async def test_a_key_is_remembered_24_hours(api: WebApi, pool: asyncpg.Pool,
                                            clock: ManualClock) -> None:
    staff = await api.staff("organizer")
    status, first, _ = await post(api, staff.bearer, message(SUBSCRIBED[0]), key="k-3")
    clock.now += timedelta(hours=23, minutes=59)
    status, again, _ = await post(api, staff.bearer, message(SUBSCRIBED[0]), key="k-3")
    assert again == first
    clock.now += timedelta(minutes=2)
    status, later, _ = await post(api, staff.bearer, message(SUBSCRIBED[0]), key="k-3")
    assert status == 201 and later["batch_id"] != first["batch_id"]
    assert (await counts(pool))[0] == 2


async def test_two_gateways_racing_on_one_key_make_one_batch(
        api: WebApi, pool: asyncpg.Pool, db_url: str, settings: Settings,
        clock: ManualClock) -> None:
    staff = await api.staff("organizer")
    other_pool = await create_pool(db_url, min_size=1, max_size=4)
    other = await start_web_api(other_pool, settings, clock=clock)
    try:
        body = {"messages": [message(n) for n in SUBSCRIBED]}
        answers = await asyncio.gather(*(post(web, staff.bearer, body, key="race")
                                         for web in (api, other, api, other)))
    finally:
        await other.client.close()
        await other_pool.close()
    assert {status for status, _, _ in answers} == {201}
    assert len({json.dumps(body, sort_keys=True) for _, body, _ in answers}) == 1
    assert sum(1 for _, _, h in answers if h.get("Idempotent-Replayed") == "true") == 3
    assert await counts(pool) == (1, 2, 1)


async def test_an_opted_out_number_is_suppressed_with_its_reason(api: WebApi) -> None:
    staff = await api.staff("organizer")
    body = {"messages": [message(OPTED_OUT), message(STRANGER), message(SUBSCRIBED[0])]}
    status, answer, _ = await post(api, staff.bearer, body)
    assert status == 201, answer
    shown = [(m["index"], m["status"], m["reason"]) for m in answer["messages"]]
    assert shown == [(0, "suppressed", "opted_out"), (1, "suppressed", "not_subscribed"),
                     (2, "accepted", None)]
    got = await api.client.get(f"/api/v1/messages/{answer['messages'][0]['id']}",
                               headers=staff.bearer)
    state = await got.json()
    assert (state["status"], state["reason"], state["to"]) == ("suppressed", "opted_out",
                                                               OPTED_OUT)
    assert state["outbox_id"] is None and state["broadcast_id"] is None


async def test_a_number_at_its_promised_frequency_is_named_and_the_others_sent(
        api: WebApi, pool: asyncpg.Pool) -> None:
    """rise promises 6 messages a month: the first number already had 6 (queued counts),
    so the batch refuses it by name and reason, and sends to the second one."""
    staff = await api.staff("organizer")
    for n in range(6):
        status, earlier, _ = await post(api, staff.bearer,
                                        message(SUBSCRIBED[0], f"{TEXT} ({n + 1})"))
        assert status == 201, earlier
        async with pool.acquire() as conn:
            made = await broadcasts.materialize(conn, earlier["messages"][0]["broadcast_id"])
        assert made.recipients == 1
    body = {"messages": [message(SUBSCRIBED[0]), message(SUBSCRIBED[1]), message(OPTED_OUT)]}
    status, answer, _ = await post(api, staff.bearer, body)
    assert status == 201, answer
    shown = [(m["index"], m["status"], m["reason"]) for m in answer["messages"]]
    assert shown == [(0, "suppressed", "frequency_limit"), (1, "accepted", None),
                     (2, "suppressed", "opted_out")]
    assert answer["messages"][0]["broadcast_id"] is None
    got = await api.client.get(f"/api/v1/messages/{answer['messages'][0]['id']}",
                               headers=staff.bearer)
    state = await got.json()
    assert (state["status"], state["reason"], state["to"]) == (
        "suppressed", "frequency_limit", SUBSCRIBED[0])
    async with pool.acquire() as conn:
        sent_to = await conn.fetchval("SELECT filter FROM broadcasts WHERE id = $1",
                                      answer["messages"][1]["broadcast_id"])
    assert SUBSCRIBED[1] in sent_to and SUBSCRIBED[0] not in sent_to


async def test_a_batch_over_the_limit_is_refused_naming_the_limit(
        api: WebApi, pool: asyncpg.Pool) -> None:
    staff = await api.staff("organizer")
    body = {"messages": [message(SUBSCRIBED[0])] * 6}
    status, answer, _ = await post(api, staff.bearer, body)
    assert status == 400
    error = assert_error_shape(answer)
    assert error["code"] == "batch_too_large" and "at most 5" in error["message"]
    assert await counts(pool) == (0, 0, 0)


async def test_a_bad_number_is_refused_naming_its_index_and_the_number_masked(
        api: WebApi, pool: asyncpg.Pool) -> None:
    staff = await api.staff("organizer")
    body = {"messages": [message(SUBSCRIBED[0]), message("+1 202 555 01239876")]}
    status, answer, _ = await post(api, staff.bearer, body, key="bad")
    assert status == 400
    error = assert_error_shape(answer)
    assert error["field"] == "messages.1.to"
    assert "message 1" in error["message"] and "9876" in error["message"]
    assert "202 555" not in error["message"]
    assert await counts(pool) == (0, 0, 0)
    # a refused request is not remembered: fixed, the same key goes through
    body["messages"][1] = message(SUBSCRIBED[1])
    status, _, _ = await post(api, staff.bearer, body, key="bad")
    assert status == 201


async def test_a_segment_send_is_a_broadcast_of_the_programs_subscribers(
        api: WebApi, pool: asyncpg.Pool) -> None:
    staff = await api.staff("organizer")
    status, answer, _ = await post(api, staff.bearer,
                                   {"program": "rise", "segment": "state = NY", "text": TEXT})
    assert status == 201, answer
    sent = answer["messages"][0]
    async with pool.acquire() as conn:
        row = await conn.fetchrow("SELECT filter, status FROM broadcasts WHERE id = $1",
                                  sent["broadcast_id"])
    assert row is not None and (row["filter"], row["status"]) == ("state = NY", "running")
    got = await (await api.client.get(f"/api/v1/messages/{sent['id']}",
                                      headers=staff.bearer)).json()
    assert got["segment"] == "state = NY" and got["status"] == "running"


async def test_a_sent_message_and_its_receipt_show_delivered_in_get_and_a_webhook(
        api: WebApi, pool: asyncpg.Pool, gateway: Gateway, smsc: SmscSimulator) -> None:
    admin = await api.staff("admin")
    receiver = await Receiver().start()
    try:
        hook = await api.client.post(
            "/api/v1/webhooks", headers=admin.bearer,
            json={"url": receiver.url, "event_types": ["message.delivered", "message.failed"]})
        assert hook.status == 201, await hook.text()
        status, answer, _ = await post(api, admin.bearer,
                                       {"messages": [message(SUBSCRIBED[0]),
                                                     message(OPTED_OUT)]}, key="e2e")
        assert status == 201, answer
        sent_id = answer["messages"][0]["id"]

        async def delivered() -> bool:
            got = await api.client.get(f"/api/v1/messages/{sent_id}", headers=admin.bearer)
            state: dict[str, Any] = await got.json()
            return bool(state["status"] == "delivered")

        await wait_for(delivered, within=30)
        got = await (await api.client.get(f"/api/v1/messages/{sent_id}",
                                          headers=admin.bearer)).json()
        assert got["receipt"] == "DELIVRD" and got["reason"] is None
        assert [p["receipt"] for p in got["parts"]] == ["DELIVRD"]

        async def hooked() -> bool:
            return any(r.event.get("type") == "message.delivered" for r in receiver.accepted())

        await wait_for(hooked, within=30)
        events = [r.event for r in receiver.accepted()]
        delivered_events = [e for e in events if e["type"] == "message.delivered"]
        assert len(delivered_events) == 1
        assert delivered_events[0]["data"]["api_message_ids"] == [sent_id]
        assert delivered_events[0]["data"]["message_id"] == got["outbox_id"]
        assert [r.destination for r in smsc.submitted] == [SUBSCRIBED[0].lstrip("+")]
    finally:
        await receiver.stop()


async def test_a_message_accepted_at_night_waits_for_the_recipients_morning(
        pool: asyncpg.Pool, settings: Settings) -> None:
    """The broadcast path's quiet hours apply: 02:30 in Paris, sent from 08:00 Paris."""
    async with pool.acquire() as conn:
        await broadcasts.seed(conn)
    web = await start_web_api(pool, settings, clock=ManualClock(broadcasts.NOW))
    try:
        staff = await web.staff("organizer")
        paris = broadcasts.PEOPLE["paris"][0]
        status, answer, _ = await post(web, staff.bearer, message(paris))
        assert status == 201, answer
        sent = answer["messages"][0]
        async with pool.acquire() as conn:
            await broadcasts.materialize(conn, sent["broadcast_id"])
            not_before = await conn.fetchval(
                "SELECT not_before FROM outbound WHERE broadcast_id = $1", sent["broadcast_id"])
        assert not_before == broadcasts.utc(2024, 7, 1, 6, 0)
        got = await (await web.client.get(f"/api/v1/messages/{sent['id']}",
                                          headers=staff.bearer)).json()
        assert (got["status"], got["receipt"], got["parts"]) == ("queued", None, [])
    finally:
        await web.client.close()
