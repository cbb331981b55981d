"""An MO the SMSC delivers again is answered once; a person's own repeat is answered again.

Real peers throughout: the SMSC simulator cuts the link on the very
deliver_sm_resp of a stored MO (Faults.drop_on_mo_resp) and delivers that MO
again after the rebind, or a real `gateway run` process is killed with
SIGKILL mid-stream. Counts come from the database the gateway wrote: once
the simulator holds an ESME_ROK for the redelivered copy, the transaction
that handled it has committed, so a second decision would already show.
"""

from __future__ import annotations

import asyncio
import signal

import asyncpg

from gateway.app import Gateway
from gateway.smpp.constants import CommandStatus
from gateway.smpp.simulator import Faults, SmscSimulator
from tests.support.e2e import SHORTCODE, Phone, start_gateway_process, wait_for

OK = CommandStatus.ESME_ROK


async def counts(conn: asyncpg.Connection, msisdn: str) -> dict[str, int]:
    row = await conn.fetchrow(
        """SELECT (SELECT count(*) FROM inbound WHERE msisdn = $1) AS stored,
                  (SELECT count(*) FROM outbound WHERE msisdn = $1) AS answers,
                  (SELECT count(*) FROM inbound_parts WHERE msisdn = $1) AS parts,
                  (SELECT count(*) FROM inbound_redeliveries) AS redeliveries""",
        msisdn)
    return dict(row)


async def test_mo_redelivered_after_its_resp_was_cut_is_answered_once(
    gateway: Gateway, smsc: SmscSimulator
) -> None:
    smsc.faults = Faults(drop_on_mo_resp=1)
    assert await smsc.inject_mo("+15555550101", SHORTCODE, "HELP") == OK
    assert smsc.drops == 1 and smsc.redeliveries == 1  # the SMSC did send it twice
    async with gateway.pool.acquire() as conn:
        assert await counts(conn, "+15555550101") == {
            "stored": 1, "answers": 1, "parts": 0, "redeliveries": 1}
        first = await conn.fetchrow("SELECT id, received_at FROM inbound")
        again = await conn.fetchrow(
            "SELECT inbound_id, first_received_at, received_at FROM inbound_redeliveries")
    assert again["inbound_id"] == first["id"]
    assert again["first_received_at"] == first["received_at"] <= again["received_at"]
    assert gateway.metrics.mo_redelivered._value.get() == 1
    async with asyncio.timeout(10):
        await smsc.wait_for_submits(1)


async def test_long_mo_whose_last_resp_was_cut_leaves_no_fragment(
    gateway: Gateway, smsc: SmscSimulator
) -> None:
    text = "Please tell the campaign I can volunteer on weekends in the north district. " * 5
    smsc.faults = Faults(drop_on_mo_resp=3)  # the third part's resp: the MO is complete
    assert await smsc.inject_mo("+15555550102", SHORTCODE, text) == OK
    assert smsc.mos[0].segments == 3 and smsc.redeliveries >= 1
    async with gateway.pool.acquire() as conn:
        assert await counts(conn, "+15555550102") == {
            "stored": 1, "answers": 1, "parts": 0, "redeliveries": smsc.redeliveries}
        assert await conn.fetchval("SELECT body FROM inbound") == text


async def test_mo_load_over_four_dropped_links_is_answered_once_per_mo(
    gateway: Gateway, smsc: SmscSimulator
) -> None:
    count = 1000
    numbers = [f"+1555320{n:04d}" for n in range(count)]  # one MO per number
    smsc.faults = Faults(drop_after_pdus=150, drop_times=4)  # cut mid-stream, four times
    stats = await smsc.inject_load(count, numbers, window=100, texts=["HELP"])
    assert stats.acked == count, stats.statuses
    assert smsc.drops == 4
    async with gateway.pool.acquire() as conn:
        stored = await conn.fetch("SELECT msisdn, count(*) AS n FROM inbound GROUP BY msisdn")
        answered = await conn.fetch("SELECT msisdn, count(*) AS n FROM outbound GROUP BY msisdn")
    assert len(stored) == count and {r["n"] for r in stored} == {1}
    assert len(answered) == count and {r["n"] for r in answered} == {1}


async def test_a_persons_repeat_after_the_ack_was_read_is_decided_again(
    gateway: Gateway, smsc: SmscSimulator
) -> None:
    phone = Phone(smsc, "+15555550103")
    first = await phone.text("HELP", expect=1)
    second = await phone.text("HELP", expect=1)
    assert first == second
    async with gateway.pool.acquire() as conn:
        assert await counts(conn, phone.msisdn) == {
            "stored": 2, "answers": 2, "parts": 0, "redeliveries": 0}

        async def all_read() -> bool:
            left: int = await conn.fetchval("SELECT count(*) FROM inbound_unacked")
            return left == 0

        await wait_for(all_read)  # both acknowledgements were seen read and forgotten


async def test_the_same_text_sent_the_moment_the_first_was_acknowledged_is_decided_again(
    gateway: Gateway, smsc: SmscSimulator
) -> None:
    # No reply waited for: each MO follows the SMSC's reading of the previous resp
    # at once, before any MT could prove that reading; the client's enquire_link must.
    for _ in range(3):
        assert await smsc.inject_mo("+15555550104", SHORTCODE, "HELP") == OK
    async with gateway.pool.acquire() as conn:
        assert await counts(conn, "+15555550104") == {
            "stored": 3, "answers": 3, "parts": 0, "redeliveries": 0}


async def test_sigkill_then_redelivery_answers_every_mo_exactly_once(
    db_url: str, patient_smsc: SmscSimulator
) -> None:
    smsc = patient_smsc
    count = 2000
    numbers = [f"+1555310{n:04d}" for n in range(count)]  # one MO per number
    # From the 400th resp on the SMSC reads nothing: the MOs in flight then are stored
    # and answered by the gateway, and the answers die with it.
    smsc.faults = Faults(mute_on_mo_resp=400)
    gateway = start_gateway_process(db_url, smsc.port)
    conn = await asyncpg.connect(db_url)
    try:
        async with asyncio.timeout(30):
            await smsc.wait_for_receiver()
        load = asyncio.create_task(smsc.inject_load(count, numbers, window=100, texts=["HELP"]))
        async with asyncio.timeout(60):
            await smsc.wait_until(lambda: smsc.mo_resps >= 400)

        async def in_flight_stored() -> bool:
            stored: int = await conn.fetchval("SELECT count(*) FROM inbound")
            return stored == len(smsc.mos)

        await wait_for(in_flight_stored, within=60)
        in_flight = len(smsc.mos) - 399
        gateway.send_signal(signal.SIGKILL)
        gateway.wait(timeout=10)
        smsc.faults = Faults()
        gateway = start_gateway_process(db_url, smsc.port)
        async with asyncio.timeout(120):
            stats = await load
        assert stats.acked == count, stats.statuses
        stored = await conn.fetch("SELECT msisdn, count(*) AS n FROM inbound GROUP BY msisdn")
        answered = await conn.fetch("SELECT msisdn, count(*) AS n FROM outbound GROUP BY msisdn")
        redelivered = await conn.fetchval("SELECT count(*) FROM inbound_redeliveries")
    finally:
        await conn.close()
        gateway.kill()
        gateway.wait(timeout=10)
    assert {r["msisdn"] for r in stored} == set(numbers)
    assert {r["n"] for r in stored} == {1}
    assert {r["msisdn"] for r in answered} == set(numbers)
    assert {r["n"] for r in answered} == {1}
    # every MO stored but unheard of at the kill came again, and was only acknowledged
    assert redelivered >= in_flight >= 1
