"""Hypothesis over random donor histories: MOs, billing ticks, sends, receipts, webhooks.

Why the layers and not SMPP: a property test needs hundreds of steps per
second. Each step drives the real code below the wire, on real PostgreSQL:
MOs go through `DecisionWriter` (the MO transaction), the billing service
ticks with a clock the test moves, billed MTs are claimed and marked
submitted with the outbox's own store calls, receipts go through the receipt
store, and Stripe webhooks (redeliveries of the fake's own events, in any
order) through `record_stripe_event`. Checkout pages sent to numbers without
a card may be paid at any point. Cards are charged at the fake Stripe
server, which may fail a request (before or after doing the work).

The ledger's triggers refuse TRUNCATE, so examples share one database and
each uses fresh numbers and MO ids; the properties are checked over every
donation in it, which only makes them stronger:

- no donation is charged or billed twice (one charge attempt, one billed MT,
  one PaymentIntent at Stripe, at most one paid outcome);
- nothing is charged without a `confirmed` event made by that number's YES
  (or, for a number without a saved card, by paying on its Checkout page);
- every charged amount respects the per-text, monthly, per-cycle and
  per-election limits (the shipped file's, tightened so a short history
  reaches them).
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from gateway.billing.aggregators import get_profile
from gateway.billing.ledger import derive_state
from gateway.billing.policy import DonationPolicy
from gateway.billing.service import BillingService
from gateway.billing.stripe_client import StripeCards
from gateway.billing.stripe_events import parse_event
from gateway.billing.webhook_ledger import record_stripe_event
from gateway.engine import Rules
from gateway.engine.holder import RulesHolder
from gateway.engine.loader import parse_rules
from gateway.pipeline.decide import DecisionWriter
from gateway.store import donations as donation_store
from gateway.store import inbound as inbound_store
from gateway.store import outbound as outbound_store
from gateway.store import stripe_store
from gateway.store.inbound import NewInbound
from gateway.store.receipts import NewReceipt
from gateway.store.stripe_store import SavedCardRow
from tests.support.fake_stripe import FakeStripe, webhook_body
from tests.support.stripe_cards import running_fake_stripe, stripe_config

ROOT = Path(__file__).resolve().parents[1]
SHORTCODE = "12345"

def _tight_rules() -> Rules:
    """The shipped file with limits a short history can reach (dollars, as in the file)."""
    doc = yaml.safe_load((ROOT / "keywords.yaml").read_text(encoding="utf-8"))
    doc["donations"]["rise"]["limits"].update(
        {"per_month_by_phone": 25, "per_cycle_by_phone": 40, "per_election": 80})
    return parse_rules(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))


RULES = RulesHolder(_tight_rules())
POLICY = DonationPolicy.from_rules(RULES.current, "rise", SHORTCODE)
PAID = ("billed", "charged")

_numbers = itertools.count(1)
PAYMENT_INTENTS: defaultdict[int, list[dict[str, Any]]] = defaultdict(list)
_mo_ids = itertools.count(1)
_smsc_ids = itertools.count(1)

bodies = st.sampled_from(
    ["GIVE 5", "GIVE 10", "GIVE 25", "GIVE 60", "GIVE", "DONATE 10", "YES", "yes", "YES",
     "STOP", "NO", "HELP", "START"])
receipts = st.sampled_from([("DELIVRD", "000", True), ("UNDELIV", "100", True),
                            ("REJECTD", "101", True), ("ENROUTE", "000", False)])
amounts = st.sampled_from(["5", "10", "10", "25", "60"])
steps = st.one_of(
    st.tuples(st.just("mo"), st.integers(0, 1), bodies),
    st.tuples(st.just("give_yes"), st.integers(0, 1), amounts),
    st.tuples(st.just("tick")),
    st.tuples(st.just("send")),
    st.tuples(st.just("receipt"), st.integers(0, 3), receipts),
    st.tuples(st.just("webhook"), st.integers(0, 7)),
    st.tuples(st.just("stripe_fault"), st.booleans()),
    st.tuples(st.just("pay_checkout"), st.integers(0, 3)),
    st.tuples(st.just("later"), st.sampled_from([60, 3600, 13 * 3600])),
)
cards = st.sampled_from([None, "pm_card_visa", "pm_card_chargeDeclined"])


class History:
    """One example's world: two numbers, a clock, a fake Stripe, the services."""

    def __init__(self, pool: asyncpg.Pool, fake: FakeStripe, stripe: StripeCards) -> None:
        self.pool = pool
        self.fake = fake
        self.numbers = [f"+1555{next(_numbers):07d}" for _ in range(2)]
        # In the past, so rows the clock queues are due for the store's now().
        self.now = datetime.now(UTC).replace(microsecond=0) - timedelta(days=3)
        self.latest = datetime.now(UTC) - timedelta(minutes=1)
        fake.clock = lambda: self.now.timestamp()  # Checkout pages close on this clock
        self.writer = DecisionWriter(RULES)
        self.billing = BillingService(pool, RULES, aggregator=get_profile("amount_tlv"),
                                      cards=stripe, card_retry_after_s=0.0, expiry_grace_s=0.0,
                                      clock=lambda: self.now)
        self.submitted: list[str] = []

    def advance(self, seconds: float) -> None:
        self.now = min(self.now + timedelta(seconds=seconds), self.latest)

    async def run(self, step: tuple[Any, ...]) -> None:
        self.advance(1)
        match step:
            case ("mo", who, body):
                mo_id = next(_mo_ids)
                mo = NewInbound(self.numbers[who], SHORTCODE, body, 0, 1, self.now)
                async with self.pool.acquire() as conn, conn.transaction():
                    await inbound_store.insert_batch(conn, [mo], [mo_id])
                    await self.writer.decide_and_write(conn, [(mo_id, mo)])
            case ("give_yes", who, amount):
                await self.run(("mo", who, f"GIVE {amount}"))
                await self.run(("mo", who, "YES"))
            case ("tick",):
                await self.billing.tick()
            case ("send",):
                await self.send()
            case ("receipt", index, (stat, err, final)):
                if self.submitted:
                    smsc_id = self.submitted[index % len(self.submitted)]
                    async with self.pool.acquire() as conn, conn.transaction():
                        await outbound_store.record_receipts(
                            conn, [NewReceipt(smsc_id, stat, err, final)])
            case ("webhook", index):
                if self.fake.events:
                    event = parse_event(webhook_body(
                        self.fake.events[index % len(self.fake.events)]).decode())
                    async with self.pool.acquire() as conn, conn.transaction():
                        await record_stripe_event(event, conn)
            case ("pay_checkout", index):
                open_pages = [s for s in self.fake.sessions.values()
                              if s["mode"] == "payment" and s["status"] == "open"]
                if open_pages:
                    paid = self.fake.complete_checkout(open_pages[index % len(open_pages)]["id"])
                    async with self.pool.acquire() as conn, conn.transaction():
                        await record_stripe_event(parse_event(webhook_body(paid).decode()), conn)
            case ("stripe_fault", after):
                self.fake.fail_next(1, after_processing=after)
            case ("later", seconds):
                self.advance(seconds)

    async def settle_everything(self) -> None:
        """Charge what is confirmed, send what is queued, deliver every billed MT."""
        for _ in range(2):
            await self.run(("tick",))
            await self.run(("send",))
            for index in range(len(self.submitted)):
                await self.run(("receipt", index, ("DELIVRD", "000", True)))
        await self.run(("tick",))

    async def send(self) -> None:
        """What the outbox sender does with an accepted submit_sm, for every due MT."""
        async with self.pool.acquire() as conn, conn.transaction():
            claimed, _ = await outbound_store.claim(conn, limit=100, owner="prop",
                                                     lease_seconds=60)
            results = [(m.id, [f"smsc-{next(_smsc_ids)}"]) for m in claimed]
            await outbound_store.mark_submitted(conn, results)
        self.submitted += [ids[0] for (mt_id, ids), m in zip(results, claimed, strict=True)
                           if m.donation_id is not None]


async def save_card(pool: asyncpg.Pool, fake: FakeStripe, stripe: StripeCards, msisdn: str,
                    card: str) -> None:
    """What setup-mode Checkout and its webhook leave: a card of the fake's bound to the number."""
    customer = await stripe.create_customer(msisdn=msisdn)
    link = await stripe.create_checkout_session(mode="setup", msisdn=msisdn, customer_id=customer)
    completed = fake.complete_checkout(link.session_id, card=card)
    saved = await stripe.saved_card_from_setup_intent(
        completed["data"]["object"]["setup_intent"])
    async with pool.acquire() as conn:
        await stripe_store.insert_saved_cards(conn, [SavedCardRow(
            saved.payment_method_id, msisdn, saved.customer_id, saved.brand, saved.last4, None,
            datetime.now(UTC))])


async def check_properties(pool: asyncpg.Pool, fake: FakeStripe) -> None:
    async with pool.acquire() as conn:
        donations = {r["id"]: r for r in await conn.fetch("SELECT * FROM donations")}
        events = await donation_store.list_events(conn, sorted(donations))
        yeses = {r["id"]: (r["msisdn"], r["body"]) for r in await conn.fetch(
            "SELECT id, msisdn, body FROM inbound")}
        billed_mts = Counter(r["donation_id"] for r in await conn.fetch(
            "SELECT donation_id FROM outbound WHERE donation_id IS NOT NULL"))
    intents = Counter(int(p["metadata"]["donation_ref"]) for p in fake.payment_intents.values())
    for p in fake.payment_intents.values():  # examples share the database, not the fake
        PAYMENT_INTENTS[int(p["metadata"]["donation_ref"])].append(p)
    pages = PAYMENT_INTENTS
    assert all(n == 1 for n in intents.values()), intents
    assert all(n == 1 for n in billed_mts.values()), billed_mts
    paid: dict[tuple[str, str], list[tuple[int, str, datetime]]] = defaultdict(list)
    for donation_id, row in donations.items():
        history = events.get(donation_id, [])
        state = derive_state(history)  # raises on any illegal order
        event(f"{row['method']} {state.status}")  # --hypothesis-show-statistics
        kinds = [e.kind for e in history]
        attempts = [k for k in kinds if k in ("billing_submitted", "charge_requested")]
        assert len(attempts) <= 1, kinds
        assert sum(k in PAID for k in kinds) <= 1, kinds
        charged = bool(attempts) or donation_id in intents or donation_id in billed_mts
        if not charged:
            assert not any(k in PAID for k in kinds), kinds
            continue
        assert "confirmed" in kinds and kinds.index("confirmed") < kinds.index(attempts[0])
        yes = next(e for e in history if e.kind == "confirmed")
        if yes.data.get("by") == "checkout":  # paid on its own Checkout page, at Stripe
            assert any(p["status"] == "succeeded" and p["amount"] == row["amount_cents"]
                       for p in pages.get(donation_id, [])), donation_id
        else:
            assert yes.inbound_id is not None
            msisdn, body = yeses[yes.inbound_id]
            assert msisdn == row["msisdn"] and body.strip().upper() == "YES"
        assert state.confirmed_at is not None
        paid[(row["msisdn"], row["committee"])].append(
            (row["amount_cents"], row["method"], state.confirmed_at))
    for gifts in paid.values():
        check_limits(gifts)


def check_limits(gifts: list[tuple[int, str, datetime]]) -> None:
    """Every gift that may be taken, summed per window, stays within the limits."""
    for amount, method, at in gifts:
        windows = POLICY.windows(at)
        if method == "carrier":
            assert amount <= POLICY.per_text_cents
            month = sum(a for a, m, t in gifts if m == "carrier"
                        and windows.month[0] <= t < windows.month[1])
            cycle = sum(a for a, m, t in gifts if m == "carrier"
                        and windows.cycle[0] <= t < windows.cycle[1])
            assert month <= POLICY.per_month_by_phone_cents, gifts
            assert cycle <= POLICY.per_cycle_by_phone_cents, gifts
        election = sum(a for a, _, t in gifts if windows.election[0] <= t < windows.election[1])
        assert election <= POLICY.per_election_cents, gifts


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(card=cards, history=st.lists(steps, min_size=1, max_size=25))
async def test_random_histories_never_charge_twice_or_without_a_yes_or_over_a_limit(
    pool: asyncpg.Pool, card: str | None, history: list[tuple[Any, ...]]
) -> None:
    async with running_fake_stripe() as fake, StripeCards(stripe_config(fake)) as stripe:
        world = History(pool, fake, stripe)
        if card is not None:
            await save_card(pool, fake, stripe, world.numbers[0], card)
        for step in history:
            await world.run(step)
        await world.settle_everything()
        await check_properties(pool, fake)
