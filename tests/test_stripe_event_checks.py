"""Signed Stripe events that disagree with their donation are not applied, and finance sees them.

Real HTTP (the webhook route with the real donation ledger callback), real
PostgreSQL; ledger rows from tests/support/finance_ledger.py; events built and signed
as Stripe sends them (tests/support/fake_stripe.py). The rule itself (billing/event_checks.py)
is also checked on its own, as properties over any gift and any event.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import given
from hypothesis import strategies as st

from gateway.billing.event_checks import mismatch
from gateway.billing.stripe_client import SavedCard
from gateway.billing.stripe_events import Charged, Disputed, PaymentFailed, Refunded
from gateway.billing.webhook_ledger import record_stripe_event
from gateway.finance.summary import STRIPE_EVENT_MISMATCH, reconciliation
from gateway.store.billing import LockedDonation
from gateway.web.webhooks import STRIPE_WEBHOOK_PATH, add_stripe_webhook_route
from tests.support.fake_stripe import FakeStripe, send_webhook
from tests.support.finance_ledger import NOW, gift

cents = st.integers(min_value=0, max_value=10**7)
rows = st.builds(LockedDonation, status=st.just("charged"), amount_cents=cents,
                 currency=st.sampled_from(["USD", "EUR"]),
                 method=st.sampled_from(["card", "carrier"]), refunded_cents=st.just(0))
currencies = st.sampled_from(["usd", "eur", "USD", "gbp"])


@given(rows, cents, currencies)
def test_a_charge_applies_only_as_the_whole_gift_in_its_currency_by_card(
    row: LockedDonation, amount: int, currency: str,
) -> None:
    event = Charged(1, amount, currency, "pi_1", "ch_1", None)
    agrees = row.method == "card" and currency.upper() == row.currency \
        and amount == row.amount_cents
    assert (mismatch(event, row) is None) == agrees


@given(rows, cents, cents, currencies)
def test_a_refund_applies_only_to_the_card_gift_and_never_beyond_it(
    row: LockedDonation, charge: int, refunded: int, currency: str,
) -> None:
    event = Refunded(1, "ch_1", None, charge, refunded, currency)
    agrees = row.method == "card" and currency.upper() == row.currency \
        and charge == row.amount_cents and refunded <= row.amount_cents
    assert (mismatch(event, row) is None) == agrees


@given(rows, cents, currencies)
def test_a_dispute_applies_only_to_a_card_gift_for_at_most_its_amount(
    row: LockedDonation, amount: int, currency: str,
) -> None:
    event = Disputed(1, "dp_1", None, None, amount, currency, None)
    agrees = row.method == "card" and currency.upper() == row.currency \
        and amount <= row.amount_cents
    assert (mismatch(event, row) is None) == agrees
    if not agrees:
        found = mismatch(event, row)
        assert found is not None and found.problem == (
            "method" if row.method != "card" else
            "currency" if currency.upper() != row.currency else "amount")


@given(rows)
def test_a_failed_payment_names_a_card_gift(row: LockedDonation) -> None:
    found = mismatch(PaymentFailed(1, "pi_1", "card_declined", None), row)
    assert (found is None) == (row.method == "card")


@dataclass
class Hook:
    fake: FakeStripe
    client: TestClient[Any, Any]

    async def deliver(self, event_type: str, obj: dict[str, Any]) -> int:
        event = self.fake.event(event_type, obj)
        status, body = await send_webhook(
            self.client.session, str(self.client.make_url(STRIPE_WEBHOOK_PATH)), event,
            self.fake.webhook_secret)
        assert status == 200, body
        return status


async def no_card(intent: str) -> SavedCard:
    raise AssertionError(f"no card is read in these tests ({intent})")


@pytest.fixture
async def hook(pool: asyncpg.Pool) -> AsyncIterator[Hook]:
    fake = FakeStripe()
    app = web.Application()
    add_stripe_webhook_route(app, pool=pool, webhook_secret=fake.webhook_secret,
                             card_lookup=no_card, on_event=record_stripe_event)
    client = TestClient(TestServer(app, host="127.0.0.1", port=0))
    await client.start_server()
    try:
        yield Hook(fake, client)
    finally:
        await client.close()


def intent(ref: int, amount: int, currency: str) -> dict[str, Any]:
    return {"id": f"pi_other_{ref}", "object": "payment_intent", "amount_received": amount,
            "currency": currency, "latest_charge": f"ch_{ref}", "customer": None,
            "metadata": {"donation_ref": str(ref)}}


def charge(ref: int, amount: int, refunded: int, currency: str = "usd") -> dict[str, Any]:
    return {"id": f"ch_{ref}", "object": "charge", "amount": amount,
            "amount_refunded": refunded, "currency": currency, "payment_intent": None,
            "metadata": {"donation_ref": str(ref)}}


async def kinds(pool: asyncpg.Pool, donation_id: int) -> list[str]:
    rows = await pool.fetch("SELECT kind FROM donation_events WHERE donation_id = $1"
                            " ORDER BY id", donation_id)
    return [r["kind"] for r in rows]


async def mismatches(pool: asyncpg.Pool) -> list[tuple[int, str, str, str]]:
    rows = await pool.fetch("SELECT donation_id, problem, expected, received"
                            " FROM stripe_event_mismatches ORDER BY id")
    return [(r["donation_id"], r["problem"], r["expected"], r["received"]) for r in rows]


async def test_a_one_cent_usd_event_does_not_charge_a_twenty_euro_gift(
    pool: asyncpg.Pool, hook: Hook,
) -> None:
    async with pool.acquire() as conn:
        euros = await gift(conn, method="card", amount=2000, currency="EUR", outcome="pending")
        right = await gift(conn, method="card", amount=2500, outcome="pending")
    before = await kinds(pool, euros.id)
    await hook.deliver("payment_intent.succeeded", intent(euros.id, 1, "usd"))
    await hook.deliver("payment_intent.succeeded", intent(euros.id, 1, "eur"))
    await hook.deliver("payment_intent.succeeded", intent(right.id, 2500, "usd"))
    assert await kinds(pool, euros.id) == before  # neither applied
    assert (await kinds(pool, right.id))[-1] == "charged"  # the agreeing one is
    assert await mismatches(pool) == [(euros.id, "currency", "EUR", "USD"),
                                      (euros.id, "amount", "2000 cents", "1 cents")]

    summary = await reconciliation(pool, now=NOW)
    found = [e for e in summary.exceptions if e["status"] == STRIPE_EVENT_MISMATCH]
    assert [(e["donation_id"], e["ledger_amount"], e["received"]) for e in found] == [
        (euros.id, "20.00", "0.01"), (euros.id, "20.00", "0.01")]
    rows = list(csv.DictReader(io.StringIO(summary.exceptions_csv().decode())))
    assert sum(r["status"] == STRIPE_EVENT_MISMATCH for r in rows) == 2
    assert "payment_intent.succeeded not applied: amount 1 cents" in "".join(
        r["reason"] for r in rows)


async def test_refunds_and_disputes_do_not_touch_a_carrier_billed_gift(
    pool: asyncpg.Pool, hook: Hook,
) -> None:
    async with pool.acquire() as conn:
        billed = await gift(conn, method="carrier", amount=1000)
    before = await kinds(pool, billed.id)
    await hook.deliver("charge.refunded", charge(billed.id, 1000, 1000))
    await hook.deliver("charge.dispute.created", {
        "id": "dp_1", "object": "dispute", "amount": 1000, "currency": "usd",
        "charge": "ch_x", "payment_intent": None, "reason": "fraudulent",
        "metadata": {"donation_ref": str(billed.id)}})
    assert await kinds(pool, billed.id) == before
    assert [m[:2] for m in await mismatches(pool)] == [(billed.id, "method")] * 2
    assert (await pool.fetchval("SELECT status FROM donation_report WHERE id = $1",
                                billed.id)) == "billed"


async def test_a_refund_larger_than_the_gift_or_in_another_currency_is_held(
    pool: asyncpg.Pool, hook: Hook,
) -> None:
    async with pool.acquire() as conn:
        card = await gift(conn, method="card", amount=1000)
    await hook.deliver("charge.refunded", charge(card.id, 1000, 5000))  # more than given
    await hook.deliver("charge.refunded", charge(card.id, 1000, 500, "eur"))
    assert "refunded" not in await kinds(pool, card.id)
    await hook.deliver("charge.refunded", charge(card.id, 1000, 400))  # agrees: applied
    assert (await kinds(pool, card.id))[-1] == "refunded"
    assert [m[1] for m in await mismatches(pool)] == ["amount", "currency"]


async def test_a_redelivered_mismatch_is_one_exception(pool: asyncpg.Pool, hook: Hook) -> None:
    async with pool.acquire() as conn:
        billed = await gift(conn, method="carrier", amount=1000)
    event = hook.fake.event("charge.refunded", charge(billed.id, 1000, 1000))
    url = str(hook.client.make_url(STRIPE_WEBHOOK_PATH))
    async with aiohttp.ClientSession() as session:
        for _ in range(2):
            status, _body = await send_webhook(session, url, event, hook.fake.webhook_secret)
            assert status == 200
    assert len(await mismatches(pool)) == 1
