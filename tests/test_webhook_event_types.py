"""Every event type, one by one: its event is written by the very transaction that records
its fact (a rollback takes both away, a commit keeps both), and it reaches a receiver on
loopback signed with the subscription's secret.

Each case commits what comes before the fact (`prepare`), then runs the fact twice through
the project's own code: once in a transaction rolled back, once committed.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import asyncpg
import pytest

from gateway.broadcast import results as broadcast_results
from gateway.config import Settings
from gateway.engine.holder import RulesHolder
from gateway.hooks.sender import DeliveryConfig, WebhookSender
from gateway.pipeline.decide import DecisionWriter
from gateway.services import export_jobs, exports
from gateway.store import broadcasts as broadcast_store
from gateway.store import calls as calls_store
from gateway.store import donations as donation_store
from gateway.store import exports as export_store
from gateway.store import inbound as inbound_store
from gateway.store import outbound as outbound_store
from gateway.store import questions as questions_store
from gateway.store import (
    voice_recordings,
    web_messages,
    webhook_events,
    webhook_subscriptions,
)
from gateway.store.calls import NewCall
from gateway.store.donations import NewDonation, NewDonationEvent
from gateway.store.inbound import NewInbound
from gateway.store.outbound import NewOutbound
from gateway.store.questions import NewVoiceQuestion, NewWrittenQuestion
from gateway.store.receipts import NewReceipt
from gateway.store.voice_recordings import RecordingCallback
from gateway.store.web_messages import NewWebMessage
from tests.support.clock import ManualClock
from tests.support.persons import citizen_mail, store_mail
from tests.support.questions import NOW, RULES
from tests.support.webhook_receiver import Receiver

NUMBER = "+33600000601"
US_NUMBER = "+12125550143"
SECRET = "whsec_" + "k" * 40
Context = dict[str, Any]
Step = Callable[[asyncpg.Connection, Context], Awaitable[None]]


@dataclass(frozen=True)
class Case:
    event_type: str
    fact: str  # SQL counting the fact's own rows
    act: Step  # records the fact, in the caller's transaction
    prepare: Step | None = None  # committed before
    shows: tuple[tuple[str, Any], ...] = ()  # some of the delivered `data`


async def text_in(conn: asyncpg.Connection, msisdn: str, shortcode: str, body: str,
                  minutes: int = 0) -> None:
    """An MO through the real pipeline writer, in the caller's transaction (as ingest)."""
    mo = NewInbound(msisdn, shortcode, body, 0, 1, NOW + timedelta(minutes=minutes))
    [mo_id] = await inbound_store.IdReserve("inbound_id_seq", block=1).take(conn, 1)
    await inbound_store.insert_batch(conn, [mo], [mo_id])
    await DecisionWriter(RulesHolder(RULES)).decide_and_write(conn, [(mo_id, mo)])


async def joined(conn: asyncpg.Connection, ctx: Context) -> None:
    await text_in(conn, US_NUMBER, "12345", "JOIN")
    await text_in(conn, US_NUMBER, "12345", "Y", 1)


async def asked_by_sms(conn: asyncpg.Connection, ctx: Context) -> None:
    await text_in(conn, NUMBER, "38200", "Quand rouvrira le lycée de ma ville ?")


async def form_posted(conn: asyncpg.Connection, ctx: Context) -> None:
    ctx["web"] = await web_messages.insert(conn, NewWebMessage(
        NOW, "ensemble", "fr", "education", "Et la cantine ?", "Léa", "lea@example.org",
        NUMBER, False, None, None, "nonce-1"))


async def asked_by_form(conn: asyncpg.Connection, ctx: Context) -> None:
    await questions_store.insert_written(conn, NewWrittenQuestion(
        channel="web", program="ensemble", theme="education", body="Et la cantine ?",
        via="form", language="fr", asked_at=NOW, sla_due=NOW + timedelta(days=1),
        email="lea@example.org", msisdn=NUMBER, shortcode="38200", web_message_id=ctx["web"]))


async def mailed(conn: asyncpg.Connection, ctx: Context) -> None:
    ctx["mail"] = await store_mail(conn, citizen_mail("lea@example.org", "Cantine",
                                                      "Et la cantine ?"),
                                   envelope_from="lea@example.org")


async def asked_by_mail(conn: asyncpg.Connection, ctx: Context) -> None:
    await questions_store.insert_written(conn, NewWrittenQuestion(
        channel="email", program="ensemble", theme="education", body="Et la cantine ?",
        via="mail", language="fr", asked_at=NOW, sla_due=NOW + timedelta(days=1),
        email="lea@example.org", mail_inbound_id=ctx["mail"]))


async def recorded(conn: asyncpg.Connection, ctx: Context) -> None:
    await calls_store.open_call(conn, NewCall("CA77", "ensemble", "38200", NUMBER, "fr", NOW))
    ctx["recording"] = await voice_recordings.record_callback(conn, RecordingCallback(
        "RE77", "CA77", "ensemble", "education", False, None, 20, True, NOW))


async def asked_by_voice(conn: asyncpg.Connection, ctx: Context) -> None:
    await questions_store.open_voice(conn, NewVoiceQuestion(
        ctx["recording"], "ensemble", "education", "(message vocal)", "keypad", "fr", NOW,
        NOW + timedelta(days=1), NUMBER, "38200"))


async def answered(conn: asyncpg.Connection, ctx: Context) -> None:
    question = await questions_store.lock_question(conn, ctx["question"])
    await outbound_store.insert_batch(conn, [
        NewOutbound(NUMBER, "38200", "En septembre.", 0, False, None, NOW)])
    answer_mt = int(await conn.fetchval("SELECT max(id) FROM outbound"))
    await questions_store.record_answer(conn, question, expert="expert@campaign.example",
                                        text="En septembre.", outbound_id=answer_mt, now=NOW)


async def question_waiting(conn: asyncpg.Connection, ctx: Context) -> None:
    await asked_by_sms(conn, ctx)
    ctx["question"] = int(await conn.fetchval("SELECT max(id) FROM questions"))


async def gift_requested(conn: asyncpg.Connection, ctx: Context) -> None:
    await text_in(conn, NUMBER, "38200", "BONJOUR")  # a donation's id is its MO's
    ctx["gift"] = gift = int(await conn.fetchval("SELECT max(id) FROM inbound"))
    await donation_store.insert_donations(conn, [NewDonation(
        gift, NUMBER, "38200", "ensemble", "ensemble", "card", 2500, "EUR", NOW,
        NOW + timedelta(hours=1))])
    await donation_store.insert_events(conn, [NewDonationEvent(gift, "requested", NOW, 2500,
                                                               "EUR")])


def gift_step(kind: str, amount: int | None = None, ref: str | None = None) -> Step:
    async def step(conn: asyncpg.Connection, ctx: Context) -> None:
        await donation_store.insert_events(conn, [NewDonationEvent(
            ctx["gift"], kind, NOW, amount, "EUR" if amount else None, external_ref=ref)])
    return step


async def gift_confirmed(conn: asyncpg.Connection, ctx: Context) -> None:
    await gift_requested(conn, ctx)
    await gift_step("confirmed")(conn, ctx)
    await gift_step("charge_requested")(conn, ctx)


async def gift_paid(conn: asyncpg.Connection, ctx: Context) -> None:
    await gift_confirmed(conn, ctx)
    await gift_step("charged", 2500, "pi_1")(conn, ctx)


async def submitted(conn: asyncpg.Connection, ctx: Context) -> None:
    await outbound_store.insert_batch(conn, [
        NewOutbound(NUMBER, "38200", "Bonjour", 0, False, None, NOW)])
    [claimed], _ = await outbound_store.claim(conn, limit=10, owner="t", lease_seconds=30)
    await outbound_store.mark_submitted(conn, [(claimed.id, ["M1"])])


def receipt(stat: str) -> Step:
    async def step(conn: asyncpg.Connection, ctx: Context) -> None:
        await outbound_store.record_receipts(conn, [NewReceipt("M1", stat, "000", True)])
    return step


async def call_opened(conn: asyncpg.Connection, ctx: Context) -> None:
    await calls_store.open_call(conn, NewCall("CA42", "ensemble", "38200", NUMBER, "fr", NOW))


async def call_ended(conn: asyncpg.Connection, ctx: Context) -> None:
    await calls_store.end_call(conn, "CA42", at=NOW + timedelta(seconds=42),
                               status="completed", duration_seconds=42)


@dataclass(frozen=True)
class _Warehouse:
    """Who asked for the export (services/actor.py's shape)."""

    user_id: int
    email: str = "warehouse@example.org"
    role: str = "finance"
    themes: tuple[str, ...] = ()


async def export_requested(conn: asyncpg.Connection, ctx: Context) -> None:
    ctx["user"] = await conn.fetchval(
        "INSERT INTO users (email, role) VALUES ('warehouse@example.org', 'finance')"
        " RETURNING id")
    ctx["export"] = await export_store.insert(
        conn, requested_by="warehouse@example.org", via="api", program="ensemble",
        segment_id=None, filter="", fields=["msisdn"], owner="gw-1")


async def export_completed(conn: asyncpg.Connection, ctx: Context) -> None:
    await export_jobs.complete(
        conn, ctx["settings"], _Warehouse(ctx["user"]), "test", ctx["export"],
        target=exports.Target("ensemble", "38200", None), fields=["msisdn"], rows=3,
        error=None, now=NOW)


async def broadcast_sent(conn: asyncpg.Connection, ctx: Context) -> None:
    """A running broadcast whose one text was delivered: nothing left to send."""
    broadcast_id = await conn.fetchval(
        "INSERT INTO broadcasts (program, shortcode, template, status, created_by,"
        " materialized_at) VALUES ('ensemble', '38200', 'Bonjour', 'running',"
        " 'o@example.org', now()) RETURNING id")
    await conn.execute(
        "INSERT INTO outbound (msisdn, shortcode, body, broadcast_id, status, submitted_at)"
        " VALUES ($1, '38200', 'Bonjour', $2, 'delivered', now())", NUMBER, broadcast_id)


async def broadcast_finished(conn: asyncpg.Connection, ctx: Context) -> None:
    """What the broadcast ticker does (broadcast/control.py), in the caller's transaction."""
    await broadcast_results.emit_completed(conn, await broadcast_store.finish_done(conn, NOW),
                                           at=NOW)


async def broadcast_done_a_day_ago(conn: asyncpg.Connection, ctx: Context) -> None:
    await broadcast_sent(conn, ctx)
    await broadcast_store.finish_done(conn, NOW - timedelta(hours=25))


async def broadcast_results_final(conn: asyncpg.Connection, ctx: Context) -> None:
    """The ticker's second step (broadcast/control.py), in the caller's transaction."""
    await broadcast_results.emit_final(conn, NOW)


CONSENT = "SELECT count(*) FROM consent_events WHERE kind = '{}'"
QUESTIONS = "SELECT count(*) FROM questions WHERE channel = '{}'"
GIFTS = "SELECT count(*) FROM donation_events WHERE kind = '{}'"
CASES = [
    Case("contact.opted_in", CONSENT.format("opt_in_confirmed"), joined),
    Case("contact.opted_out", CONSENT.format("opted_out"),
         lambda conn, ctx: text_in(conn, US_NUMBER, "12345", "STOP", 2), joined),
    Case("profile.answered", "SELECT count(*) FROM contacts WHERE state->'profile' ? 'zip'",
         lambda conn, ctx: text_in(conn, US_NUMBER, "12345", " 10001 ", 2), joined,
         (("msisdn", US_NUMBER), ("dialog", "profile"), ("field", "zip"), ("value", "10001"),
          ("derived", {"state": "NY", "timezone": "America/New_York"}))),
    Case("question.asked", QUESTIONS.format("sms"), asked_by_sms),
    Case("question.asked", QUESTIONS.format("web"), asked_by_form, form_posted),
    Case("question.asked", QUESTIONS.format("email"), asked_by_mail, mailed),
    Case("question.asked", QUESTIONS.format("voice"), asked_by_voice, recorded),
    Case("question.answered", "SELECT count(*) FROM answers", answered, question_waiting),
    Case("gift.confirmed", GIFTS.format("confirmed"), gift_step("confirmed"), gift_requested),
    Case("gift.paid", GIFTS.format("charged"), gift_step("charged", 2500, "pi_1"),
         gift_confirmed),
    Case("gift.failed", GIFTS.format("failed"), gift_step("failed", None, "pi_1"),
         gift_confirmed),
    Case("gift.refunded", GIFTS.format("refunded"), gift_step("refunded", 1000, "re_1"),
         gift_paid),
    Case("message.delivered", "SELECT count(*) FROM outbound WHERE status = 'delivered'",
         receipt("DELIVRD"), submitted),
    Case("message.failed", "SELECT count(*) FROM outbound WHERE status = 'undeliverable'",
         receipt("UNDELIV"), submitted),
    Case("call.started", "SELECT count(*) FROM calls", call_opened),
    Case("call.ended", "SELECT count(*) FROM calls WHERE ended_at IS NOT NULL", call_ended,
         call_opened),
    Case("broadcast.completed", "SELECT count(*) FROM broadcasts WHERE status = 'done'",
         broadcast_finished, broadcast_sent, (("sent", 1), ("delivered", 1))),
    Case("broadcast.results_final",
         "SELECT count(*) FROM broadcasts WHERE final_results_at IS NOT NULL",
         broadcast_results_final, broadcast_done_a_day_ago, (("sent", 1), ("delivered", 1))),
    Case("export.completed", "SELECT count(*) FROM contact_exports WHERE status = 'done'",
         export_completed, export_requested, (("rows", 3),)),
]


def test_every_event_type_has_a_case() -> None:
    assert {c.event_type for c in CASES} == set(webhook_events.EVENT_TYPES)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    made = await Receiver().start()
    try:
        yield made
    finally:
        await made.stop()


class _RolledBack(Exception):
    pass


async def _counts(conn: asyncpg.Connection, case: Case) -> tuple[int, int]:
    events = await conn.fetchval("SELECT count(*) FROM webhook_events WHERE event_type = $1",
                                 case.event_type)
    return int(await conn.fetchval(case.fact)), int(events)


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.event_type}:{c.fact[-24:]}")
async def test_the_event_goes_with_its_fact_and_arrives_signed(
        pool: asyncpg.Pool, receiver: Receiver, case: Case, settings: Settings) -> None:
    ctx: Context = {"settings": settings}
    async with pool.acquire() as conn:
        await webhook_subscriptions.insert(
            conn, url=receiver.url, description="", event_types=(case.event_type,),
            secret=SECRET, created_by=None)
        if case.prepare is not None:
            async with conn.transaction():
                await case.prepare(conn, ctx)
        before = await _counts(conn, case)
        with pytest.raises(_RolledBack):
            async with conn.transaction():
                await case.act(conn, ctx)
                inside = await _counts(conn, case)
                assert inside[0] > before[0] and inside[1] == before[1] + 1, inside
                raise _RolledBack
        assert await _counts(conn, case) == before  # neither the fact nor its event
        async with conn.transaction():
            await case.act(conn, ctx)
        assert await _counts(conn, case) == (inside[0], before[1] + 1)  # both

    clock = ManualClock()
    receiver.clock = clock.timestamp
    work = WebhookSender(pool, DeliveryConfig(owner="gw-1", timeout=5.0,
                                              allow_private_networks=True), clock=clock)
    try:
        await work.deliver_due()
    finally:
        await work.close()
    [got] = [r for r in receiver.accepted() if r.event["type"] == case.event_type][-1:]
    stamp, signed = (dict(p.split("=", 1) for p in got.headers["Webhook-Signature"].split(","))
                     [k] for k in ("t", "v1"))
    expected = hmac.new(SECRET.encode(), f"{stamp}.".encode() + got.body,
                        hashlib.sha256).hexdigest()
    assert hmac.compare_digest(signed, expected)
    assert int(stamp) == int(clock.timestamp())
    data = got.event["data"]
    assert "body" not in data and "text" not in data  # never a message's words
    assert [(key, data[key]) for key, _ in case.shows] == list(case.shows)
