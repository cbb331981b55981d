"""POST /webhooks/stripe over real HTTP and PostgreSQL, fed by the fake Stripe's signed events.

What must hold: a bad signature changes nothing; an event is recorded once and
handed to the ledger callback once, in the same transaction; a failure leaves
nothing half done (Stripe redelivers); a completed card setup binds the card
to the number.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from gateway.billing.stripe_client import StripeCards
from gateway.billing.stripe_events import (
    CardSetupCompleted,
    Charged,
    Disputed,
    Ignored,
    Outcome,
    Refunded,
    StripeEvent,
)
from gateway.store.stripe_store import get_saved_card, get_webhook_event
from gateway.web.webhooks import STRIPE_WEBHOOK_PATH, add_stripe_webhook_route
from tests.support.fake_stripe import FakeStripe, send_webhook, stripe_signature, webhook_body
from tests.support.stripe_cards import stripe_config

MSISDN = "+15551234567"
COUNT_EVENTS = "SELECT count(*) FROM stripe_webhook_events"


@dataclass
class Ledger:
    """Stands in for the donation ledger: records what it was handed, can be made to fail."""

    pool: asyncpg.Pool
    outcomes: list[tuple[str, Outcome]] = field(default_factory=list)
    visible_in_transaction: list[int] = field(default_factory=list)
    visible_outside: list[int] = field(default_factory=list)
    failing: bool = False

    async def __call__(self, event: StripeEvent, conn: asyncpg.Connection) -> None:
        self.visible_in_transaction.append(await conn.fetchval(COUNT_EVENTS))
        async with self.pool.acquire() as other:
            self.visible_outside.append(await other.fetchval(COUNT_EVENTS))
        if self.failing:
            raise RuntimeError("ledger unavailable")
        self.outcomes.append((event.id, event.outcome))


@dataclass
class Harness:
    fake: FakeStripe
    cards: StripeCards
    client: TestClient[Any, Any]
    ledger: Ledger
    pool: asyncpg.Pool

    @property
    def url(self) -> str:
        return str(self.client.make_url(STRIPE_WEBHOOK_PATH))

    async def deliver(self, event: dict[str, Any], **kwargs: Any) -> tuple[int, dict[str, Any]]:
        return await send_webhook(
            self.client.session, self.url, event, self.fake.webhook_secret, **kwargs
        )

    async def card_setup(self, card: str = "pm_card_visa") -> tuple[str, dict[str, Any]]:
        """A customer who finished setup-mode Checkout: (customer id, the completion event)."""
        customer = await self.cards.create_customer(msisdn=MSISDN)
        link = await self.cards.create_checkout_session(
            mode="setup", msisdn=MSISDN, customer_id=customer
        )
        return customer, self.fake.complete_checkout(link.session_id, card=card)

    async def rows(self) -> int:
        return int(await self.pool.fetchval(COUNT_EVENTS))


@pytest.fixture
async def harness(pool: asyncpg.Pool, fake: FakeStripe) -> AsyncIterator[Harness]:
    config = stripe_config(
        fake,
        checkout_success_url="https://donate.example.org/thanks",
        checkout_cancel_url="https://donate.example.org/cancelled",
        max_network_retries=1,
    )
    ledger = Ledger(pool)
    async with StripeCards(config) as cards:
        app = web.Application()
        add_stripe_webhook_route(
            app,
            pool=pool,
            webhook_secret=config.webhook_secret,
            card_lookup=cards.saved_card_from_setup_intent,
            on_event=ledger,
        )
        client = TestClient(TestServer(app, host="127.0.0.1", port=0))
        await client.start_server()
        try:
            yield Harness(fake, cards, client, ledger, pool)
        finally:
            await client.close()


async def charged_event(harness: Harness, donation_ref: int = 7) -> dict[str, Any]:
    customer = await harness.cards.create_customer(msisdn=MSISDN)
    result = await harness.cards.charge_saved_card(
        donation_ref=donation_ref,
        amount_cents=2500,
        currency="usd",
        customer_id=customer,
        payment_method_id="pm_card_visa",
    )
    (event,) = [
        e
        for e in harness.fake.events_of_type("payment_intent.succeeded")
        if e["data"]["object"]["id"] == result.payment_intent_id
    ]
    return event


async def test_a_charge_event_is_recorded_and_handed_to_the_ledger(harness: Harness) -> None:
    event = await charged_event(harness, donation_ref=7)
    status, body = await harness.deliver(event)
    assert (status, body) == (200, {"received": True, "duplicate": False})
    ((event_id, outcome),) = harness.ledger.outcomes
    assert event_id == event["id"] and isinstance(outcome, Charged)
    assert (outcome.donation_ref, outcome.amount_cents) == (7, 2500)
    intent = harness.fake.payment_intents[outcome.payment_intent_id]
    assert outcome.charge_id == intent["latest_charge"]
    async with harness.pool.acquire() as conn:
        row = await get_webhook_event(conn, event["id"])
    assert row is not None and row.type == "payment_intent.succeeded"
    assert row.payload == event


async def test_the_ledger_runs_inside_the_events_transaction(harness: Harness) -> None:
    await harness.deliver(await charged_event(harness))
    assert harness.ledger.visible_in_transaction == [1]
    assert harness.ledger.visible_outside == [0]


async def test_a_tampered_webhook_gets_400_and_changes_nothing(harness: Harness) -> None:
    event = await charged_event(harness)
    body = webhook_body(event).replace(b'"amount_received": 2500', b'"amount_received": 250000')
    status, answer = await harness.deliver(event, body=body)
    assert status == 400
    assert answer["error"]["code"] == "bad_signature" and answer["error"]["message"]
    assert await harness.rows() == 0 and harness.ledger.outcomes == []


async def test_an_expired_signature_gets_400(harness: Harness) -> None:
    event = await charged_event(harness)
    status, answer = await harness.deliver(event, timestamp=int(time.time()) - 301)
    assert (status, answer["error"]["code"]) == (400, "expired")
    assert await harness.rows() == 0 and harness.ledger.outcomes == []


async def test_a_missing_or_foreign_signature_gets_400(harness: Harness) -> None:
    event = await charged_event(harness)
    other_secret = f"whsec_{secrets.token_hex(16)}"
    foreign = stripe_signature(webhook_body(event), other_secret, timestamp=int(time.time()))
    async with harness.client.session.post(harness.url, data=webhook_body(event)) as response:
        assert response.status == 400
        assert (await response.json())["error"]["code"] == "missing_signature"
    status, answer = await harness.deliver(event, signature=foreign)
    assert (status, answer["error"]["code"]) == (400, "bad_signature")
    assert await harness.rows() == 0


async def test_the_same_event_twice_is_one_row_and_one_ledger_call(harness: Harness) -> None:
    event = await charged_event(harness)
    assert (await harness.deliver(event))[1]["duplicate"] is False
    assert await harness.deliver(event) == (200, {"received": True, "duplicate": True})
    together = await asyncio.gather(*(harness.deliver(event) for _ in range(3)))
    assert [t[0] for t in together] == [200, 200, 200]
    assert await harness.rows() == 1 and len(harness.ledger.outcomes) == 1


async def test_concurrent_first_deliveries_are_applied_once(harness: Harness) -> None:
    event = await charged_event(harness)
    answers = await asyncio.gather(*(harness.deliver(event) for _ in range(4)))
    assert sorted(a[1]["duplicate"] for a in answers) == [False, True, True, True]
    assert await harness.rows() == 1 and len(harness.ledger.outcomes) == 1


async def test_a_failing_ledger_leaves_nothing_and_the_redelivery_applies(harness: Harness) -> None:
    event = await charged_event(harness)
    harness.ledger.failing = True
    status, answer = await harness.deliver(event)
    assert (status, answer["error"]["code"]) == (500, "not_recorded")
    assert await harness.rows() == 0
    harness.ledger.failing = False
    assert (await harness.deliver(event))[0] == 200
    assert await harness.rows() == 1 and len(harness.ledger.outcomes) == 1


async def test_a_completed_card_setup_binds_the_card_to_the_number(harness: Harness) -> None:
    customer, event = await harness.card_setup(card="pm_card_mastercard")
    async with harness.pool.acquire() as conn:
        assert await get_saved_card(conn, MSISDN) is None
    assert (await harness.deliver(event))[0] == 200
    assert (await harness.deliver(event))[1]["duplicate"] is True
    async with harness.pool.acquire() as conn:
        card = await get_saved_card(conn, MSISDN)
        cards = await conn.fetchval("SELECT count(*) FROM saved_cards")
    assert card is not None and cards == 1
    setup_intent = harness.fake.setup_intents[event["data"]["object"]["setup_intent"]]
    assert (card.customer_id, card.payment_method_id) == (customer, setup_intent["payment_method"])
    assert (card.brand, card.last4, card.event_id) == ("mastercard", "4444", event["id"])
    ((_, outcome),) = harness.ledger.outcomes
    assert isinstance(outcome, CardSetupCompleted) and outcome.msisdn == MSISDN
    assert len(harness.fake.requests_to("GET", f"/v1/setup_intents/{setup_intent['id']}")) == 1


async def test_a_card_setup_stripe_cannot_confirm_yet_is_refused_for_redelivery(
    harness: Harness,
) -> None:
    _, event = await harness.card_setup()
    harness.fake.fail_next(2)  # more than the client's one retry
    status, answer = await harness.deliver(event)
    assert (status, answer["error"]["code"]) == (503, "card_lookup_failed")
    assert await harness.rows() == 0
    assert (await harness.deliver(event))[0] == 200
    async with harness.pool.acquire() as conn:
        assert await get_saved_card(conn, MSISDN) is not None


async def test_refund_dispute_and_unknown_events_are_recorded_with_their_outcome(
    harness: Harness,
) -> None:
    charged = await charged_event(harness)
    intent_id = charged["data"]["object"]["id"]
    refund = harness.fake.refund(intent_id, amount_cents=1000)
    dispute = harness.fake.dispute(intent_id)
    (charge_succeeded,) = harness.fake.events_of_type("charge.succeeded")
    for event in (refund, dispute, charge_succeeded):
        assert (await harness.deliver(event))[0] == 200
    outcomes = [outcome for _, outcome in harness.ledger.outcomes]
    assert isinstance(outcomes[0], Refunded) and outcomes[0].amount_refunded_cents == 1000
    assert isinstance(outcomes[1], Disputed) and outcomes[1].amount_cents == 2500
    assert outcomes[2] == Ignored("charge.succeeded")
    assert await harness.rows() == 3


async def test_recorded_events_cannot_be_rewritten(harness: Harness) -> None:
    await harness.deliver(await charged_event(harness))
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
        await harness.pool.execute("UPDATE stripe_webhook_events SET type = 'x'")
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
        await harness.pool.execute("DELETE FROM stripe_webhook_events")
