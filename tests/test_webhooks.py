"""Outgoing webhooks end to end: events emitted by real MOs, delivered to a receiver on
127.0.0.1 by the delivery task, retried, signed, disabled after sustained failure.

The MOs go through the real pipeline writer (tests/support/questions.py
`Supporter`); time moves by the test's clock, never by sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from gateway.app import Gateway
from gateway.config import Settings
from gateway.engine.holder import RulesHolder
from gateway.hooks.notice import DisabledNotice
from gateway.hooks.sender import DeliveryConfig, WebhookSender
from gateway.hooks.signature import new_secret
from gateway.notify.staff_mail import StaffMail
from gateway.pipeline.decide import DecisionWriter
from gateway.services import webhooks as webhook_service
from gateway.smpp.simulator import SmscSimulator
from gateway.store import inbound as inbound_store
from gateway.store import users as user_store
from gateway.store import webhook_subscriptions
from gateway.store.inbound import NewInbound
from gateway.store.users import User
from tests.support.clock import ManualClock
from tests.support.questions import NOW, RULES, Supporter, text_fr
from tests.support.webhook_receiver import Receiver, closed_port_url, rounds_until, verify

TYPES = ["contact.opted_in", "contact.opted_out"]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The receiver is on 127.0.0.1: the running gateway's network guard must let it."""
    return settings.model_copy(update={"webhooks_allow_private_networks": True})


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    made = await Receiver().start()
    try:
        yield made
    finally:
        await made.stop()


@pytest.fixture
async def admin(pool: asyncpg.Pool) -> User:
    async with pool.acquire() as conn:
        return await user_store.insert_user(conn, email="admin@campaign.example", role="admin",
                                            themes=(), password_hash=None)


async def subscribe(pool: asyncpg.Pool, admin: User, url: str,
                    types: list[str] = TYPES) -> tuple[int, str]:
    async with pool.acquire() as conn:
        subscription, secret = await webhook_service.create(
            conn, _Actor(admin), "test", url=url, event_types=types, description="CRM",
            allow_loopback_http=True)
    return subscription.id, secret


class _Actor:
    def __init__(self, user: User) -> None:
        self.user_id, self.email = user.id, user.email


_MADE: list[WebhookSender] = []


@pytest.fixture(autouse=True)
async def _close_senders() -> AsyncIterator[None]:
    yield
    while _MADE:
        await _MADE.pop().close()


def sender(pool: asyncpg.Pool, clock: ManualClock, owner: str = "gw-1",
           **options: float) -> WebhookSender:
    """A delivery task as `gateway run` makes one, on the test's clock (closed after it)."""
    chosen: dict[str, Any] = {"timeout": 5.0, "retry_min": 10.0, "retry_max": 60.0,
                              "max_attempts": 10, "disable_after_failures": 1000,
                              # the receiver is on 127.0.0.1: the network guard must let it
                              "allow_private_networks": True} | options
    config = DeliveryConfig(owner=owner, **chosen)
    notice = DisabledNotice(StaffMail("gateway@campaign.example", "Gateway",
                                      lambda path: "https://gw.campaign.example" + path))
    made = WebhookSender(pool, config, notice=notice, clock=clock)
    _MADE.append(made)
    return made


async def test_a_receiver_failing_three_times_gets_each_event_once_signed(
        pool: asyncpg.Pool, admin: User, receiver: Receiver) -> None:
    receiver.fail_first = 3
    _, secret = await subscribe(pool, admin, receiver.url)
    supporter = Supporter(pool, "+33600000201")
    await supporter.text("ADHERER")
    await supporter.text("STOP")
    clock = ManualClock()
    receiver.clock = clock.timestamp
    work = sender(pool, clock)

    await rounds_until(work, clock, lambda: len(receiver.accepted()) == 2)

    for _ in range(3):  # nothing more comes
        clock.advance(3600)
        await work.deliver_due()
    accepted = receiver.accepted()
    assert sorted(r.event["type"] for r in accepted) == TYPES
    assert len({r.headers["Webhook-Id"] for r in accepted}) == 2  # each event once
    assert len(receiver.received) == 2 + 3
    for got in receiver.received:
        stamped = verify(secret, got.headers["Webhook-Signature"], got.body, now=got.at)
        assert str(stamped) == got.headers["Webhook-Timestamp"]
        assert got.event["id"] == got.headers["Webhook-Id"]
        assert got.event["data"]["msisdn"] == "+33600000201"
    first = accepted[0]
    with pytest.raises(ValueError, match="bad signature"):
        verify(secret, first.headers["Webhook-Signature"],
               first.body.replace(b"opted", b"OPTED"), now=first.at)
    with pytest.raises(ValueError, match="too old"):  # the same request, replayed later
        verify(secret, first.headers["Webhook-Signature"], first.body, now=first.at + 301)


async def test_the_delivery_log_keeps_the_receivers_last_answers(
        pool: asyncpg.Pool, admin: User, receiver: Receiver) -> None:
    receiver.fail_first = 1
    subscription_id, _ = await subscribe(pool, admin, receiver.url, ["contact.opted_in"])
    await Supporter(pool, "+33600000202").text("ADHERER")
    clock = ManualClock()
    work = sender(pool, clock)
    await work.deliver_due()
    async with pool.acquire() as conn:
        [failed] = await webhook_service.deliveries(conn, subscription_id, status=None,
                                                    limit=10)
    assert (failed["status"], failed["attempts"], failed["last_status_code"],
            failed["last_response"]) == ("pending", 1, 500, "not now")
    await rounds_until(work, clock, lambda: len(receiver.accepted()) == 1)
    async with pool.acquire() as conn:
        [done] = await webhook_service.deliveries(conn, subscription_id, status="delivered",
                                                  limit=10)
        assert (done["attempts"], done["last_status_code"], done["last_response"]) == (
            2, 200, "ok")
        await webhook_service.replay(conn, _Actor(admin), "test", subscription_id, done["id"],
                                     now=clock())
    await work.deliver_due()
    again = receiver.accepted()
    assert len(again) == 2 and again[0].headers["Webhook-Id"] == again[1].headers["Webhook-Id"]


async def test_a_receiver_down_throughout_is_disabled_and_admins_are_told(
        pool: asyncpg.Pool, admin: User) -> None:
    subscription_id, _ = await subscribe(pool, admin, closed_port_url())
    await Supporter(pool, "+33600000203").text("ADHERER")
    clock = ManualClock()
    work = sender(pool, clock, disable_after_failures=3, disable_after_seconds=3600.0)

    async def enabled() -> bool:
        async with pool.acquire() as conn:
            return (await webhook_service.get(conn, subscription_id)).enabled

    for _ in range(3):  # three failures within the hour: not yet
        await work.deliver_due()
        clock.advance(600)
    assert await enabled()
    for _ in range(20):
        await work.deliver_due()
        if not await enabled():
            break
        clock.advance(600)
    assert not await enabled()
    async with pool.acquire() as conn:
        mails = await conn.fetch("SELECT to_address, subject, purpose FROM mail_outbox")
        audit = await conn.fetch("SELECT actor, action, target FROM audit_log "
                                 "WHERE action = 'webhook.disabled'")
        shown = await webhook_service.get(conn, subscription_id)
    assert [(m["to_address"], m["purpose"]) for m in mails] == [
        ("admin@campaign.example", "notification")]
    assert f"Webhook {subscription_id} was turned off" in mails[0]["subject"]
    assert [(a["actor"], a["target"]) for a in audit] == [
        ("gateway", f"webhook:{subscription_id}")]
    assert shown.consecutive_failures >= 3 and shown.disabled_reason is not None
    clock.advance(3600)
    assert await work.deliver_due() == 0  # a disabled subscription is sent nothing


async def test_a_rollback_emits_nothing_and_a_commit_emits_once(
        pool: asyncpg.Pool, admin: User, receiver: Receiver) -> None:
    await subscribe(pool, admin, receiver.url)
    writer = DecisionWriter(RulesHolder(RULES))
    ids = inbound_store.IdReserve("inbound_id_seq", block=1)
    mo = NewInbound("+33600000204", "38200", "ADHERER", 0, 1, NOW)

    class Abandoned(Exception):
        pass

    with contextlib.suppress(Abandoned):
        async with pool.acquire() as conn, conn.transaction():
            [mo_id] = await ids.take(conn, 1)
            await inbound_store.insert_batch(conn, [mo], [mo_id])
            await writer.decide_and_write(conn, [(mo_id, mo)])
            assert await conn.fetchval("SELECT count(*) FROM webhook_events") == 1
            raise Abandoned
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM webhook_events") == 0
    await Supporter(pool, "+33600000204").text("ADHERER")
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM webhook_events") == 1


async def test_nobody_listening_emits_nothing(pool: asyncpg.Pool, admin: User,
                                              receiver: Receiver) -> None:
    await subscribe(pool, admin, receiver.url, ["gift.confirmed"])
    await Supporter(pool, "+33600000205").text("ADHERER")
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM webhook_events") == 0


async def test_two_workers_on_one_database_deliver_each_event_once(
        pool: asyncpg.Pool, admin: User, receiver: Receiver) -> None:
    await subscribe(pool, admin, receiver.url)
    for n in range(12):
        await Supporter(pool, f"+336000003{n:02d}").text("ADHERER")
    clock = ManualClock()
    first = sender(pool, clock, owner="gw-1", batch_size=3)
    second = sender(pool, clock, owner="gw-2", batch_size=3)
    for _ in range(20):
        await asyncio.gather(first.deliver_due(), second.deliver_due())
        if len(receiver.received) >= 12:
            break
    await asyncio.gather(first.deliver_due(), second.deliver_due())
    ids = [r.headers["Webhook-Id"] for r in receiver.received]
    assert len(ids) == 12 and len(set(ids)) == 12


async def test_an_mo_commits_while_the_receiver_hangs(
        pool: asyncpg.Pool, admin: User, receiver: Receiver) -> None:
    receiver.hang = True
    await subscribe(pool, admin, receiver.url)
    await Supporter(pool, "+33600000206").text("ADHERER")
    work = sender(pool, ManualClock(), timeout=60.0)
    task = asyncio.create_task(work.run())
    try:
        async with asyncio.timeout(10):
            await receiver.arrived.wait()  # the POST is open and unanswered
        replies = await Supporter(pool, "+33600000207").text("ADHERER")
        assert replies  # decided, answered, committed
        async with pool.acquire() as conn:
            states = await conn.fetch("SELECT status FROM webhook_deliveries")
            events = await conn.fetchval("SELECT count(*) FROM webhook_events")
        assert [s["status"] for s in states] == ["sending"]  # the first POST still hangs
        assert events == 2  # the second MO's event committed with it, behind the POST
        assert receiver.received[0].answered == 0
    finally:
        receiver.release.set()
        await work.stop()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task



async def test_gateway_run_delivers_an_mo_over_smpp_to_the_receiver(
        gateway: Gateway, smsc: SmscSimulator, receiver: Receiver) -> None:
    """The running gateway's `webhooks` task: an opt-in texted over SMPP reaches the CRM."""
    async with gateway.pool.acquire() as conn:
        await webhook_subscriptions.insert(
            conn, url=receiver.url, description="CRM", event_types=("contact.opted_in",),
            secret=new_secret(), created_by=None)
    assert gateway.supervisor.status()["webhooks"] == "running"
    await text_fr(smsc, "+33600000208", "ADHERER", expect=1)
    async with asyncio.timeout(15):
        while not receiver.accepted():  # noqa: ASYNC110 - delivered by the gateway's own task
            await asyncio.sleep(0.05)
    [got] = receiver.accepted()
    assert (got.event["type"], got.event["data"]["msisdn"]) == (
        "contact.opted_in", "+33600000208")
