"""Several instances on one database: one number's MOs and MTs are serialized by its lock.

Two `Ingest`s on one database stand for two gateway processes (each has its
own lanes, so nothing in-process orders them); a third connection holding
a row lock on the contact makes the interleaving that loses a STOP happen
on purpose instead of by luck. The e2e proof with two real processes is in
test_multi_instance_e2e.py.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import asyncpg

from gateway.app import Gateway
from gateway.config import Settings
from gateway.engine import load_rules
from gateway.engine.holder import RulesHolder
from gateway.metrics import Metrics
from gateway.pipeline.ingest import Ingest
from gateway.smpp.constants import CommandStatus
from gateway.smpp.link import DeliverAnswer
from gateway.smpp.pdu import make_deliver_sm
from gateway.smpp.simulator import Faults, SmscSimulator
from gateway.store import outbound as outbound_store
from gateway.store.outbound import NewOutbound
from tests.support.e2e import SHORTCODE, gateway_settings, running_gateway, stop_gateway, wait_for

NUMBER = "+15555550142"


async def deliver(ingest: Ingest, text: str) -> int:
    pdu = make_deliver_sm(NUMBER[1:], SHORTCODE, text.encode(), source_addr_ton=1,
                          source_addr_npi=1)
    answer = await ingest.handle_mo(pdu)
    return answer.status if isinstance(answer, DeliverAnswer) else answer


async def waiting_for_locks(conn: asyncpg.Connection) -> int:
    n: int = await conn.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND wait_event_type = 'Lock'")
    return n


async def test_a_stop_decided_on_another_instance_is_not_overwritten(
    pool: asyncpg.Pool, settings: Settings
) -> None:
    rules = RulesHolder(load_rules(settings.keywords))
    one = Ingest(pool, settings, rules, Metrics())
    two = Ingest(pool, settings, rules, Metrics())
    one.start()
    two.start()
    blocker = await pool.acquire()
    try:
        assert await deliver(one, "JOIN") == CommandStatus.ESME_ROK  # the contact exists
        # Hold the contact's row: whoever writes it next waits, after deciding.
        tx = blocker.transaction()
        await tx.start()
        await blocker.execute(
            "SELECT 1 FROM contacts WHERE msisdn = $1 FOR UPDATE", NUMBER)
        stop = asyncio.ensure_future(deliver(one, "STOP"))  # instance one: the STOP
        await wait_for(lambda: _waiting(pool, 1))
        later = asyncio.ensure_future(deliver(two, "hello?"))  # instance two, a moment later
        await wait_for(lambda: _waiting(pool, 2))
        await tx.rollback()  # the STOP writes first, then the other text's transaction
        assert await stop == CommandStatus.ESME_ROK
        assert await later == CommandStatus.ESME_ROK
    finally:
        await pool.release(blocker)
        await one.close()
        await two.close()
    async with pool.acquire() as conn:
        opted_out = await conn.fetchval(
            "SELECT opted_out FROM contacts WHERE msisdn = $1 AND shortcode = $2",
            NUMBER, SHORTCODE)
        ledger = await conn.fetch(
            "SELECT kind FROM consent_events WHERE msisdn = $1 ORDER BY id", NUMBER)
    assert [r["kind"] for r in ledger][-1] == "opted_out"
    assert opted_out is True  # the ledger and the contact agree


async def _waiting(pool: asyncpg.Pool, count: int) -> bool:
    async with pool.acquire() as conn:
        return await waiting_for_locks(conn) >= count


async def test_a_claimed_mt_does_not_leave_after_its_numbers_stop(
    settings: Settings, smsc: SmscSimulator
) -> None:
    """Claimed, waiting for a window slot, then STOP: the MT is suppressed, never sent."""
    smsc.faults = Faults(slow_resp=1.5)  # the first MT holds the only window slot
    gw: Gateway = await running_gateway(gateway_settings(settings, smsc, smpp_window=1), smsc)
    try:
        first, second = "+15555550201", "+15555550202"
        async with gw.pool.acquire() as conn:
            await outbound_store.insert_batch(conn, [
                NewOutbound(number, SHORTCODE, "Rally Saturday", 1, False, None,
                            datetime.now(UTC))
                for number in (first, second)
            ])
        gw.outbox.wake()

        async def both_claimed() -> bool:
            async with gw.pool.acquire() as conn:
                n: int = await conn.fetchval(
                    "SELECT count(*) FROM outbound WHERE status = 'sending'")
            return n == 2

        await wait_for(both_claimed)  # the second waits in memory, past the claim's check
        assert await smsc.inject_mo(second, SHORTCODE, "STOP") == CommandStatus.ESME_ROK
        acked_at = smsc.mos[-1].acked_at
        assert acked_at is not None

        async def settled() -> bool:
            async with gw.pool.acquire() as conn:
                rows = await conn.fetch(
                    "SELECT status FROM outbound WHERE body = 'Rally Saturday'")
            return {r["status"] for r in rows} <= {"submitted", "delivered", "suppressed"}

        await wait_for(settled)
        async with gw.pool.acquire() as conn:
            status = await conn.fetchval(
                "SELECT status FROM outbound WHERE msisdn = $1 AND body = 'Rally Saturday'",
                second)
        assert status == "suppressed"
        assert "Rally Saturday" not in smsc.texts_to(second)
        assert "Rally Saturday" in smsc.texts_to(first)
        assert gw.metrics.mt_suppressed._value.get() >= 1
    finally:
        await stop_gateway(gw)
