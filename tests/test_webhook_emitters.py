"""Each change a receiver can subscribe to emits its event, once, through its owner's store
function: receipts, gifts, questions asked and answered, calls, erasure taking them away."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from gateway.store import calls as calls_store
from gateway.store import donations as donation_store
from gateway.store import outbound as outbound_store
from gateway.store import privacy as privacy_store
from gateway.store import questions as questions_store
from gateway.store import webhook_events, webhook_subscriptions
from gateway.store.calls import NewCall
from gateway.store.donations import NewDonation, NewDonationEvent
from gateway.store.outbound import NewOutbound
from gateway.store.receipts import NewReceipt
from tests.support.questions import Supporter, asked

NUMBER = "+33600000401"


@pytest.fixture(autouse=True)
async def listening(pool: asyncpg.Pool) -> None:
    """One subscription to every event type: nothing is emitted for nobody."""
    async with pool.acquire() as conn:
        await webhook_subscriptions.insert(
            conn, url="https://crm.example.org/hooks", description="", secret="s" * 40,
            event_types=webhook_events.EVENT_TYPES, created_by=None)


async def emitted(pool: asyncpg.Pool) -> list[tuple[str, dict[str, Any]]]:
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT event_type, payload FROM webhook_events ORDER BY id")
    return [(r["event_type"], json.loads(r["payload"])) for r in rows]


async def test_receipts_emit_delivered_and_failed(pool: asyncpg.Pool) -> None:
    now = datetime.now(UTC)
    async with pool.acquire() as conn:
        await outbound_store.insert_batch(conn, [
            NewOutbound(NUMBER, "38200", "one", 0, False, None, now),
            NewOutbound("+33600000402", "38200", "two", 0, False, None, now)])
        claimed, _ = await outbound_store.claim(conn, limit=10, owner="t", lease_seconds=30)
        first, second = sorted(m.id for m in claimed)
        await outbound_store.mark_submitted(conn, [(first, ["A1"]), (second, ["B1"])])
        await outbound_store.record_receipts(conn, [NewReceipt("A1", "ENROUTE", "000", False)])
        await outbound_store.record_receipts(conn, [NewReceipt("A1", "DELIVRD", "000", True),
                                                    NewReceipt("B1", "UNDELIV", "034", True)])
    events = await emitted(pool)
    assert [(t, p["message_id"], p["status"]) for t, p in events] == [
        ("message.delivered", first, "delivered"), ("message.failed", second, "undeliverable")]


async def test_gift_events_follow_the_ledger(pool: asyncpg.Pool) -> None:
    now = datetime.now(UTC)
    await Supporter(pool, NUMBER).text("DON")  # a donation's id is its MO's
    async with pool.acquire() as conn, conn.transaction():
        gift = int(await conn.fetchval("SELECT max(id) FROM inbound"))
        await conn.execute("DELETE FROM webhook_events")  # what the DON itself emitted
        await donation_store.insert_donations(conn, [NewDonation(
            gift, NUMBER, "38200", "ensemble", "ensemble", "card", 2500, "EUR", now,
            now + timedelta(hours=1))])
        recorded = await donation_store.insert_events(conn, [
            NewDonationEvent(gift, "requested", now, 2500, "EUR"),
            NewDonationEvent(gift, "confirmed", now),
            NewDonationEvent(gift, "confirmed", now),  # a repeat: dropped, emits nothing
        ])
    assert [e.kind for e in recorded] == ["requested", "confirmed"]
    [(kind, payload)] = await emitted(pool)
    assert kind == "gift.confirmed"
    assert (payload["gift_id"], payload["amount_cents"], payload["currency"],
            payload["msisdn"]) == (gift, 2500, "EUR", NUMBER)


async def test_questions_asked_and_answered(pool: asyncpg.Pool) -> None:
    question_id = await asked(pool, NUMBER, "Quand rouvrira le lycée de ma ville ?")
    now = datetime.now(UTC)
    async with pool.acquire() as conn, conn.transaction():
        row = await questions_store.lock_question(conn, question_id)
        assert row is not None
        await outbound_store.insert_batch(conn, [
            NewOutbound(NUMBER, "38200", "En septembre.", 0, False, None, now)])
        answer_mt = int(await conn.fetchval("SELECT max(id) FROM outbound"))
        await questions_store.record_answer(conn, row, expert="expert@campaign.example",
                                            text="En septembre.", outbound_id=answer_mt,
                                            now=now)
    kinds = [(t, p["question_id"]) for t, p in await emitted(pool)
             if t.startswith("question.")]
    assert kinds == [("question.asked", question_id), ("question.answered", question_id)]
    assert all("body" not in p for _, p in await emitted(pool))  # never the citizen's words


async def test_a_call_starts_once_and_ends(pool: asyncpg.Pool) -> None:
    now = datetime.now(UTC)
    call = NewCall("CA123", "ensemble", "38200", NUMBER, "fr", now)
    async with pool.acquire() as conn:
        await calls_store.open_call(conn, call)
        await calls_store.open_call(conn, call)  # the call's next request: no new event
        await calls_store.end_call(conn, "CA123", at=now + timedelta(seconds=42),
                                   status="completed", duration_seconds=42)
    events = await emitted(pool)
    assert [(t, p["call_sid"]) for t, p in events] == [
        ("call.started", "CA123"), ("call.ended", "CA123")]
    assert events[1][1]["duration_seconds"] == 42


async def test_erasure_takes_a_numbers_events_away(pool: asyncpg.Pool) -> None:
    now = datetime.now(UTC)
    async with pool.acquire() as conn:
        await calls_store.open_call(conn, NewCall("CA9", "ensemble", "38200", NUMBER, "fr", now))
        await calls_store.open_call(conn, NewCall("CA8", "ensemble", "38200", "+33600000499",
                                                  "fr", now))
        steps = dict(privacy_store.ERASE_STEPS)
        async with conn.transaction():
            assert await steps["webhook_events"](conn, NUMBER, "pseudonym") == 1
    assert [p["msisdn"] for _, p in await emitted(pool)] == ["+33600000499"]
