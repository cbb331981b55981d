"""A sender that dies, or loses its connection, mid-send: nothing queued is lost, and a
mail goes twice only when its DATA had begun (docs/email.md, "What a crash does").

"Dies" is its task cancelled at a chosen step (its connection dropped without
a word, nothing recorded), as a killed process leaves things; the provider is a
real SMTP server on loopback that can withhold an answer or hang up.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import pytest

from gateway.mail.sender import MailSender
from gateway.metrics import Metrics
from tests.support.clock import ManualClock
from tests.support.e2e import wait_for
from tests.support.mail_out import queue, row, sender
from tests.support.smtp_provider import Provider

LATER = timedelta(hours=3)


@pytest.fixture
async def provider() -> AsyncIterator[Provider]:
    server = await Provider().start()
    try:
        yield server
    finally:
        await server.stop()


async def kill_when_withheld(mail: MailSender, provider: Provider) -> None:
    """Run the sender until the provider withholds an answer, then kill it there."""
    task = asyncio.create_task(mail.run())
    try:
        async with asyncio.timeout(10):
            await provider.hanging.wait()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    provider.release()


async def test_killed_after_the_data_was_sent_it_is_sent_again_with_the_same_message_id(
        pool: asyncpg.Pool, provider: Provider) -> None:
    first, second = await queue(pool, to="a@example.org"), await queue(pool, to="b@example.org")
    provider.script.hang_after_data = True  # stored, and the 250 never comes
    await kill_when_withheld(sender(pool, provider), provider)
    left = await row(pool, first)
    assert left["status"] == "sending" and left["data_at"] is not None
    assert (await row(pool, second))["data_at"] is None  # never reached
    metrics = Metrics()
    restarted = sender(pool, provider, metrics=metrics)  # same owner: its leases are released
    task = asyncio.create_task(restarted.run())
    try:
        await provider.wait_for(3)
        await asyncio.sleep(0.1)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    again = await row(pool, first)
    assert again["status"] == "sent" and again["unsure_sends"] == 1 and again["attempts"] == 2
    assert "sent again with the same Message-ID" in again["last_error"]
    copies = [r.message_id for r in provider.received]
    assert copies.count(again["message_id"]) == 2  # the documented duplicate
    other = await row(pool, second)
    assert other["status"] == "sent" and other["unsure_sends"] == 0
    assert copies.count(other["message_id"]) == 1
    assert metrics.mail_unsure._value.get() == 1


async def test_killed_before_data_the_mail_goes_once_when_its_lease_expires(
        pool: asyncpg.Pool, provider: Provider) -> None:
    clock = ManualClock()
    mail_id = await queue(pool)
    provider.script.hang_at_rcpt = True
    await kill_when_withheld(sender(pool, provider, clock=clock, owner="gw-a"), provider)
    left = await row(pool, mail_id)
    assert left["status"] == "sending" and left["data_at"] is None
    other = sender(pool, provider, clock=clock, owner="gw-b")
    assert await other.send_due() == 0  # gw-a's lease still holds
    clock.advance(timedelta(minutes=5))  # past the lease (4 x timeout + 60 s)
    task = asyncio.create_task(other.run())
    try:
        await provider.wait_for(1)
        await asyncio.sleep(0.1)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    sent = await row(pool, mail_id)
    assert sent["status"] == "sent" and sent["unsure_sends"] == 0
    assert sent["last_error"] == "not sent: its sender stopped before DATA"
    assert len(provider.received) == 1


async def test_a_connection_dropped_after_data_is_unsure_and_sent_again(
        pool: asyncpg.Pool, provider: Provider) -> None:
    clock = ManualClock()
    dropped, after = await queue(pool, to="a@example.org"), await queue(pool, to="b@example.org")
    provider.script.drop_after_data = True
    mail = sender(pool, provider, clock=clock)
    await mail.send_due()
    waiting = await row(pool, dropped)
    assert waiting["status"] == "queued" and waiting["unsure_sends"] == 1
    assert waiting["last_error"].startswith("unsure: the connection was lost during DATA")
    given_back = await row(pool, after)  # never tried: the server was gone
    assert given_back["status"] == "queued" and given_back["attempts"] == 0
    clock.advance(LATER)
    await mail.send_due()
    assert sorted(r.rcpt_tos[0] for r in provider.received) == [
        "a@example.org", "a@example.org", "b@example.org"]
    copies = [r.message_id for r in provider.received if r.rcpt_tos == ("a@example.org",)]
    assert copies[0] == copies[1]
    assert (await row(pool, dropped))["status"] == "sent"


async def test_a_connection_dropped_before_data_sends_nothing_twice(
        pool: asyncpg.Pool, provider: Provider) -> None:
    clock = ManualClock()
    ids = [await queue(pool, to=f"c{n}@example.org") for n in range(3)]
    provider.script.drop_at_mail = True
    mail = sender(pool, provider, clock=clock)
    await mail.send_due()
    first = await row(pool, ids[0])
    assert first["status"] == "queued" and first["attempts"] == 1
    assert first["unsure_sends"] == 0
    assert first["last_error"].startswith("not sent: the connection was lost before DATA")
    assert [(await row(pool, i))["attempts"] for i in ids[1:]] == [0, 0]
    clock.advance(LATER)
    await mail.send_due()
    assert sorted(r.rcpt_tos[0] for r in provider.received) == [
        "c0@example.org", "c1@example.org", "c2@example.org"]


async def test_a_stop_lets_the_mail_under_way_finish_and_gives_the_rest_back(
        pool: asyncpg.Pool, provider: Provider) -> None:
    ids = [await queue(pool, to=f"d{n}@example.org") for n in range(3)]
    provider.script.hang_after_data = True
    mail = sender(pool, provider)
    task = asyncio.create_task(mail.run())
    async with asyncio.timeout(10):
        await provider.hanging.wait()
    stopping = asyncio.create_task(mail.stop(grace=5))
    await asyncio.sleep(0.05)
    provider.release()  # the withheld 250 now comes
    await stopping
    async with asyncio.timeout(5):
        await task  # the run loop ends by itself once stopped
    rows = [await row(pool, i) for i in ids]
    assert [(r["status"], r["attempts"]) for r in rows] == [
        ("sent", 1), ("queued", 0), ("queued", 0)]
    assert rows[1]["last_error"] == "not sent: the gateway stopped"
    assert len(provider.received) == 1


async def test_a_stranded_row_on_its_last_attempt_fails_saying_it_may_have_gone(
        pool: asyncpg.Pool, provider: Provider) -> None:
    mail_id = await queue(pool)
    provider.script.hang_after_data = True
    await kill_when_withheld(sender(pool, provider, max_attempts=1), provider)
    restarted = sender(pool, provider, max_attempts=1)
    task = asyncio.create_task(restarted.run())
    try:
        await wait_for(lambda: _final(pool, mail_id))
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    failed = await row(pool, mail_id)
    assert failed["status"] == "failed" and failed["unsure_sends"] == 0
    assert failed["last_error"] == ("unsure: its sender stopped after DATA began; "
                                    "it may have been delivered (no attempt left)")
    assert len(provider.received) == 1


async def _final(pool: asyncpg.Pool, mail_id: int) -> bool:
    return bool((await row(pool, mail_id))["status"] in ("sent", "failed"))
