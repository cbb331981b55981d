"""Our side of the fake Stripe: a running one, the config that points at it, a saved card.

Why here and not in each test file: the fake was started and stopped (and its
crashes checked) by four fixtures of their own, each with its own copy of the
config; one `running_fake_stripe` is what conftest's `fake` fixture and the
tests that need a fake per hypothesis example both use.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import asyncpg
from pydantic import SecretStr

from gateway.billing.stripe_client import StripeCards, StripeConfig
from gateway.store import stripe_store
from gateway.store.stripe_store import SavedCardRow
from tests.support.fake_stripe import FakeStripe


@asynccontextmanager
async def running_fake_stripe() -> AsyncIterator[FakeStripe]:
    """A started fake Stripe, closed on the way out; a request it crashed on fails the test."""
    fake = FakeStripe()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.close()
    assert fake.crashes == []


def stripe_config(fake: FakeStripe, **changes: Any) -> StripeConfig:
    """Our Stripe client's config, pointed at `fake` (`changes`: e.g. max_network_retries)."""
    values: dict[str, Any] = {
        "api_key": fake.api_key, "webhook_secret": fake.webhook_secret,
        "api_base": fake.base_url, "checkout_success_url": "https://example.org/ok",
        "checkout_cancel_url": "https://example.org/no", **changes}
    return StripeConfig(**values)


def stripe_settings(fake: FakeStripe) -> dict[str, Any]:
    """The gateway's settings that point it at `fake` (for `gateway_settings`)."""
    return {"stripe_secret_key": SecretStr(fake.api_key),
            "stripe_webhook_secret": SecretStr(fake.webhook_secret),
            "stripe_api_base": fake.base_url}


async def save_card(pool: asyncpg.Pool, fake: FakeStripe, msisdn: str) -> None:
    """What setup-mode Checkout and its webhook leave behind: a card bound to the number."""
    async with StripeCards(stripe_config(fake)) as cards:
        customer = await cards.create_customer(msisdn=msisdn)
        link = await cards.create_checkout_session(mode="setup", msisdn=msisdn,
                                                   customer_id=customer)
        event = fake.complete_checkout(link.session_id, card="pm_card_visa")
        card = await cards.saved_card_from_setup_intent(
            event["data"]["object"]["setup_intent"])
    async with pool.acquire() as conn:
        await stripe_store.insert_saved_cards(conn, [SavedCardRow(
            card.payment_method_id, msisdn, card.customer_id, card.brand, card.last4, None,
            event_created(event))])


def event_created(event: dict[str, Any]) -> datetime:
    return datetime.fromtimestamp(int(event["created"]), UTC)
