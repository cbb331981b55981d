"""Donor details (compliance rule 18): a gift that would take the donor past $50 in the
cycle is held, not charged, until name and address are on file; past $200, until
employer and occupation are too. Store + engine + billing service on real
PostgreSQL, cards at the fake Stripe server; the clock is the test's.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import asyncpg
import pytest

from gateway.billing.stripe_client import StripeCards
from tests.support.donor_details import EVERYTHING, MSISDN, NAME_ADDRESS, Donor
from tests.support.fake_stripe import FakeStripe
from tests.support.stripe_cards import save_card

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
async def donor(pool: asyncpg.Pool, fake: FakeStripe, cards: StripeCards) -> Donor:
    await save_card(pool, fake, MSISDN)
    return Donor(pool, cards)


async def test_up_to_50_dollars_needs_no_details(donor: Donor, fake: FakeStripe) -> None:
    await donor.give(50)
    assert await donor.statuses() == ["charged"]
    assert "details_requested" not in await donor.kinds()
    assert fake.payment_intents_created == 1


async def test_passing_50_holds_the_gift_until_name_and_address_arrive(
    donor: Donor, fake: FakeStripe
) -> None:
    await donor.give(30)
    await donor.give(25)  # $55 in the cycle: over $50
    assert await donor.statuses() == ["charged", "awaiting_details"]
    text = await donor.last_text()
    assert "name and" in text and "address" in text and "over $50" in text
    assert "https://riseup.example.org/give/details/" in text
    for _ in range(2):
        await donor.billing.tick()
    assert fake.payment_intents_created == 1  # the held gift is not charged

    released = await donor.details(NAME_ADDRESS)
    assert len(released) == 1
    assert await donor.statuses() == ["charged", "confirmed"]
    await donor.billing.tick()
    assert await donor.statuses() == ["charged", "charged"]
    assert fake.payment_intents_created == 2
    assert (await donor.kinds())[:6] == [
        "requested", "confirmation_sent", "confirmed", "details_requested",
        "details_received", "charge_requested"]


async def test_a_held_gift_expires_like_an_unconfirmed_one(
    donor: Donor, fake: FakeStripe
) -> None:
    await donor.give(60)
    assert await donor.statuses() == ["awaiting_details"]
    donor.now += timedelta(days=1, hours=1)
    await donor.billing.tick()
    assert await donor.statuses() == ["expired"]
    assert await donor.details(NAME_ADDRESS) == []  # too late: nothing is released
    await donor.billing.tick()
    assert await donor.statuses() == ["expired"]
    assert fake.payment_intents_created == 0


async def test_over_200_also_needs_employer_and_occupation_with_best_efforts(
    donor: Donor, fake: FakeStripe
) -> None:
    await donor.give(250)
    assert await donor.statuses() == ["awaiting_details"]
    text = await donor.last_text()
    assert "best efforts" in text and "occupation and employer" in text
    assert await donor.details(NAME_ADDRESS) == []  # still missing employer and occupation
    await donor.billing.tick()
    assert await donor.statuses() == ["awaiting_details"]
    assert len(await donor.details(EVERYTHING)) == 1
    await donor.billing.tick()
    assert await donor.statuses() == ["charged"]
    assert fake.payment_intents_created == 1


async def test_details_already_on_file_are_not_asked_again(
    donor: Donor, fake: FakeStripe
) -> None:
    assert await donor.details(EVERYTHING) == []  # nothing held yet
    await donor.give(250)
    assert await donor.statuses() == ["charged"]
    assert "details_requested" not in await donor.kinds()
    assert fake.payment_intents_created == 1


async def test_the_held_gift_is_answered_by_sms_one_fact_at_a_time_then_charged(
    donor: Donor, fake: FakeStripe
) -> None:
    await donor.give(250)
    assert await donor.statuses() == ["awaiting_details"]
    assert (await donor.last_text()).endswith(
        "Or reply here: what is your full name (first and last)?")
    for answer, next_question in (
        ("Ada Lovelace", "What is your address?"),
        ("1 Main St, Springfield, IL 62701", "Who is your employer?"),
        ("Analytical Engines", "What is your occupation?"),
    ):
        await donor.text(answer)
        assert (await donor.last_text()).startswith(next_question)
        assert await donor.statuses() == ["awaiting_details"]
    await donor.text("not a job 🙂 but fine")  # occupation: free text
    assert "we have your details" in await donor.last_text()
    assert await donor.statuses() == ["confirmed"]
    await donor.billing.tick()
    assert await donor.statuses() == ["charged"]
    assert fake.payment_intents_created == 1
    async with donor.pool.acquire() as conn:
        rows = await conn.fetch("SELECT name, city, employer, occupation, source "
                                "FROM donor_details ORDER BY id")
    assert len(rows) == 4 and {r["source"] for r in rows} == {"sms"}
    # each row is the whole of what is known: the last one has everything
    assert dict(rows[-1]) == {"name": "Ada Lovelace", "city": "Springfield",
                              "employer": "Analytical Engines",
                              "occupation": "not a job 🙂 but fine", "source": "sms"}


async def test_the_sms_dialog_asks_only_what_is_not_on_file(
    donor: Donor, fake: FakeStripe
) -> None:
    await donor.details(NAME_ADDRESS)  # from the web form, before the gift
    await donor.give(250)
    assert (await donor.last_text()).endswith("Or reply here: who is your employer? "
                                              "(Self-employed, retired or not employed? "
                                              "Say so.)")
    await donor.text("Self-employed")
    await donor.text("Mathematician")
    await donor.billing.tick()
    assert await donor.statuses() == ["charged"]


async def test_a_dialog_answer_after_the_hold_expired_releases_nothing(
    donor: Donor, fake: FakeStripe
) -> None:
    await donor.give(60)
    donor.now += timedelta(days=1, hours=1)
    await donor.billing.tick()
    await donor.text("Ada Lovelace")  # no hold any more: an ordinary message
    assert await donor.statuses() == ["expired"]
    async with donor.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM donor_details") == 0
    assert fake.payment_intents_created == 0
