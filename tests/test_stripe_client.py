"""StripeCards against the fake Stripe API: one PaymentIntent per donation, whatever happens.

The client is the official stripe library over real HTTP to tests/support/fake_stripe.py
on 127.0.0.1; retries are the library's own (the fake answers 500 or drops the
connection), so these tests also pin the library's reuse of the idempotency key.
"""

from __future__ import annotations

import asyncio
import io
import secrets
from collections.abc import AsyncIterator, Iterator

import pytest
import structlog

from gateway.billing.stripe_client import (
    ChargeResult,
    SavedCard,
    StripeCards,
    StripeConfig,
    StripeRejected,
    StripeUnavailable,
)
from gateway.logs import configure_logging
from tests.support.fake_stripe import FakeStripe

MSISDN = "+15551234567"
PAYMENT_INTENTS = ("POST", "/v1/payment_intents")


def config_for(fake: FakeStripe, **overrides: object) -> StripeConfig:
    values: dict[str, object] = {
        "api_key": fake.api_key,
        "webhook_secret": fake.webhook_secret,
        "api_base": fake.base_url,
        "checkout_success_url": "https://donate.example.org/thanks",
        "checkout_cancel_url": "https://donate.example.org/cancelled",
    }
    values.update(overrides)
    return StripeConfig(**values)  # type: ignore[arg-type]


@pytest.fixture
async def cards(fake: FakeStripe) -> AsyncIterator[StripeCards]:
    async with StripeCards(config_for(fake)) as cards:
        yield cards


@pytest.fixture
async def saved(fake: FakeStripe, cards: StripeCards) -> SavedCard:
    """A supporter who saved a Visa through setup-mode Checkout."""
    customer = await cards.create_customer(msisdn=MSISDN)
    link = await cards.create_checkout_session(mode="setup", msisdn=MSISDN, customer_id=customer)
    event = fake.complete_checkout(link.session_id, card="pm_card_visa")
    return await cards.saved_card_from_setup_intent(event["data"]["object"]["setup_intent"])


async def charge(
    cards: StripeCards, card: SavedCard, donation_ref: int, amount: int = 2500
) -> ChargeResult:
    return await cards.charge_saved_card(
        donation_ref=donation_ref,
        amount_cents=amount,
        currency="usd",
        customer_id=card.customer_id,
        payment_method_id=card.payment_method_id,
    )


async def test_setup_checkout_binds_the_number_to_the_customer(
    fake: FakeStripe, cards: StripeCards
) -> None:
    customer = await cards.create_customer(msisdn=MSISDN)
    link = await cards.create_checkout_session(mode="setup", msisdn=MSISDN, customer_id=customer)
    session = fake.sessions[link.session_id]
    assert link.url == session["url"]
    assert session["mode"] == "setup" and session["customer"] == customer
    assert session["metadata"] == {"msisdn": MSISDN}
    assert fake.customers[customer]["metadata"] == {"msisdn": MSISDN}


async def test_saved_card_is_read_from_the_setup_intent(saved: SavedCard, fake: FakeStripe) -> None:
    assert (saved.brand, saved.last4) == ("visa", "4242")
    assert fake.payment_methods[saved.payment_method_id]["customer"] == saved.customer_id


async def test_payment_checkout_carries_amount_and_donation_once(
    fake: FakeStripe, cards: StripeCards
) -> None:
    first = await cards.create_checkout_session(
        mode="payment", msisdn=MSISDN, amount_cents=2500, donation_ref=41
    )
    again = await cards.create_checkout_session(
        mode="payment", msisdn=MSISDN, amount_cents=2500, donation_ref=41
    )
    assert again == first and len(fake.sessions) == 1
    session = fake.sessions[first.session_id]
    assert session["amount_total"] == 2500 and session["currency"] == "usd"
    assert session["metadata"] == {"msisdn": MSISDN, "donation_ref": "41"}
    (request, _) = fake.requests_to("POST", "/v1/checkout/sessions")
    assert request.idempotency_key == "donation-41-checkout"
    assert request.params["payment_intent_data"]["metadata"] == {
        "msisdn": MSISDN,
        "donation_ref": "41",
    }


async def test_checkout_arguments_that_cannot_work_are_refused_before_any_request(
    fake: FakeStripe, cards: StripeCards
) -> None:
    with pytest.raises(ValueError, match="customer_id"):
        await cards.create_checkout_session(mode="setup", msisdn=MSISDN)
    with pytest.raises(ValueError, match="positive amount_cents"):
        await cards.create_checkout_session(mode="payment", msisdn=MSISDN, donation_ref=1)
    with pytest.raises(ValueError, match="amount_cents must be positive"):
        await cards.charge_saved_card(
            donation_ref=1, amount_cents=0, currency="usd", customer_id="c", payment_method_id="p"
        )
    assert fake.requests == []


async def test_charge_confirms_off_session_with_the_donation_as_key(
    fake: FakeStripe, cards: StripeCards, saved: SavedCard
) -> None:
    result = await charge(cards, saved, donation_ref=7)
    assert result.status == "succeeded"
    intent = fake.payment_intents[result.payment_intent_id or ""]
    assert result.charge_id == intent["latest_charge"] and intent["amount_received"] == 2500
    (request,) = fake.requests_to(*PAYMENT_INTENTS)
    assert request.idempotency_key == "donation-7"
    assert request.params["confirm"] == "true" and request.params["off_session"] == "true"
    assert request.params["metadata"] == {"donation_ref": "7"}


async def test_500s_then_success_create_exactly_one_payment_intent(
    fake: FakeStripe, cards: StripeCards, saved: SavedCard
) -> None:
    fake.fail_next(2)
    result = await charge(cards, saved, donation_ref=7)
    assert result.status == "succeeded"
    assert fake.payment_intents_created == 1
    attempts = fake.requests_to(*PAYMENT_INTENTS)
    assert [a.idempotency_key for a in attempts] == ["donation-7"] * 3


@pytest.mark.parametrize("lose", ["response_500", "connection_drop"])
async def test_a_lost_answer_is_replayed_not_charged_again(
    fake: FakeStripe, cards: StripeCards, saved: SavedCard, lose: str
) -> None:
    if lose == "response_500":
        fake.fail_next(1, after_processing=True)
    else:
        fake.drop_next(1)
    result = await charge(cards, saved, donation_ref=7)
    assert result.status == "succeeded"
    assert fake.payment_intents_created == 1
    assert len(fake.requests_to(*PAYMENT_INTENTS)) == 2


async def test_the_same_donation_charged_again_returns_the_first_payment_intent(
    fake: FakeStripe, cards: StripeCards, saved: SavedCard
) -> None:
    first = await charge(cards, saved, donation_ref=7)
    second = await charge(cards, saved, donation_ref=7)
    together = await asyncio.gather(*(charge(cards, saved, donation_ref=7) for _ in range(3)))
    assert {r.payment_intent_id for r in [second, *together]} == {first.payment_intent_id}
    assert fake.payment_intents_created == 1
    await charge(cards, saved, donation_ref=8)
    assert fake.payment_intents_created == 2


async def test_a_restart_after_retries_ran_out_still_charges_once(
    fake: FakeStripe, saved: SavedCard
) -> None:
    """Stripe charged, every answer was lost, the process gave up; the retry finds that charge."""
    fake.fail_next(2, after_processing=True)
    async with StripeCards(config_for(fake, max_network_retries=1)) as impatient:
        with pytest.raises(StripeUnavailable, match="retry later"):
            await charge(impatient, saved, donation_ref=7)
    assert fake.payment_intents_created == 1
    async with StripeCards(config_for(fake)) as restarted:
        result = await charge(restarted, saved, donation_ref=7)
    assert result.status == "succeeded"
    assert fake.payment_intents_created == 1


async def test_a_different_amount_for_the_same_donation_is_refused(
    fake: FakeStripe, cards: StripeCards, saved: SavedCard
) -> None:
    await charge(cards, saved, donation_ref=7, amount=2500)
    with pytest.raises(StripeRejected, match="already used with other parameters"):
        await charge(cards, saved, donation_ref=7, amount=5000)
    assert fake.payment_intents_created == 1


@pytest.mark.parametrize(
    ("card", "decline_code"),
    [
        ("pm_card_chargeDeclinedInsufficientFunds", "insufficient_funds"),
        ("pm_card_chargeDeclined", "generic_decline"),
    ],
)
async def test_a_decline_fails_with_the_banks_code_and_is_not_retried_as_new(
    fake: FakeStripe, cards: StripeCards, card: str, decline_code: str
) -> None:
    customer = await cards.create_customer(msisdn=MSISDN)
    declined = SavedCard(customer, card, "visa", "0002")
    result = await charge(cards, declined, donation_ref=9)
    assert (result.status, result.decline_code) == ("failed", decline_code)
    assert fake.payment_intents[result.payment_intent_id or ""]["status"] == (
        "requires_payment_method"
    )
    assert await charge(cards, declined, donation_ref=9) == result
    assert fake.payment_intents_created == 1


async def test_requires_action_carries_the_banks_link(fake: FakeStripe, cards: StripeCards) -> None:
    customer = await cards.create_customer(msisdn=MSISDN)
    card = SavedCard(customer, "pm_card_authenticationRedirect", "visa", "3220")
    result = await charge(cards, card, donation_ref=11)
    intent = fake.payment_intents[result.payment_intent_id or ""]
    assert result.status == "requires_action"
    assert result.action_url == intent["next_action"]["redirect_to_url"]["url"]
    assert fake.payment_intents_created == 1 and intent["amount_received"] == 0


async def test_off_session_authentication_gets_one_checkout_link_for_the_donation(
    fake: FakeStripe, cards: StripeCards
) -> None:
    """Stripe declines an off-session charge that needs 3-D Secure; a page finishes it."""
    customer = await cards.create_customer(msisdn=MSISDN)
    card = SavedCard(customer, "pm_card_authenticationRequired", "visa", "3184")
    result = await charge(cards, card, donation_ref=12)
    again = await charge(cards, card, donation_ref=12)
    assert result.status == "requires_action" and again == result
    assert result.decline_code == "authentication_required"
    (session,) = fake.sessions.values()
    assert result.action_url == session["url"]
    assert (session["mode"], session["amount_total"]) == ("payment", 2500)
    assert session["metadata"] == {"donation_ref": "12"}
    fake.complete_checkout(session["id"], card="pm_card_visa")
    succeeded = [i for i in fake.payment_intents.values() if i["status"] == "succeeded"]
    assert [i["metadata"] for i in succeeded] == [{"donation_ref": "12"}]


async def test_get_payment_intent_reports_where_a_charge_stands(
    cards: StripeCards, saved: SavedCard
) -> None:
    charged = await charge(cards, saved, donation_ref=7)
    assert await cards.get_payment_intent(charged.payment_intent_id or "") == charged
    with pytest.raises(StripeRejected, match="No such payment_intent"):
        await cards.get_payment_intent("pi_missing")


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging("debug", stream=stream)
    yield stream
    structlog.reset_defaults()


async def test_a_wrong_key_says_what_to_check_and_is_never_echoed(
    fake: FakeStripe, log_stream: io.StringIO
) -> None:
    wrong = f"sk_test_{secrets.token_hex(12)}"
    config = config_for(fake, api_key=wrong)
    assert wrong not in repr(config) and fake.webhook_secret not in repr(config)
    async with StripeCards(config) as cards:
        with pytest.raises(StripeRejected, match="check the Stripe API key") as caught:
            await cards.create_customer(msisdn=MSISDN)
    assert wrong not in str(caught.value)
    async with StripeCards(config_for(fake)) as cards:
        customer = await cards.create_customer(msisdn=MSISDN)
        await charge(cards, SavedCard(customer, "pm_card_visa", "visa", "4242"), donation_ref=3)
    assert "stripe_charge" in log_stream.getvalue()
    assert wrong not in log_stream.getvalue() and fake.api_key not in log_stream.getvalue()


def test_config_refuses_what_cannot_work() -> None:
    with pytest.raises(ValueError, match="API key is empty"):
        StripeConfig(" ", "w", "https://api.stripe.com", "https://a", "https://b")
    with pytest.raises(ValueError, match="http"):
        StripeConfig("k", "w", "api.stripe.com", "https://a", "https://b")
