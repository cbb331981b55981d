"""The outbox sender through a database outage: its claim loop comes back, and a claim
whose answer was lost with its connection is not left leased for ever. And at stop:
a claim still on its way is waited for, not left to the closed send gate."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from urllib.parse import urlsplit

import asyncpg
import pytest
from structlog.testing import capture_logs

from gateway.app import Gateway
from gateway.smpp.simulator import SmscSimulator
from gateway.store import outbound as outbound_store
from gateway.store.outbound import NewOutbound
from gateway.tasks import RETRYING, RUNNING, TRANSIENT
from tests.support.e2e import wait_for

LOST = "+15555550177"
LATE = "+15555550178"


async def test_only_leases_the_sender_does_not_know_go_back_to_the_queue(
    pool: asyncpg.Pool,
) -> None:
    now = await pool.fetchval("SELECT now()")
    rows = [NewOutbound(f"+1555555010{n}", "12345", f"hi {n}", 0, False, None, now)
            for n in range(4)]
    async with pool.acquire() as conn:
        await outbound_store.insert_batch(conn, rows)
        mine, _ = await outbound_store.claim(conn, limit=3, owner="a", lease_seconds=60)
        theirs, _ = await outbound_store.claim(conn, limit=1, owner="b", lease_seconds=60)
        known = [mine[0].id]
        released = await outbound_store.release_unknown_claims(conn, "a", known=known)
        status = dict(await conn.fetch("SELECT id, status FROM outbound"))
    assert released == 2
    assert status[mine[0].id] == "sending"  # held by the sender: its send goes on
    assert [status[m.id] for m in mine[1:]] == ["queued", "queued"]
    assert status[theirs[0].id] == "sending"  # another instance's lease is its own


async def test_the_claim_loop_survives_an_outage_and_sends_a_claim_whose_answer_was_lost(
    gateway: Gateway, smsc: SmscSimulator, pg_admin: asyncpg.Connection, db_url: str,
) -> None:
    database = urlsplit(db_url).path.lstrip("/")
    owner = gateway.settings.instance_name
    async with gateway.pool.acquire() as conn:
        # what a claim that committed but never answered leaves: a row leased to us
        lost_id = await conn.fetchval(
            """INSERT INTO outbound (msisdn, shortcode, body, priority, status, lease_owner,
                                     lease_until, attempts)
               VALUES ($1, '12345', 'Thanks for joining!', 0, 'sending', $2,
                       now() + interval '60 seconds', 1)
               RETURNING id""", LOST, owner)
    with capture_logs() as logs:
        # the database goes away: no new connection, the existing ones cut
        await pg_admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
        try:
            await pg_admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
                database)
            async with asyncio.timeout(20):
                while gateway.supervisor.status()["outbox"] != RETRYING:  # noqa: ASYNC110
                    await asyncio.sleep(0.02)
        finally:
            await pg_admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')

        async def sent() -> bool:
            # the pool may still hold a connection the outage cut: the gateway's loops
            # retry on it (TRANSIENT), and so does this check, rather than fail on it
            try:
                async with gateway.pool.acquire() as conn:
                    status: str = await conn.fetchval(
                        "SELECT status FROM outbound WHERE id = $1", lost_id)
            except TRANSIENT:
                return False
            return status in {"submitted", "delivered"}

        await wait_for(sent)
    assert smsc.texts_to(LOST) == ["Thanks for joining!"]
    assert gateway.supervisor.status()["outbox"] == RUNNING
    released = [e for e in logs if e["event"] == "outbox_lost_claims_released"]
    assert [e["count"] for e in released] == [1]
    assert any(e["event"] == "task_failed" and e["task"] == "outbox" for e in logs)



async def test_a_claim_still_on_its_way_at_stop_is_sent_before_the_stop_ends(
    gateway: Gateway, smsc: SmscSimulator, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The reply to an MO acknowledged a moment ago: its claim is at the database when
    # the gateway stops. Its rows must be sent (or released) by the stop, not handed
    # to a send gate that has closed: that gate would take a pool connection nothing
    # gives back, and closing the pool would then wait for ever.
    taken = asyncio.Event()
    answer = asyncio.Event()
    claim = outbound_store.claim

    async def slow_claim(conn: asyncpg.Connection, *, limit: int, owner: str,
                         lease_seconds: float) -> tuple[list[outbound_store.ClaimedMessage], int]:
        claimed, suppressed = await claim(conn, limit=limit, owner=owner,
                                          lease_seconds=lease_seconds)
        if claimed:  # the answer is on its way back
            taken.set()
            await answer.wait()
        return claimed, suppressed

    monkeypatch.setattr(outbound_store, "claim", slow_claim)
    async with gateway.pool.acquire() as conn:
        # Due a second from now: a claim the sender began before the patch above
        # cannot take it, so the claim that does is the held-back one.
        due = await conn.fetchval("SELECT now()") + timedelta(seconds=1)
        await outbound_store.insert_batch(
            conn, [NewOutbound(LATE, "12345", "Thanks for joining!", 0, False, None, due)])
    gateway.outbox.wake()
    async with asyncio.timeout(10):
        await taken.wait()
    gateway.supervisor.stopping()  # as Gateway.stop does first
    stopping = asyncio.create_task(gateway.outbox.stop())
    # time enough for a stop that does not wait for the claim to be over
    await asyncio.wait({stopping}, timeout=0.5)
    answer.set()
    await stopping
    async with gateway.pool.acquire() as conn:
        status = await conn.fetchval("SELECT status FROM outbound WHERE msisdn = $1", LATE)
    assert status in {"submitted", "delivered"}
    assert smsc.texts_to(LATE) == ["Thanks for joining!"]
