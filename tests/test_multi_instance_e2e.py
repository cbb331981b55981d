"""Two real `gateway run` processes on one database, bound to one SMSC, STOPs mid-broadcast.

The simulator hands MOs to its receivers in turn, so each number's texts
reach both processes; both processes drain the same outbox. Counted at the
simulator: after a STOP's deliver_sm_resp, no broadcast MT reaches that
number, and every number that texted STOP ends opted out.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import asyncpg

from gateway.smpp.chat import number_key
from gateway.smpp.constants import CommandStatus
from gateway.smpp.simulator import SmscSimulator
from gateway.store import outbound as outbound_store
from gateway.store.outbound import PRIORITY_BROADCAST, NewOutbound
from tests.support.e2e import SHORTCODE, start_gateway_process

NUMBERS = [f"+1202555{n:04d}" for n in range(200)]
STOPPERS = NUMBERS[::2]  # half of them text STOP while the broadcast is sending
ROUNDS = 3  # broadcast messages per number: something is always on its way to each


async def test_stop_mid_broadcast_across_two_instances(
    db_url: str, patient_smsc: SmscSimulator
) -> None:
    smsc = patient_smsc
    conn = await asyncpg.connect(db_url)
    processes = [
        start_gateway_process(db_url, smsc.port, GATEWAY_INSTANCE_NAME=f"gateway-{n}",
                              GATEWAY_SMPP_TPS="300", GATEWAY_INGEST_LINGER_MS="1")
        for n in (1, 2)
    ]
    try:
        async with asyncio.timeout(30):
            await smsc.wait_until(lambda: smsc.bound_sessions >= 2)
        now = datetime.now(UTC)
        await outbound_store.insert_batch(conn, [
            NewOutbound(number, SHORTCODE, f"Broadcast {r}: rally Saturday", PRIORITY_BROADCAST,
                        False, None, now)
            for r in range(ROUNDS) for number in NUMBERS
        ])
        async with asyncio.timeout(30):
            await smsc.wait_until(lambda: len(smsc.submitted) >= len(NUMBERS) // 2)
        stops = await asyncio.gather(*(smsc.inject_mo(n, SHORTCODE, "STOP") for n in STOPPERS))
        assert set(stops) == {CommandStatus.ESME_ROK}

        async def drained() -> bool:
            left: int = await conn.fetchval(
                "SELECT count(*) FROM outbound WHERE status IN ('queued', 'sending')")
            return left == 0

        async with asyncio.timeout(40):
            while not await drained():  # noqa: ASYNC110 - the condition lives in PostgreSQL
                await asyncio.sleep(0.1)

        acked = {number_key(m.source): m.acked_at or 0.0 for m in smsc.mos if m.text == "STOP"}
        late = [
            (r.destination, r.text, r.accepted_at - acked[number_key(r.destination)])
            for r in smsc.submitted
            if r.text.startswith("Broadcast") and number_key(r.destination) in acked
            and r.accepted_at > acked[number_key(r.destination)]
        ]
        assert late == []
        opted_out = await conn.fetch(
            "SELECT msisdn FROM contacts WHERE opted_out AND shortcode = $1", SHORTCODE)
        assert {r["msisdn"] for r in opted_out} == set(STOPPERS)
        suppressed = await conn.fetchval(
            "SELECT count(*) FROM outbound WHERE status = 'suppressed'")
        assert suppressed > 0  # the STOPs really landed mid-broadcast
        broadcasts = sum(r.text.startswith("Broadcast") for r in smsc.submitted)
        assert broadcasts + suppressed == ROUNDS * len(NUMBERS)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=20)
        await conn.close()
