"""A real `gateway run` process SIGKILLed between a donor's YES and the charge.

Where the kill lands, and why it lands there every time: the first process
runs with `GATEWAY_BILLING_INTERVAL=3600`. The billing loop sleeps before
its first tick, so that process records the YES (`confirmed` is in the
ledger before the simulator gets its deliver_sm_resp) but never reaches the
charge. The test waits for the committed `confirmed` row, then kills. No
timing is involved: the charge cannot have started, whatever the machine's
speed. (Making fake Stripe hang would only cover the card path and would
leave `charge_requested` behind, which the stale-charge retry covers after
`card_retry_after_s`; the carrier path has no HTTP call to hang.)

The second process runs the billing loop every 0.1 s. What is counted is
money at the other end: billed submit_sm PDUs at the simulator, and
PaymentIntents at the fake Stripe server.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

import asyncpg
import pytest

from gateway.billing.aggregators import get_profile
from gateway.billing.service import BillingService
from gateway.billing.stripe_client import StripeCards
from gateway.engine import load_rules
from gateway.engine.holder import RulesHolder
from gateway.smpp.simulator import SmscSimulator, SubmitRecord
from gateway.store.db import create_pool
from tests.support.e2e import Phone, outbox_drained, start_gateway_process, wait_for
from tests.support.fake_stripe import FakeStripe
from tests.support.stripe_cards import save_card

ROOT = Path(__file__).resolve().parents[1]
MSISDN = "+15551239001"
NEVER = "3600"
SOON = "0.1"


def kill(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)


def billed(smsc: SmscSimulator) -> list[SubmitRecord]:
    return [s for s in smsc.submitted if s.destination.endswith(MSISDN.lstrip("+")) and s.tlvs]


async def ledger(pool: asyncpg.Pool) -> list[tuple[str, str]]:
    """(status, kinds joined) of every donation."""
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT d.status, string_agg(e.kind, ',' ORDER BY e.id) AS kinds "
            "FROM donations d JOIN donation_events e ON e.donation_id = d.id "
            "GROUP BY d.id ORDER BY d.id")
    return [(r["status"], r["kinds"]) for r in rows]


async def more_billing_ticks(pool: asyncpg.Pool, cards: StripeCards | None = None) -> None:
    """Three more billing ticks, each the restarted process's own code, then an empty outbox.

    Run here rather than waited for: the process ticks every 0.1 s, but how
    many of its ticks a wait covers depends on the machine. Whatever a tick
    did to the donation, a billed MT or a charge, is then at the SMSC or at
    Stripe.
    """
    billing = BillingService(pool, RulesHolder(load_rules(ROOT / "keywords.yaml")),
                             aggregator=get_profile("amount_tlv"), cards=cards)
    for _ in range(3):
        await billing.tick()
    await outbox_drained(pool)


async def status_becomes(pool: asyncpg.Pool, wanted: str) -> None:
    async def reached() -> bool:
        return [s for s, _ in await ledger(pool)] == [wanted]
    await wait_for(reached, within=30)


async def give_yes_and_kill(db_url: str, smsc: SmscSimulator, pool: asyncpg.Pool, amount: str,
                            extra: Mapping[str, str] | None = None) -> None:
    first = start_gateway_process(
        db_url, smsc.port, GATEWAY_BILLING_INTERVAL=NEVER, **(extra or {}))
    try:
        async with asyncio.timeout(30):
            await smsc.wait_for_receiver()
        phone = Phone(smsc, MSISDN)
        [request] = await phone.text(f"GIVE {amount}", expect=1)
        assert "reply YES" in request
        await phone.text("YES", expect=0)  # acked only after its COMMIT
        await status_becomes(pool, "confirmed")
    finally:
        kill(first)
    assert [s for s, _ in await ledger(pool)] == ["confirmed"]  # killed before any charge


@pytest.fixture
async def db_pool(db_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(db_url, min_size=1, max_size=4)
    try:
        yield pool
    finally:
        await pool.close()


async def test_sigkill_between_yes_and_the_billed_mt_bills_once_after_restart(
    db_url: str, patient_smsc: SmscSimulator, db_pool: asyncpg.Pool
) -> None:
    smsc = patient_smsc
    await give_yes_and_kill(db_url, smsc, db_pool, "10")
    assert billed(smsc) == []
    second = start_gateway_process(db_url, smsc.port, GATEWAY_BILLING_INTERVAL=SOON)
    try:
        await status_becomes(db_pool, "billed")
        await more_billing_ticks(db_pool)  # none may bill again
        assert len(billed(smsc)) == 1
        assert await ledger(db_pool) == [
            ("billed", "requested,confirmation_sent,confirmed,billing_submitted,billed")]
    finally:
        kill(second)


async def test_sigkill_between_yes_and_the_card_charge_charges_once_after_restart(
    db_url: str, patient_smsc: SmscSimulator, db_pool: asyncpg.Pool, fake: FakeStripe,
    cards: StripeCards,
) -> None:
    smsc = patient_smsc
    stripe_env = {"GATEWAY_STRIPE_SECRET_KEY": fake.api_key,
                  "GATEWAY_STRIPE_WEBHOOK_SECRET": fake.webhook_secret,
                  "GATEWAY_STRIPE_API_BASE": fake.base_url}
    await save_card(db_pool, fake, MSISDN)
    await give_yes_and_kill(db_url, smsc, db_pool, "25", stripe_env)
    assert fake.payment_intents_created == 0
    second = start_gateway_process(
        db_url, smsc.port, GATEWAY_BILLING_INTERVAL=SOON, **stripe_env)
    try:
        await status_becomes(db_pool, "charged")
        await more_billing_ticks(db_pool, cards)  # none may charge again
        assert fake.payment_intents_created == 1
        assert await ledger(db_pool) == [
            ("charged", "requested,confirmation_sent,confirmed,charge_requested,charged")]
        assert billed(smsc) == []
    finally:
        kill(second)
