"""A throttled MT is checked for an opt-out again before it is sent a second time.

Why: when the SMSC answered ESME_RTHROTTLED, the SMPP client used to resend
the same submit_sm on its own after a back-off of seconds, past the outbox's
opt-out checks; a STOP committed meanwhile did not stop it. Now a throttled
first part goes back to the outbox, whose claim and send gate read the
opt-out again. Counted at the simulator, not in our tables.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import asyncpg

from gateway.config import Settings
from gateway.smpp.simulator import Faults, SmscSimulator
from gateway.store import outbound as outbound_store
from tests.support.e2e import (
    SHORTCODE,
    Phone,
    gateway_settings,
    running_gateway,
    stop_gateway,
    wait_for,
)

QUITTER = "+12125550142"
FINAL = ("submitted", "delivered", "suppressed", "failed", "rejected", "undeliverable")


async def test_a_stop_during_a_throttle_back_off_stops_the_resend(
    pool: asyncpg.Pool, smsc: SmscSimulator, settings: Settings,
) -> None:
    state = json.dumps({"v": 1, "subs": {"rise": {"status": "subscribed"}}, "profile": {}})
    async with pool.acquire() as conn:
        await conn.execute("INSERT INTO contacts (msisdn, shortcode, state) VALUES ($1, $2,"
                           " $3::jsonb)", QUITTER, SHORTCODE, state)
    smsc.faults = Faults(throttle_every=1)  # the first submit_sm is throttled
    # a back-off long enough for the STOP to be decided before any resend
    gw = await running_gateway(gateway_settings(settings, smsc, smpp_reconnect_min=3.0,
                                                smpp_reconnect_max=4.0), smsc)
    try:
        async with pool.acquire() as conn:
            await outbound_store.insert_batch(conn, [outbound_store.NewOutbound(
                QUITTER, SHORTCODE, "Rally at noon on Saturday!",
                outbound_store.PRIORITY_BROADCAST, False, None, datetime.now(UTC))])
            update = await conn.fetchval("SELECT max(id) FROM outbound")

        async def throttled() -> bool:
            return smsc.submits_seen >= 1

        await wait_for(throttled, within=10)
        smsc.faults = Faults()
        quitter = Phone(smsc, QUITTER)
        confirmation = await quitter.text("STOP", expect=1)

        async def settled() -> bool:
            status = await pool.fetchval("SELECT status FROM outbound WHERE id = $1", update)
            return status in FINAL

        await wait_for(settled, within=30)
    finally:
        await stop_gateway(gw)
    assert await pool.fetchval("SELECT status FROM outbound WHERE id = $1", update) \
        == "suppressed"
    assert quitter.received == confirmation  # nothing but the STOP's answer reached them
