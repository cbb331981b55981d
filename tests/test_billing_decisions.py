"""The billing decisions (billing/decisions.py), pure: hypothesis over gifts, facts and answers.

No database: the decisions are functions of what the runner read, so every
order of ticks, Stripe answers, webhooks and receipts can be tried here, and
the ledger (billing/ledger.py) judges what they record:

- a decision only records an event the ledger allows from the gift's status,
  so the database (which enforces the same table) never drops what was decided;
- nothing is charged over a legal limit, without the donor's details the law
  asks for, after a STOP, or once a reload removed the program; and a gift
  within every limit, with its details on file and a way to pay, is charged:
  a refusal always has a reason;
- one charge attempt and at most one paid outcome per gift, whatever comes
  in whatever order; a webhook's events are legal in sequence (a repeated dispute
  aside, which the database drops as a repeat).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from gateway.billing import ledger
from gateway.billing.aggregators import get_profile
from gateway.billing.decision_types import (
    Append,
    Cancel,
    CarrierBilling,
    DonorFacts,
    Hold,
    Mismatched,
    NeedFacts,
    NotApplied,
    OfferPage,
    Refuse,
    RequestCharge,
    SendLink,
    Settle,
    Skip,
    SubmitBilledMt,
    Wait,
)
from gateway.billing.decisions import (
    on_charge,
    on_confirmed,
    on_page,
    on_receipt,
    on_request,
    on_webhook,
)
from gateway.billing.ledger import DonationEvent, DonationState
from gateway.billing.policy import DonationPolicy, DonorTotals
from gateway.billing.stripe_client import (
    ChargeResult,
    CheckoutLink,
    StripeFailure,
    StripeRejected,
    StripeUnavailable,
)
from gateway.billing.stripe_events import (
    Charged,
    CheckoutPaid,
    Disputed,
    Outcome,
    PaymentFailed,
    Refunded,
)
from gateway.engine import load_rules
from gateway.store.billing import FinalBilledMt, LockedDonation
from gateway.store.donations import DonationRow
from gateway.store.stripe_store import SavedCardRow

ROOT = Path(__file__).resolve().parents[1]
RULES = load_rules(ROOT / "keywords.yaml")
RISE = DonationPolicy.from_rules(RULES, "rise", "12345")  # us: carrier and card
ENSEMBLE = DonationPolicy.from_rules(RULES, "ensemble", "38200")  # fr: card only
NOW = datetime(2024, 5, 15, 15, 0, tzinfo=UTC)
CARD = SavedCardRow("pm_1", "+12125550123", "cus_1", "visa", "4242", None, NOW)
AMOUNT_TLV = CarrierBilling(get_profile("amount_tlv"))

policies = st.sampled_from([RISE, ENSEMBLE])
methods = st.sampled_from(["carrier", "card"])
amounts = st.one_of(st.sampled_from([500, 1000, 2500, 6000, 25000]),
                    st.integers(1, 400_000))
confirmed_ats = st.one_of(st.none(), st.integers(0, 90 * 24 * 60).map(
    lambda minutes: NOW - timedelta(minutes=minutes)))
cents = st.one_of(st.integers(0, 6000), st.integers(0, 25_000), st.integers(0, 400_000))
facts_on_file = st.fixed_dictionaries({
    name: st.sampled_from([None, "", "  ", "known"])
    for name in ("name", "address", "employer", "occupation")})
cards = st.sampled_from([None, CARD])
carriers = st.one_of(st.just(AMOUNT_TLV), st.builds(
    CarrierBilling, st.just(get_profile("tariff_code")),
    st.dictionaries(st.sampled_from([500, 1000]), st.just("DON"))))


def gift(policy: DonationPolicy, method: str, amount: int, status: str,
         confirmed_at: datetime | None = None) -> DonationRow:
    return DonationRow(
        7, "+12125550123", policy.shortcode, policy.program, policy.committee, method, amount,
        policy.currency, NOW - timedelta(hours=1), NOW + timedelta(hours=23), confirmed_at,
        status, NOW - timedelta(minutes=1))


@dataclass(frozen=True, slots=True)
class Read:
    """What the runner would read for a NeedFacts (the totals for its windows)."""

    month: int
    cycle_by_phone: int
    cycle: int
    election: int
    on_file: dict[str, str | None]
    card: SavedCardRow | None

    def facts(self, need: NeedFacts) -> DonorFacts:
        totals = DonorTotals(need.windows, self.month, self.cycle_by_phone, self.cycle,
                             self.election)
        return DonorFacts(totals, self.on_file, self.card if need.card else None)


reads = st.builds(Read, cents, cents, cents, cents, facts_on_file, cards)


def confirmed(d: DonationRow, policy: DonationPolicy | None, read: Read, *, opted_out: bool,
              carrier: CarrierBilling = AMOUNT_TLV) -> Any:
    first = on_confirmed(d, policy, opted_out=opted_out, facts=None, carrier=carrier, now=NOW)
    if not isinstance(first, NeedFacts):
        return first
    return on_confirmed(d, policy, opted_out=opted_out, facts=read.facts(first),
                        carrier=carrier, now=NOW)


def requested(d: DonationRow, policy: DonationPolicy | None, read: Read, *,
              stripe: bool = True) -> Any:
    first = on_request(d, policy, stripe=stripe, facts=None, now=NOW)
    if not isinstance(first, NeedFacts):
        return first
    return on_request(d, policy, stripe=stripe, facts=read.facts(first), now=NOW)


@settings(max_examples=400)
@given(policies, methods, amounts, st.sampled_from(sorted(ledger.STATUSES)), confirmed_ats,
       reads, st.booleans(), st.booleans(), st.booleans())
def test_a_decision_records_only_what_the_ledger_allows_from_the_status(
    policy: DonationPolicy, method: str, amount: int, status: str,
    confirmed_at: datetime | None, read: Read, opted_out: bool, stripe: bool, gone: bool,
) -> None:
    d = gift(policy, method, amount, status, confirmed_at)
    known = None if gone else policy
    for decision in (confirmed(d, known, read, opted_out=opted_out),
                     requested(d, known, read, stripe=stripe)):
        kind = getattr(decision, "kind", None)
        assert kind is None or ledger.allows(status, kind, method), (status, decision)
        assert isinstance(decision, Skip) or ledger.allows(status, "confirmation_sent", method) \
            or ledger.allows(status, "billing_submitted", method) \
            or ledger.allows(status, "charge_requested", method), (status, decision)


def within_limits(policy: DonationPolicy, d: DonationRow, read: Read, at: datetime) -> bool:
    """The legal limits, written out again: the per-text, monthly and cycle limits bind
    carrier money per number; the per-election one binds every method."""
    w = policy.windows(at)
    amount = d.amount_cents
    if d.method not in policy.methods or not w.election[0] <= at < w.election[1]:
        return False
    if d.method == "carrier" and (
            amount not in policy.price_points or amount > policy.per_text_cents
            or read.month + amount > policy.per_month_by_phone_cents
            or read.cycle_by_phone + amount > policy.per_cycle_by_phone_cents):
        return False
    return read.election + amount <= policy.per_election_cents


def details_on_file(policy: DonationPolicy, d: DonationRow, read: Read) -> bool:
    aggregate = read.cycle + d.amount_cents
    needed = (["name", "address"] if aggregate > policy.details_name_address_over_cents
              else []) + (["employer", "occupation"]
                          if aggregate > policy.details_employer_over_cents else [])
    return all((read.on_file.get(name) or "").strip() for name in needed)


@settings(max_examples=400)
@given(policies, methods, amounts, confirmed_ats, reads, st.booleans(), st.booleans(),
       carriers)
def test_a_confirmed_gift_is_charged_exactly_when_every_rule_allows_it(
    policy: DonationPolicy, method: str, amount: int, confirmed_at: datetime | None,
    read: Read, opted_out: bool, gone: bool, carrier: CarrierBilling,
) -> None:
    d = gift(policy, method, amount, "confirmed", confirmed_at)
    decision = confirmed(d, None if gone else policy, read, opted_out=opted_out,
                         carrier=carrier)
    at = confirmed_at or NOW
    payable = (carrier.aggregator.name == "amount_tlv" or amount in carrier.tariff_codes) \
        if method == "carrier" else read.card is not None
    allowed = not opted_out and not gone and within_limits(policy, d, read, at) \
        and details_on_file(policy, d, read) and payable
    assert isinstance(decision, SubmitBilledMt | RequestCharge) == allowed, decision
    if opted_out or gone:
        assert isinstance(decision, Cancel)
    elif not within_limits(policy, d, read, at):
        assert isinstance(decision, Refuse) and decision.reason != "no_saved_card"
    elif not details_on_file(policy, d, read):
        assert isinstance(decision, Hold) and decision.missing
    if isinstance(decision, SubmitBilledMt):
        assert decision.body == policy.render("thanks", amount=policy.money(amount))


@settings(max_examples=400)
@given(policies, amounts, reads, st.booleans())
def test_a_card_request_gets_a_page_only_within_the_limits_and_with_its_details(
    policy: DonationPolicy, amount: int, read: Read, stripe: bool,
) -> None:
    d = gift(policy, "card", amount, "requested")
    decision = requested(d, policy, read, stripe=stripe)
    allowed = stripe and within_limits(policy, d, read, NOW) \
        and details_on_file(policy, d, read)
    assert isinstance(decision, OfferPage) == allowed, decision
    if not stripe:
        assert isinstance(decision, Refuse) and decision.reason == "method_unavailable"


# -- one charge attempt per gift, whatever the order ----------------------------------------

webhook_kinds = st.sampled_from(["charged", "page_paid", "failed", "refunded", "disputed",
                                 "wrong_amount"])
charge_answers = st.sampled_from(["succeeded", "failed", "requires_action", "processing",
                                  "rejected", "unavailable"])
page_answers = st.sampled_from(["link", "rejected", "unavailable"])
actions = st.one_of(
    st.tuples(st.just("yes")), st.tuples(st.just("tick"), reads, st.booleans()),
    st.tuples(st.just("page"), page_answers), st.tuples(st.just("charge"), charge_answers),
    *[st.tuples(st.just("webhook"), webhook_kinds, st.integers(1, 1000))] * 3,  # often
    st.tuples(st.just("receipt"), st.sampled_from(["DELIVRD", "UNDELIV", "REJECTD"])),
    st.tuples(st.just("details")), st.tuples(st.just("expire")),
)


@dataclass
class Life:
    """One gift's ledger, driven the way the runner would drive it."""

    policy: DonationPolicy
    method: str
    amount: int
    state: DonationState
    events: list[DonationEvent] = field(default_factory=list)
    pages: int = 0  # pages asked for and not yet answered
    charges: int = 0  # charges asked for and not yet answered
    minute: int = 0

    def row(self) -> DonationRow:
        return gift(self.policy, self.method, self.amount, self.state.status,
                    self.state.confirmed_at)

    def locked(self) -> LockedDonation:
        return LockedDonation(self.state.status, self.amount, self.policy.currency,
                              self.method, self.state.refunded_cents)

    def at(self) -> datetime:
        self.minute += 1
        return NOW + timedelta(minutes=self.minute)

    def record(self, kind: str, amount: int | None = None) -> None:
        """What the ledger (and the database) must take: raises on an illegal event."""
        event = DonationEvent(kind, self.at(), amount, self.policy.currency if amount else None)
        self.state = ledger.apply(self.state, event)
        self.events.append(event)

    def maybe(self, kind: str, amount: int | None = None) -> None:
        """What may be dropped as late or repeated (nobody read the status first)."""
        if kind in ("charged", "billed") and amount is None:
            amount = self.amount
        try:
            self.record(kind, amount)
        except ledger.LedgerError:
            assert self.state.outcome is not None or kind == "requires_action"


def run(life: Life, action: tuple[Any, ...]) -> None:
    d, policy = life.row(), life.policy
    match action:
        case ("yes",) if ledger.allows(d.status, "confirmed", d.method) and life.events[
                -1].kind == "confirmation_sent":
            life.record("confirmed", life.amount)
        case ("tick", read, opted_out):
            decision = confirmed(d, policy, read, opted_out=opted_out) \
                if d.status == "confirmed" else requested(d, policy, read)
            if isinstance(decision, OfferPage):
                life.pages += 1
            elif not isinstance(decision, Skip):
                life.record(decision.kind, life.amount if isinstance(
                    decision, SubmitBilledMt | RequestCharge) else None)
                life.charges += isinstance(decision, RequestCharge)
        case ("page", answer) if life.pages:
            life.pages -= 1
            replies: dict[str, CheckoutLink | StripeFailure] = {
                "link": CheckoutLink("cs_1", "https://pay.example/cs_1"),
                "rejected": StripeRejected("no"), "unavailable": StripeUnavailable("down")}
            reply = replies[answer]
            decided = on_page(d, policy, reply, status=d.status, closes=NOW)
            if isinstance(decided, SendLink | Refuse):
                life.record(decided.kind)
            elif isinstance(decided, Wait):
                life.pages += 1
        case ("charge", answer) if life.charges:
            life.charges -= 1
            result: ChargeResult | StripeFailure = {
                "rejected": StripeRejected("no"), "unavailable": StripeUnavailable("down")
            }.get(answer) or ChargeResult(answer, "pi_1", action_url="https://bank.example")
            settled = on_charge(d, policy, result)
            if isinstance(settled, Settle):
                life.maybe(settled.kind, life.amount if settled.money else None)
            else:
                life.charges += 1  # asked again later with the same key
        case ("webhook", kind, refund):
            outcome = webhook(kind, life.amount, refund)
            decided_hook = on_webhook(outcome, life.locked(), donation_id=7, at=NOW)
            assert not isinstance(decided_hook, Append) or kind != "wrong_amount"
            if isinstance(decided_hook, Append):
                for event in decided_hook.events:
                    if event.kind == "disputed" and life.state.disputed:
                        continue  # Stripe's repeat: donation_events_once_idx drops it
                    life.record(event.kind, event.amount_cents)
            if kind == "wrong_amount":
                assert isinstance(decided_hook, Mismatched)
        case ("receipt", stat) if d.status == "billing_submitted":
            mt = FinalBilledMt(7, life.amount, "USD", 1, "delivered" if stat == "DELIVRD"
                               else "undeliverable", None, NOW, stat, "000", "m1")
            event = on_receipt(get_profile("amount_tlv"), mt, now=NOW)
            life.record(event.kind, event.amount_cents)
        case ("details",) if d.status == "awaiting_details":
            life.record("details_received")
        case ("expire",) if d.status in ("requested", "awaiting_confirmation",
                                         "awaiting_details"):
            life.record("expired")


def webhook(kind: str, amount: int, refund: int) -> Outcome:
    currency = "usd"
    if kind == "charged":
        return Charged(7, amount, currency, "pi_1", "ch_1", None)
    if kind == "page_paid":
        return CheckoutPaid(7, None, amount, currency, "paid", "pi_1", None, "cs_1")
    if kind == "failed":
        return PaymentFailed(7, "pi_1", "card_declined", None)
    if kind == "refunded":
        return Refunded(7, "ch_1", "pi_1", amount, min(refund, amount), currency)
    if kind == "disputed":
        return Disputed(7, "dp_1", "ch_1", "pi_1", min(refund, amount), currency, None)
    return Charged(7, amount + 1, currency, "pi_1", "ch_1", None)


@settings(max_examples=400)
@given(st.sampled_from(["carrier", "card"]), st.booleans(), st.sampled_from([500, 1000, 2500]),
       st.lists(actions, max_size=30))
@example("card", False, 500, [("webhook", "charged", 1), ("webhook", "disputed", 1),
                              ("webhook", "disputed", 1)])  # Stripe says it twice
def test_one_charge_attempt_and_one_paid_outcome_per_gift_in_any_order(
    method: str, checkout: bool, amount: int, steps: list[tuple[Any, ...]],
) -> None:
    checkout = checkout and method == "card"
    first = DonationEvent("requested", NOW, amount, "USD", {"method": method})
    life = Life(RISE, method, amount, ledger.apply(None, first), [first])
    if not checkout:
        life.record("confirmation_sent")
    for step in steps:
        run(life, step)
    kinds = [e.kind for e in life.events]
    assert sum(k in ledger.CHARGE_ATTEMPTS for k in kinds) <= 1, kinds
    assert sum(k in ledger.PAID for k in kinds) <= 1, kinds
    assert ledger.derive_state(life.events) == life.state  # the same ledger, replayed


def test_a_card_declined_on_its_page_leaves_the_gift_open_but_fails_a_charge() -> None:
    """The donor may try another card on the same Checkout page; a saved card that is
    declined off-session is the gift's outcome."""
    declined = PaymentFailed(7, "pi_1", "card_declined", None)
    on_page_open = LockedDonation("awaiting_confirmation", 2500, "USD", "card", 0)
    assert isinstance(on_webhook(declined, on_page_open, donation_id=7, at=NOW), NotApplied)
    charging = LockedDonation("charge_requested", 2500, "USD", "card", 0)
    decided = on_webhook(declined, charging, donation_id=7, at=NOW)
    assert isinstance(decided, Append) and [e.kind for e in decided.events] == ["failed"]
