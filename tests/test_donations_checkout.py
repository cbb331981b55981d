"""Card gifts without an express YES: a Checkout link for a number with no saved card,
an authentication link when the bank asks, and the French profile (card only).

Store + engine + billing service on real PostgreSQL, the fake Stripe server for
the money, webhooks parsed and recorded as the web handler does after verifying
them. What is counted: Checkout sessions and PaymentIntents at Stripe, link SMS in
the outbox, and the ledger.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import yaml
from structlog.testing import capture_logs

from gateway.app import open_gateway
from gateway.billing.details import receive_donor_details
from gateway.billing.stripe_client import StripeCards
from gateway.billing.stripe_events import parse_event
from gateway.billing.webhook_ledger import record_stripe_event
from gateway.config import Settings
from gateway.engine.loader import RulesError, parse_rules
from gateway.store import stripe_store
from gateway.store.donations import DonorDetails
from gateway.store.stripe_store import SavedCardRow
from tests.support.donors import TextingDonor
from tests.support.fake_stripe import FakeStripe, webhook_body

ROOT = Path(__file__).resolve().parents[1]
MSISDN = "+15551238001"


class Donor(TextingDonor):
    def __init__(self, pool: asyncpg.Pool, cards: StripeCards | None,
                 shortcode: str = "12345") -> None:
        super().__init__(pool, cards, MSISDN, shortcode)

    async def webhook(self, event: dict[str, Any]) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            await record_stripe_event(parse_event(webhook_body(event).decode()), conn)

    async def row(self, sql: str) -> asyncpg.Record:
        async with self.pool.acquire() as conn:
            found = await conn.fetchrow(sql)
        assert found is not None
        return found

    async def kinds(self) -> list[str]:
        async with self.pool.acquire() as conn:
            return [r["kind"] for r in await conn.fetch(
                "SELECT kind FROM donation_events ORDER BY id")]

    async def texts(self) -> list[str]:
        async with self.pool.acquire() as conn:
            return [r["body"] for r in await conn.fetch("SELECT body FROM outbound ORDER BY id")]




async def test_no_saved_card_gets_one_checkout_link_and_paying_confirms_and_charges(
    pool: asyncpg.Pool, fake: FakeStripe, cards: StripeCards
) -> None:
    donor = Donor(pool, cards)
    fake.clock = donor.clock
    await donor.text("GIVE 25")
    for _ in range(3):
        await donor.billing.tick()
    [session] = fake.sessions.values()
    assert session["mode"] == "payment" and session["amount_total"] == 2500
    assert (await donor.row("SELECT status FROM donations"))["status"] == \
        "awaiting_confirmation"
    links = [t for t in await donor.texts() if session["url"] in t]
    assert len(links) == 1 and "$25" in links[0] and "federal contractor" in links[0]
    assert fake.payment_intents_created == 0  # nothing is charged before the page is paid

    completed = fake.complete_checkout(session["id"], card="pm_card_visa")
    [succeeded] = fake.events_of_type("payment_intent.succeeded")
    for event in (succeeded, completed, completed, succeeded):  # any order, redelivered
        await donor.webhook(event)
    await donor.billing.tick()
    row = await donor.row("SELECT status, confirmed_at FROM donations")
    assert row["status"] == "charged" and row["confirmed_at"] is not None
    assert await donor.kinds() == [
        "requested", "confirmation_sent", "confirmed", "charge_requested", "charged"]
    assert fake.payment_intents_created == 1


async def test_a_checkout_gift_needing_donor_details_is_held_then_offered_its_page(
    pool: asyncpg.Pool, fake: FakeStripe, cards: StripeCards
) -> None:
    """Over $50 the law wants name and address before the money: no page exists until
    they are on file (here by the SMS dialog); then the same gift gets its page."""
    donor = Donor(pool, cards)
    fake.clock = donor.clock
    await donor.text("GIVE 75")
    for _ in range(2):
        await donor.billing.tick()
    assert fake.sessions == {} and fake.payment_intents_created == 0
    assert (await donor.row("SELECT status FROM donations"))["status"] == "awaiting_details"
    [details] = [t for t in await donor.texts() if "/give/details/" in t]
    assert "name and address" in details
    assert details.endswith("Or reply here: what is your full name (first and last)?")

    await donor.text("Ada Lovelace")
    assert (await donor.texts())[-1].startswith("What is your address?")
    await donor.text("1 Main St, Springfield, IL 62701")
    assert "we have your details" in (await donor.texts())[-1]
    assert (await donor.row("SELECT status FROM donations"))["status"] == "requested"

    await donor.billing.tick()
    [session] = fake.sessions.values()
    assert session["amount_total"] == 7500
    assert sum(session["url"] in t for t in await donor.texts()) == 1
    for event in (fake.complete_checkout(session["id"]),
                  *fake.events_of_type("payment_intent.succeeded")):
        await donor.webhook(event)
    assert (await donor.row("SELECT status FROM donations"))["status"] == "charged"
    assert await donor.kinds() == [
        "requested", "details_requested", "details_received", "confirmation_sent",
        "confirmed", "charge_requested", "charged"]


async def test_a_checkout_page_closes_with_the_request_within_stripes_window(
    pool: asyncpg.Pool, fake: FakeStripe, cards: StripeCards
) -> None:
    donor = Donor(pool, cards)
    fake.clock = donor.clock
    await donor.text("GIVE 25")
    await donor.billing.tick()
    [session] = fake.sessions.values()
    request = await donor.row("SELECT requested_at, expires_at FROM donations")
    created = donor.now.timestamp()
    # the request lives 24 h; Stripe's page at most 24 h from its creation: a little less
    assert request["expires_at"].timestamp() - 3600 < session["expires_at"] \
        <= request["expires_at"].timestamp()
    assert session["expires_at"] <= created + 24 * 3600
    params = fake.requests_to("POST", "/v1/checkout/sessions")[0].params
    assert params["payment_intent_data"]["setup_future_usage"] == "off_session"
    assert params["customer_creation"] == "always"


async def test_a_request_shorter_than_stripes_shortest_page_waits_for_its_page(
    pool: asyncpg.Pool, fake: FakeStripe, cards: StripeCards
) -> None:
    """confirm_within 10 minutes, but a Checkout page lives at least 30: the page gets
    40 (30 and the retry slack) and the request stays open until the page closes."""
    doc = yaml.safe_load((ROOT / "keywords.yaml").read_text(encoding="utf-8"))
    doc["donations"]["rise"]["confirm_within"] = "10m"
    donor = Donor(pool, cards)
    donor.rules.replace(parse_rules(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)))
    fake.clock = donor.clock
    await donor.text("GIVE 25")
    requested = donor.now
    await donor.billing.tick()
    [session] = fake.sessions.values()
    assert session["expires_at"] == int((requested + timedelta(minutes=40)).timestamp())
    donor.now += timedelta(minutes=25)  # the request's own 10 minutes (and grace) are over
    await donor.billing.tick()
    assert (await donor.row("SELECT status FROM donations"))["status"] == \
        "awaiting_confirmation"
    await donor.webhook(fake.complete_checkout(session["id"]))
    assert (await donor.row("SELECT status FROM donations"))["status"] == "charged"

    await donor.text("GIVE 20")
    await donor.billing.tick()
    donor.now += timedelta(minutes=46)  # page closed (40) and the sweep's grace (5)
    await donor.billing.tick()
    assert [r["status"] for r in await pool.fetch(
        "SELECT status FROM donations ORDER BY id")] == ["charged", "expired"]


async def test_an_unpaid_checkout_expires_and_a_late_payment_changes_nothing(
    pool: asyncpg.Pool, fake: FakeStripe, cards: StripeCards
) -> None:
    donor = Donor(pool, cards)
    fake.clock = donor.clock
    await donor.text("GIVE 25")
    await donor.billing.tick()
    donor.now += timedelta(days=1, hours=1)
    await donor.billing.tick()
    assert (await donor.row("SELECT status FROM donations"))["status"] == "expired"
    [session] = fake.sessions.values()
    await donor.webhook(fake.complete_checkout(session["id"]))  # logged for finance
    assert (await donor.row("SELECT status FROM donations"))["status"] == "expired"
    assert "charged" not in await donor.kinds()


async def test_requires_action_sends_the_bank_link_and_never_charges_twice(
    pool: asyncpg.Pool, fake: FakeStripe, cards: StripeCards
) -> None:
    customer = await cards.create_customer(msisdn=MSISDN)
    link = await cards.create_checkout_session(mode="setup", msisdn=MSISDN,
                                               customer_id=customer)
    completed = fake.complete_checkout(link.session_id, card="pm_card_authenticationRedirect")
    saved = await cards.saved_card_from_setup_intent(completed["data"]["object"]["setup_intent"])
    async with pool.acquire() as conn:
        await stripe_store.insert_saved_cards(conn, [SavedCardRow(
            saved.payment_method_id, MSISDN, saved.customer_id, saved.brand, saved.last4, None,
            datetime.now(UTC))])
    donor = Donor(pool, cards)
    fake.clock = donor.clock
    await donor.text("GIVE 25")
    await donor.text("YES")
    for _ in range(3):
        await donor.billing.tick()
    assert (await donor.row("SELECT status FROM donations"))["status"] == "requires_action"
    [intent] = fake.payment_intents.values()
    url = intent["next_action"]["redirect_to_url"]["url"]
    assert sum(url in t for t in await donor.texts()) == 1
    assert fake.payment_intents_created == 1

    await donor.webhook(fake.authenticate(intent["id"]))
    await donor.billing.tick()
    assert (await donor.row("SELECT status FROM donations"))["status"] == "charged"
    assert fake.payment_intents_created == 1


def test_a_french_program_cannot_turn_carrier_billing_on() -> None:
    doc = yaml.safe_load((ROOT / "keywords.yaml").read_text(encoding="utf-8"))
    doc["donations"]["ensemble"]["methods"] = ["carrier", "card"]
    doc["donations"]["ensemble"]["price_points"] = [5, 10]
    with pytest.raises(RulesError, match=r"use methods: \[card\]"):
        parse_rules(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))


async def test_a_french_gift_at_a_carrier_price_point_goes_by_card_not_phone_bill(
    pool: asyncpg.Pool, fake: FakeStripe, cards: StripeCards
) -> None:
    donor = Donor(pool, cards, shortcode="38200")
    fake.clock = donor.clock
    # French law wants the donor's identity with every card gift (compliance rule 25):
    # on file first, or the gift is declined with the details link.
    async with pool.acquire() as conn, conn.transaction():
        await receive_donor_details(conn, DonorDetails(
            MSISDN, "AF Ensemble Citoyen", "web", donor.now, name="Camille Martin",
            street="1 rue de la Paix", city="Paris", postal_code="75002", country="FR",
        ), now=donor.now)
    await donor.text("DON 10")
    await donor.text("OUI")
    await donor.billing.tick()
    async with pool.acquire() as conn:
        row = await conn.fetchrow("SELECT method, status FROM donations")
        billed = await conn.fetchval(
            "SELECT count(*) FROM outbound WHERE donation_id IS NOT NULL")
    assert (row["method"], row["status"]) == ("card", "awaiting_confirmation")
    assert billed == 0  # never on the phone bill
    [session] = fake.sessions.values()
    [link] = [t for t in await donor.texts() if session["url"] in t]
    assert link.startswith("AF Ensemble Citoyen : pour donner")


@pytest.mark.parametrize("amount", ["500", "7"])  # over a limit, and within limits
async def test_without_a_stripe_key_a_gift_no_method_can_take_is_refused_at_once(
    pool: asyncpg.Pool, amount: str
) -> None:
    donor = Donor(pool, None)  # no Stripe key: no Checkout page can be made
    await donor.text(f"GIVE {amount}")  # not a carrier price point ($5, $10), no saved card
    await donor.billing.tick()  # the next tick (GATEWAY_BILLING_INTERVAL, 1 s), not a day later
    assert (await donor.row("SELECT status FROM donations"))["status"] == "refused"
    assert await donor.kinds() == ["requested", "refused"]
    assert (await donor.row("SELECT data->>'reason' AS reason FROM donation_events "
                            "WHERE kind = 'refused'"))["reason"] == "method_unavailable"
    [text] = await donor.texts()
    assert text == f"Rise Up PAC: sorry, we can't take ${amount} by text right now. " \
        "Nothing was charged."
    await donor.billing.tick()
    assert len(await donor.texts()) == 1  # answered once


async def test_without_a_stripe_key_a_carrier_price_point_still_asks_for_its_yes(
    pool: asyncpg.Pool
) -> None:
    donor = Donor(pool, None)
    await donor.text("GIVE 10")
    await donor.billing.tick()
    [text] = await donor.texts()
    assert "reply YES to give $10, billed to your mobile account" in text


async def test_start_up_warns_when_keywords_offer_card_and_no_stripe_key_is_set(
    settings: Settings
) -> None:
    assert settings.stripe_secret_key is None
    with capture_logs() as logs:
        gateway = await open_gateway(settings, migrate=False)
    await gateway.pool.close()
    [warning] = [e for e in logs if e["event"] == "card_gifts_offered_without_stripe_key"]
    assert warning["log_level"] == "warning" and warning["programs"] == ["ensemble", "rise"]
