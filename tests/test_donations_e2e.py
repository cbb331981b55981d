"""Donations end to end: SMPP simulator → gateway → PostgreSQL (→ fake Stripe) → simulator.

The billing service's timer is pushed out of reach and each test calls
`gateway.billing.tick()` itself, so every step happens when the test says
and the assertions read settled rows, not races. What is checked is money:
how many billed MTs the SMSC accepted (and with which billing parameters),
how many PaymentIntents Stripe created, and what the ledger says. What the
engine answers (a second YES, STOP before the YES, a YES too late) is in
tests/scenarios/donations.yaml.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest

from gateway.app import Gateway
from gateway.billing.aggregators import TAG_VENDOR_BILLING, get_profile
from gateway.billing.service import BillingService
from gateway.config import Settings
from gateway.smpp.simulator import Faults, SmscSimulator
from gateway.store import outbound as outbound_store
from tests.support.clock import ManualClock
from tests.support.donation_e2e import (
    MSISDN,
    billed,
    confirmed,
    donation,
    give_and_confirm,
    kinds,
    settle,
    start,
    stop,
)
from tests.support.e2e import Phone, keywords_file, outbox_drained
from tests.support.fake_stripe import FakeStripe, send_webhook
from tests.support.stripe_cards import save_card, stripe_settings


@pytest.fixture
async def gateway(settings: Settings, smsc: SmscSimulator) -> AsyncIterator[Gateway]:
    gw = await start(settings, smsc)
    try:
        yield gw
    finally:
        await stop(gw)


# -- carrier billing ---------------------------------------------------------------------


async def test_give_yes_sends_one_billed_mt_and_delivrd_bills_it(
    gateway: Gateway, smsc: SmscSimulator
) -> None:
    phone = Phone(smsc, MSISDN)
    [request] = await phone.text("GIVE 10", expect=1)
    assert "$10" in request and "billed to your mobile account" in request
    await phone.text("YES", expect=0)
    await confirmed(gateway)
    await gateway.billing.tick()
    await settle(gateway, smsc, "billed")

    [mt] = billed(smsc)
    assert mt.service_type == "DON"
    assert mt.tlvs[TAG_VENDOR_BILLING] == bytes.fromhex("000003e8") + b"USD"
    assert "thank you for your gift of $10" in mt.text
    row = await donation(gateway)
    assert row["amount_cents"] == 1000 and row["method"] == "carrier"
    assert await kinds(gateway, row["id"]) == [
        "requested", "confirmation_sent", "confirmed", "billing_submitted", "billed"]
    async with gateway.pool.acquire() as conn:
        sent = await conn.fetchrow(
            "SELECT status, attempts FROM outbound WHERE donation_id = $1", row["id"])
    assert (sent["status"], sent["attempts"]) == ("delivered", 1)


async def test_yes_after_expiry_charges_nothing(settings: Settings, smsc: SmscSimulator) -> None:
    # GIVE a day and an hour ago (the clock may not run ahead of PostgreSQL's), YES now:
    # past the 24-hour confirmation window
    clock = ManualClock(datetime.now(UTC) - timedelta(hours=25))
    gw = await start(settings, smsc, clock=clock)
    try:
        phone = Phone(smsc, MSISDN)
        await phone.text("GIVE 10", expect=1)
        clock.set(datetime.now(UTC))
        [late] = await phone.text("YES", expect=1)
        assert "expired" in late and "nothing was charged" in late
        await gw.billing.tick()
        assert (await donation(gw))["status"] == "expired"
        assert billed(smsc) == []
    finally:
        await stop(gw)


async def test_over_the_monthly_cap_is_refused_politely_and_not_billed(
    settings: Settings, smsc: SmscSimulator, tmp_path: Path
) -> None:
    path = keywords_file(tmp_path, lambda doc: doc["donations"]["rise"]["limits"].update(
        {"per_month_by_phone": 15}))
    gw = await start(settings, smsc, keywords=path)
    try:
        phone = Phone(smsc, MSISDN)
        await give_and_confirm(gw, phone)
        await gw.billing.tick()  # the first $10 fits under $15
        async with asyncio.timeout(10):
            await smsc.wait_until(lambda: len(billed(smsc)) == 1)
        await give_and_confirm(gw, phone, count=2)
        before = len(phone.received)
        await gw.billing.tick()  # the second would make $20
        async with asyncio.timeout(10):
            await smsc.wait_until(lambda: len(phone.received) > before)
        assert "legal limit of $15 a month by text" in phone.received[-1]
        assert "Nothing was charged" in phone.received[-1]
        async with gw.pool.acquire() as conn:
            statuses = [r["status"] for r in await conn.fetch(
                "SELECT status FROM donations ORDER BY id")]
        assert statuses[1] == "refused"
        assert statuses[0] in ("billing_submitted", "billed")
        assert len(billed(smsc)) == 1
    finally:
        await stop(gw)


async def test_undeliv_with_a_billing_error_fails_and_is_never_retried(
    gateway: Gateway, smsc: SmscSimulator
) -> None:
    phone = Phone(smsc, MSISDN)
    await give_and_confirm(gateway, phone)
    smsc.faults = Faults(receipt_stat="UNDELIV", receipt_err="100")  # insufficient credit
    await gateway.billing.tick()
    await settle(gateway, smsc, "failed")
    for _ in range(3):
        await gateway.billing.tick()
    await outbox_drained(gateway.pool)  # what was queued has gone: a resend would be here
    assert len(billed(smsc)) == 1
    row = await donation(gateway)
    async with gateway.pool.acquire() as conn:
        failed = await conn.fetchrow(
            "SELECT data FROM donation_events WHERE donation_id = $1 AND kind = 'failed'",
            row["id"])
        sent = await conn.fetchrow(
            "SELECT status, attempts FROM outbound WHERE donation_id = $1", row["id"])
    assert '"insufficient_credit"' in failed["data"]
    assert (sent["status"], sent["attempts"]) == ("undeliverable", 1)


async def test_stop_after_yes_before_the_charge_cancels(
    gateway: Gateway, smsc: SmscSimulator
) -> None:
    phone = Phone(smsc, MSISDN)
    await give_and_confirm(gateway, phone)
    await phone.text("STOP", expect=1)
    await gateway.billing.tick()
    row = await donation(gateway)
    assert row["status"] == "cancelled"
    assert await kinds(gateway, row["id"]) == [
        "requested", "confirmation_sent", "confirmed", "cancelled"]
    assert billed(smsc) == []


async def test_a_billed_mt_cut_off_mid_send_is_failed_for_reconciliation_not_requeued(
    gateway: Gateway, smsc: SmscSimulator
) -> None:
    """The lease of a billed row ran out (its sender died): never back in the queue."""
    phone = Phone(smsc, MSISDN)
    await give_and_confirm(gateway, phone)
    # A service an hour ahead queues the billed MT for later, out of the live outbox's reach.
    later = BillingService(gateway.pool, gateway.rules, aggregator=get_profile("amount_tlv"),
                           clock=lambda: datetime.now(UTC) + timedelta(hours=1))
    await later.tick()
    async with gateway.pool.acquire() as conn:
        mt = await conn.fetchval("SELECT id FROM outbound WHERE donation_id IS NOT NULL")
        await conn.execute(  # as a dead instance's claim would have left it
            "UPDATE outbound SET status = 'sending', lease_owner = 'gone', "
            "lease_until = now() - interval '1 second', not_before = now() WHERE id = $1", mt)
        assert await outbound_store.release_leases(
            conn, "gateway-x", lease_seconds=60, hold_seconds=120) == 1
        row = await conn.fetchrow("SELECT status, last_error FROM outbound WHERE id = $1", mt)
    assert row["status"] == "failed" and row["last_error"].startswith("billed_unknown")
    await gateway.billing.tick()
    assert (await donation(gateway))["status"] == "billing_submitted"  # finance reconciles
    assert billed(smsc) == []


async def test_a_billed_mt_whose_resp_was_lost_is_settled_by_its_receipt_not_resent(
    settings: Settings, smsc: SmscSimulator
) -> None:
    """The SMSC took the billed MT but its resp never came: billed_unknown, never resent.

    Its receipt still arrives, and settles it: the donation is billed from the
    receipt, with no guess and no second charge.
    """
    gw = await start(settings, smsc, smpp_submit_timeout=0.5)
    try:
        phone = Phone(smsc, MSISDN)
        await give_and_confirm(gw, phone)
        smsc.faults = Faults(lost_resp_every=1)  # from here on the SMSC answers nothing
        await gw.billing.tick()
        await settle(gw, smsc, "billed")
        async with gw.pool.acquire() as conn:
            row = await conn.fetchrow(
                "SELECT status, attempts, last_error FROM outbound WHERE donation_id IS NOT NULL")
    finally:
        smsc.faults = Faults()
        await stop(gw)
    assert smsc.lost_resps >= 1
    assert (row["status"], row["attempts"]) == ("delivered", 1)
    assert row["last_error"].startswith("settled by a receipt")


# -- cards (Stripe) -------------------------------------------------------------------


async def test_card_yes_makes_one_payment_intent_even_after_a_500(
    settings: Settings, smsc: SmscSimulator, fake: FakeStripe
) -> None:
    gw = await start(settings, smsc, **stripe_settings(fake))
    try:
        await save_card(gw.pool, fake, MSISDN)
        phone = Phone(smsc, MSISDN)
        [request] = await phone.text("GIVE 25", expect=1)
        assert "card ending 4242" in request
        await phone.text("YES", expect=0)
        await confirmed(gw)
        fake.fail_next(1, after_processing=True)  # charged, but the answer was lost
        await gw.billing.tick()
        await settle(gw, smsc, "charged")
        await gw.billing.tick()
        assert fake.payment_intents_created == 1
        async with asyncio.timeout(10):
            await smsc.wait_until(lambda: any(
                "thank you for your gift of $25" in t for t in phone.received))
        row = await donation(gw)
        assert await kinds(gw, row["id"]) == [
            "requested", "confirmation_sent", "confirmed", "charge_requested", "charged"]
        # Stripe's own webhook for the same charge changes nothing; a refund is recorded.
        url = f"http://127.0.0.1:{gw.http_port}/webhooks/stripe"
        async with aiohttp.ClientSession() as session:
            for event in fake.events_of_type("payment_intent.succeeded"):
                status, _ = await send_webhook(session, url, event, fake.webhook_secret)
                assert status == 200
            intent = next(iter(fake.payment_intents))
            refund = fake.refund(intent, 1000)
            status, _ = await send_webhook(session, url, refund, fake.webhook_secret,
                                           body=b'{"tampered": true}')
            assert status == 400
            status, _ = await send_webhook(session, url, refund, fake.webhook_secret)
            assert status == 200
        assert (await donation(gw))["status"] == "partially_refunded"
        assert await kinds(gw, row["id"]) == [
            "requested", "confirmation_sent", "confirmed", "charge_requested", "charged",
            "refunded"]
    finally:
        await stop(gw)


async def test_card_charge_requested_before_a_crash_is_charged_once_after_restart(
    settings: Settings, smsc: SmscSimulator, fake: FakeStripe
) -> None:
    """charge_requested committed, Stripe never answered: the next gateway asks again
    with the same idempotency key, and Stripe makes one PaymentIntent."""
    unreachable = {**stripe_settings(fake), "stripe_api_base": "http://127.0.0.1:9"}
    gw = await start(settings, smsc, **unreachable)
    try:
        await save_card(gw.pool, fake, MSISDN)
        phone = Phone(smsc, MSISDN)
        await phone.text("GIVE 25", expect=1)
        await phone.text("YES", expect=0)
        await confirmed(gw)
        await gw.billing.tick()
        assert (await donation(gw))["status"] == "charge_requested"
    finally:
        await stop(gw)
    gw = await start(settings, smsc, **stripe_settings(fake))
    try:
        restarted = BillingService(gw.pool, gw.rules, aggregator=get_profile("amount_tlv"),
                                   cards=gw.cards, card_retry_after_s=0.0)
        for _ in range(3):
            await restarted.tick()
        assert (await donation(gw))["status"] == "charged"
        assert fake.payment_intents_created == 1
    finally:
        await stop(gw)


async def test_a_billed_mt_whose_submit_times_out_is_not_resent(
    settings: Settings, smsc: SmscSimulator
) -> None:
    """The SMSC may have taken (and billed) it: failed as billed_unknown, sent once."""
    gw = await start(settings, smsc, smpp_submit_timeout=0.3)
    try:
        phone = Phone(smsc, MSISDN)
        await give_and_confirm(gw, phone)
        smsc.faults = Faults(slow_resp=1.0)
        await gw.billing.tick()
        async with asyncio.timeout(10):
            while True:
                async with gw.pool.acquire() as conn:
                    sent = await conn.fetchrow(
                        "SELECT status, attempts, last_error FROM outbound "
                        "WHERE donation_id IS NOT NULL")
                if sent["status"] == "failed":
                    break
                await asyncio.sleep(0.05)
        assert sent["attempts"] == 1 and sent["last_error"].startswith("billed_unknown")
        smsc.faults = Faults()
        async with asyncio.timeout(10):
            await smsc.wait_until(lambda: len(billed(smsc)) == 1)  # the late acceptance
        for _ in range(3):
            await gw.billing.tick()
        await outbox_drained(gw.pool)
        assert len(billed(smsc)) == 1
        assert (await donation(gw))["status"] == "billing_submitted"  # finance reconciles
    finally:
        await stop(gw)
