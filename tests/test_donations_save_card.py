"""The first card gift's page pays and saves the card; the next GIVE is an express YES.

A number without a saved card texts GIVE 25: its Checkout page is payment mode with
setup_future_usage=off_session and a Customer created on the page. The signed
webhooks, through the real POST /webhooks/stripe handler, record the payment and
bind the card to the number; GIVE 10 then offers "card ending 4242" and its YES is
charged off-session on that card. Real PostgreSQL, the fake Stripe server.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from gateway.billing.stripe_client import StripeCards
from gateway.billing.webhook_ledger import record_stripe_event
from gateway.store import stripe_store
from gateway.web.webhooks import STRIPE_WEBHOOK_PATH, add_stripe_webhook_route
from tests.support.donors import TextingDonor
from tests.support.fake_stripe import FakeStripe, send_webhook

MSISDN = "+15551239001"




@pytest.fixture
async def webhooks(pool: asyncpg.Pool, fake: FakeStripe, cards: StripeCards
                   ) -> AsyncIterator[TestClient[Any, Any]]:
    app = web.Application()
    add_stripe_webhook_route(app, pool=pool, webhook_secret=fake.webhook_secret,
                             card_lookup=cards.saved_card_of_intent,
                             on_event=record_stripe_event)
    async with TestClient(TestServer(app)) as client:
        yield client


async def deliver(client: TestClient[Any, Any], fake: FakeStripe, event: dict[str, Any]
                  ) -> int:
    status, _ = await send_webhook(client.session, str(client.make_url(STRIPE_WEBHOOK_PATH)),
                                   event, fake.webhook_secret)
    return status


async def statuses(pool: asyncpg.Pool) -> list[str]:
    async with pool.acquire() as conn:
        return [r["status"] for r in await conn.fetch("SELECT status FROM donations ORDER BY id")]


async def test_the_first_page_saves_the_card_and_the_next_gift_is_express(
    pool: asyncpg.Pool, fake: FakeStripe, cards: StripeCards,
    webhooks: TestClient[Any, Any]
) -> None:
    donor = TextingDonor(pool, cards, MSISDN)
    fake.clock = donor.clock
    await donor.text("GIVE 25")
    await donor.billing.tick()
    [session] = fake.sessions.values()
    completed = fake.complete_checkout(session["id"], card="pm_card_visa")
    [succeeded] = fake.events_of_type("payment_intent.succeeded")
    for event in (completed, succeeded, completed):  # redelivered too
        assert await deliver(webhooks, fake, event) == 200
    assert await statuses(pool) == ["charged"]
    async with pool.acquire() as conn:
        card = await stripe_store.get_saved_card(conn, MSISDN)
        bound = await conn.fetchval("SELECT count(*) FROM saved_cards")
    assert card is not None and bound == 1
    assert (card.last4, card.brand) == ("4242", "visa")
    assert card.customer_id == fake.sessions[session["id"]]["customer"] is not None
    method = fake.payment_methods[card.payment_method_id]
    assert method["customer"] == card.customer_id  # attached: usable off-session

    await donor.text("GIVE 10")
    async with pool.acquire() as conn:
        offer = await conn.fetchval("SELECT body FROM outbound ORDER BY id DESC LIMIT 1")
    assert "card ending 4242" in offer
    await donor.text("YES")
    await donor.billing.tick()
    assert await statuses(pool) == ["charged", "charged"]
    assert len(fake.sessions) == 1 and fake.payment_intents_created == 2
    second = fake.requests_to("POST", "/v1/payment_intents")[-1].params
    assert (second["customer"], second["payment_method"], second["off_session"]) == (
        card.customer_id, card.payment_method_id, "true")


async def test_a_page_paid_without_saving_binds_nothing(
    pool: asyncpg.Pool, fake: FakeStripe, cards: StripeCards,
    webhooks: TestClient[Any, Any]
) -> None:
    """The bank's authentication page (requires_action) pays once and saves nothing."""
    customer = await cards.create_customer(msisdn=MSISDN)
    link = await cards.create_checkout_session(
        mode="payment", msisdn=MSISDN, customer_id=customer, amount_cents=2500,
        donation_ref=999_001)
    event = fake.complete_checkout(link.session_id)
    assert await deliver(webhooks, fake, event) == 200  # unknown donation: logged, acked
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM saved_cards") == 0
