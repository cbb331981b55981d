"""A real `gateway run` process killed with SIGKILL mid-stream loses no acknowledged MO."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import asyncpg

from gateway.smpp.constants import CommandStatus
from gateway.smpp.simulator import SmscSimulator
from tests.support.e2e import start_gateway_process

ROOT = Path(__file__).resolve().parents[1]


async def stored_mos(db_url: str) -> set[tuple[str, str]]:
    conn = await asyncpg.connect(db_url)
    try:
        rows = await conn.fetch("SELECT msisdn, body FROM inbound")
    finally:
        await conn.close()
    return {(r["msisdn"], r["body"]) for r in rows}


async def test_sigkill_mid_stream_loses_no_acknowledged_mo(
    db_url: str, patient_smsc: SmscSimulator
) -> None:
    smsc = patient_smsc
    count = 3000
    numbers = [f"+1555300{n:04d}" for n in range(300)]
    texts = [f"hello {n}" for n in range(count)]  # one text per MO: each is identifiable
    gateway = start_gateway_process(db_url, smsc.port)
    try:
        async with asyncio.timeout(30):
            await smsc.wait_for_receiver()
        load = asyncio.create_task(smsc.inject_load(count, numbers, window=50, texts=texts))
        async with asyncio.timeout(60):
            await smsc.wait_until(lambda: sum(m.status == 0 for m in smsc.mos) >= 600)
        gateway.send_signal(signal.SIGKILL)
        gateway.wait(timeout=10)
        acked_before_kill = {
            ("+" + m.source.lstrip("+"), m.text)
            for m in smsc.mos
            if m.status == CommandStatus.ESME_ROK
        }
        assert 600 <= len(acked_before_kill) < count  # the kill really was mid-stream
        # Nothing acknowledged may be missing, even before the gateway comes back.
        assert acked_before_kill <= await stored_mos(db_url)

        gateway = start_gateway_process(db_url, smsc.port)
        async with asyncio.timeout(120):
            stats = await load  # unanswered MOs are redelivered to the new process
        assert stats.acked == count, stats.statuses
        stored = await stored_mos(db_url)
        assert {("+" + m.source.lstrip("+"), m.text) for m in smsc.mos} <= stored
    finally:
        gateway.kill()
        gateway.wait(timeout=10)
