"""Gifts end to end: a gateway whose billing the test ticks, and what the ledger says.

The billing service's own timer is pushed out of reach (`NOT_CHARGING`), so
a test calls `gateway.billing.tick()` when it wants a charge, and reads
settled rows rather than racing a timer.
"""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg

from gateway.app import Gateway
from gateway.clock import Clock, utc_now
from gateway.config import Settings
from gateway.smpp.simulator import SmscSimulator, SubmitRecord
from tests.support.e2e import Phone, gateway_settings, running_gateway, stop_gateway

MSISDN = "+15551230001"
NOT_CHARGING = {"billing_interval": 3600.0}  # the test ticks the billing service itself


async def start(settings: Settings, smsc: SmscSimulator, *, clock: Clock = utc_now,
                **changes: Any) -> Gateway:
    """A running gateway bound to `smsc` whose billing runs only when the test ticks it."""
    return await running_gateway(
        gateway_settings(settings, smsc, **NOT_CHARGING, **changes), smsc, clock=clock)


async def stop(gw: Gateway) -> None:
    await stop_gateway(gw)


def billed(smsc: SmscSimulator, msisdn: str = MSISDN) -> list[SubmitRecord]:
    """The billed MTs (those with billing TLVs) the SMSC accepted for `msisdn`."""
    return [s for s in smsc.submitted if s.destination.endswith(msisdn.lstrip("+")) and s.tlvs]


async def donation(gw: Gateway) -> asyncpg.Record:
    """The test's one donation row (fails if there are more)."""
    async with gw.pool.acquire() as conn:
        rows = await conn.fetch("SELECT * FROM donations ORDER BY id")
    assert len(rows) == 1, rows
    return rows[0]


async def kinds(gw: Gateway, donation_id: int) -> list[str]:
    """The donation's ledger events, in order."""
    async with gw.pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT kind FROM donation_events WHERE donation_id = $1 ORDER BY id", donation_id)
    return [r["kind"] for r in rows]


async def settle(gw: Gateway, smsc: SmscSimulator, status: str) -> None:
    """Tick the billing service until the donation reaches `status` (receipts are async)."""
    async with asyncio.timeout(10):
        while (await donation(gw))["status"] != status:
            await gw.billing.tick()
            await asyncio.sleep(0.05)


async def confirmed(gw: Gateway, count: int = 1) -> None:
    """Wait until `count` donations have their YES on record (MOs are decided async)."""
    async with asyncio.timeout(10):
        while True:
            async with gw.pool.acquire() as conn:
                n = await conn.fetchval(
                    "SELECT count(*) FROM donation_events WHERE kind = 'confirmed'")
            if n >= count:
                return
            await asyncio.sleep(0.02)


async def give_and_confirm(gw: Gateway, phone: Phone, amount: str = "10", count: int = 1
                           ) -> None:
    """GIVE `amount`, then YES; wait until `count` gifts are confirmed on record."""
    [request] = await phone.text(f"GIVE {amount}", expect=1)
    assert "reply YES" in request
    assert await phone.text("YES", expect=0) == []
    await confirmed(gw, count)
