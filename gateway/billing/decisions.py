"""What the billing side does with a donation, decided without I/O: its money rules, pure.

Why a core apart from the service that runs it (goflow/mailroom's split, as
the engine is for MOs): every rule about money (the limits before a charge,
the donor's details before a charge or a payment page, one charge attempt
per YES, which answer from Stripe or which carrier receipt settles what) is
a function of facts the runner has read and of the time it passes in. Each
function returns one frozen decision; the runner records it (store calls,
Stripe, the outbox): service.py for the billing service's ticks,
webhook_ledger.py for Stripe's webhooks. So the rules are property-tested
without a database (tests/test_billing_decisions.py), and the runner keeps
only the order of its reads and writes.

A decision that records a ledger event names it (`kind`), and only an event
ledger.py's table allows from the donation's status is ever chosen; for a
row in another status the answer is `Skip`. The database enforces the same
table (migration 100), so a decision and the trigger cannot disagree. Every
text comes from the program's `donations:` templates (policy.render).

    a card request waiting for its page   on_request   Cancel|Refuse|Hold|OfferPage
    a confirmed gift (the YES)            on_confirmed Cancel|Refuse|Hold|SubmitBilledMt|
                                                       RequestCharge
    Stripe's answer to the page           on_page      SendLink|Refuse|Wait
    Stripe's answer to a charge           on_charge    Settle|Wait
    a final billed MT (carrier receipt)   on_receipt   the billed or failed event
    a Stripe webhook                      on_webhook   Append|Mismatched|PaidAfterClose|
                                                       NotApplied
    the expiry sweep                      expiry       ExpirySweep

`on_request` and `on_confirmed` first answer `NeedFacts` (what to read:
the donor's totals for these windows, what is on file, the saved card);
the runner reads them under the donor's lock and asks again with them.
The decisions' types are in decision_types.py.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final, Protocol, TypeVar

from gateway.billing import ledger
from gateway.billing.aggregators import (
    AggregatorProfile,
    BilledDonation,
    BillingParameterError,
    ReceiptOutcome,
    billing_parameters,
    classify_receipt,
    price_point_code,
)
from gateway.billing.decision_types import (
    Append,
    Cancel,
    CarrierBilling,
    ConfirmedDecision,
    DonorFacts,
    ExpirySweep,
    Hold,
    Mismatched,
    NeedFacts,
    NotApplied,
    OfferPage,
    PageDecision,
    PaidAfterClose,
    Problem,
    Refuse,
    RequestCharge,
    RequestDecision,
    SendLink,
    Settle,
    Skip,
    SubmitBilledMt,
    Wait,
    WebhookDecision,
)
from gateway.billing.event_checks import mismatch
from gateway.billing.policy import (
    DETAILS_HOLD,
    EMPLOYER_OCCUPATION,
    DonationPolicy,
    check_limits,
    method_unavailable,
    missing_details,
    required_details,
)
from gateway.billing.stripe_client import (
    ChargeResult,
    CheckoutLink,
    StripeFailure,
    StripeRejected,
)
from gateway.billing.stripe_events import Charged, CheckoutPaid, Disputed, Outcome, PaymentFailed
from gateway.billing.stripe_events import Refunded as RefundedEvent
from gateway.engine import Rules
from gateway.engine.donation_texts import default_templates
from gateway.engine.donor_details import first_question
from gateway.engine.gift_requests import CARD, CARRIER
from gateway.store.billing import FinalBilledMt, LockedDonation
from gateway.store.donations import DonationRow, NewDonationEvent

# Stripe takes a session's expires_at between 30 minutes and 24 hours after it is
# created. The value must be the same on every attempt for one donation (it is
# part of the idempotent request), so it is anchored on the donation's latest
# event, not on the clock: the page opens within seconds of that event, and
# SLACK covers retries for a while (and clock skew) before Stripe would refuse it.
PAGE_SHORTEST: Final = timedelta(minutes=30)
PAGE_LONGEST: Final = timedelta(hours=24)
SLACK: Final = timedelta(minutes=10)
# A gift closed without money: paid on its page anyway, finance refunds it.
CLOSED_UNPAID: Final = frozenset({"expired", "cancelled", "refused"})


# -- the decisions ----------------------------------------------------------------------


def policy_for(rules: Rules, d: DonationRow) -> DonationPolicy | None:
    """The gift's program as the rules in force say; None once a reload removed it."""
    try:
        return DonationPolicy.from_rules(rules, d.program, d.shortcode)
    except KeyError:
        return None


def on_request(d: DonationRow, policy: DonationPolicy | None, *, stripe: bool,
               facts: DonorFacts | None, now: datetime) -> RequestDecision:
    """A card request from a number without a saved card: its Checkout page, once the
    limits and the law's details allow it. No page can be made without Stripe, and no
    other method could take the gift: it is refused at once, never left to expire."""
    if not ledger.allows(d.status, "confirmation_sent", d.method):
        return Skip(f"a {d.status} gift waits for no page")
    if policy is None:
        return _legal(d, Cancel("rules_changed"))
    if not stripe:
        refusal = method_unavailable(policy, d.amount_cents)
        return _legal(d, Refuse(refusal.reason, refusal.text,
                                problem=Problem("checkout_without_stripe_key", level="warning")))
    if facts is None:
        return NeedFacts(policy.windows(now), card=False)
    held = _limits_and_details(d, policy, facts, at=now, now=now)
    if held is not None:
        return _legal(d, held)
    return OfferPage(page_expires_at(d), policy.render("checkout_description"))


def on_confirmed(d: DonationRow, policy: DonationPolicy | None, *, opted_out: bool,
                 facts: DonorFacts | None, carrier: CarrierBilling, now: datetime
                 ) -> ConfirmedDecision:
    """A gift its donor confirmed: one charge attempt, or why not. The limits count it at
    its legal date of receipt (the YES), whenever the service runs."""
    attempt = "billing_submitted" if d.method == CARRIER else "charge_requested"
    if not ledger.allows(d.status, attempt, d.method):
        return Skip(f"a {d.status} gift is not charged")
    if opted_out:  # STOP after the YES, before the charge: nothing is taken
        return _legal(d, Cancel("opted_out"))
    if policy is None:
        return _legal(d, Cancel("rules_changed"))
    at = d.confirmed_at or now
    if facts is None:
        return NeedFacts(policy.windows(at), card=d.method == CARD)
    held = _limits_and_details(d, policy, facts, at=at, now=now)
    if held is not None:
        return _legal(d, held)
    if d.method == CARRIER:
        return _legal(d, _billed_mt(d, policy, carrier))
    if facts.card is None:
        return _legal(d, Refuse("no_saved_card", _unavailable(policy, d)))
    return _legal(d, RequestCharge(facts.card.customer_id, facts.card.payment_method_id))


def on_page(d: DonationRow, policy: DonationPolicy, answer: CheckoutLink | StripeFailure, *,
            status: str | None, closes: datetime) -> PageDecision:
    """Stripe answered the page request; `status` is the donation's, read under its lock
    after the answer (it may have expired or been cancelled meanwhile)."""
    if isinstance(answer, StripeFailure) and not isinstance(answer, StripeRejected):
        return Wait("checkout_retry_later", str(answer))  # the same idempotency key next tick
    if status is None:
        return Skip("no such donation")
    if isinstance(answer, StripeRejected):
        return _legal(d, Refuse("checkout_rejected", _unavailable(policy, d),
                                problem=Problem("checkout_rejected", str(answer))),
                      status=status)
    return _legal(d, SendLink(answer.session_id, closes, link_text(policy, d, answer)),
                  status=status)


def on_charge(d: DonationRow, policy: DonationPolicy | None,
              answer: ChargeResult | StripeFailure) -> Settle | Wait:
    """Stripe answered a saved-card charge."""
    if isinstance(answer, StripeRejected):
        return Settle("failed", data={"reason": str(answer)})
    if isinstance(answer, StripeFailure):  # unavailable: retried later with the same key
        return Wait("card_charge_retry_later", str(answer))
    if answer.status == "succeeded":
        text = policy.render("thanks", amount=policy.money(d.amount_cents)) if policy else ""
        return Settle("charged", answer.payment_intent_id, text, money=True)
    if answer.status == "failed":
        return Settle("failed", answer.payment_intent_id,
                      data={"decline_code": answer.decline_code})
    if answer.status == "requires_action":
        link = answer.action_url or ""
        return Settle("requires_action", answer.payment_intent_id,
                      requires_action_text(policy, link) if link else "")
    return Wait("processing")  # the payment_intent webhook settles it


def on_receipt(profile: AggregatorProfile, mt: FinalBilledMt, *, now: datetime
               ) -> NewDonationEvent:
    """A billed MT whose message is final: `billed` (every part delivered) or `failed`
    (undeliverable, rejected, or refused at submit: nothing was billed). Never retried:
    a new gift needs a new YES."""
    outcome = receipt_outcome(profile, mt)
    billed = outcome.kind == "billed"
    return NewDonationEvent(
        mt.donation_id, outcome.kind, mt.final_at or now,
        mt.amount_cents if billed else None, mt.currency if billed else None,
        data={"reason": outcome.reason, "billing_error": outcome.billing_error,
              "stat": mt.stat, "err": mt.error_code},
        outbound_id=mt.outbound_id, external_ref=mt.smsc_message_id)


def receipt_outcome(profile: AggregatorProfile, mt: FinalBilledMt) -> ReceiptOutcome:
    if mt.outbound_status == "failed":  # refused at submit_sm: nothing was billed
        return ReceiptOutcome("failed", f"submit_refused:{mt.last_error or ''}")
    found = classify_receipt(profile, stat=mt.stat or "UNKNOWN", err=mt.error_code or "000",
                             final=True)
    assert found is not None  # final=True always classifies
    return found


def on_webhook(outcome: Outcome, row: LockedDonation, *, donation_id: int, at: datetime
               ) -> WebhookDecision:
    """A signed Stripe event about one of our gifts, checked against it (event_checks.py),
    applied only as events the ledger allows from its status. A repeat or a late event
    (a `payment_intent.succeeded` after our own call recorded `charged`) is not applied."""
    wrong = mismatch(outcome, row)
    if wrong is not None:
        return Mismatched(wrong)
    paid_on_page = (isinstance(outcome, CheckoutPaid) and outcome.payment_status == "paid") \
        or isinstance(outcome, Charged)
    if paid_on_page and row.method == CARD and ledger.allows(row.status, "confirmed", CARD):
        return Append(_paid_on_page(outcome, row, donation_id, at))
    if paid_on_page and row.status in CLOSED_UNPAID:
        return PaidAfterClose(row.status)
    new: NewDonationEvent | None = None
    if isinstance(outcome, Charged) and ledger.allows(row.status, "charged", row.method):
        new = NewDonationEvent(donation_id, "charged", at, row.amount_cents, row.currency,
                               data={"by": "webhook"}, external_ref=outcome.payment_intent_id)
    elif isinstance(outcome, PaymentFailed) and row.method == CARD \
            and ledger.allows(row.status, "failed", row.method):
        new = NewDonationEvent(donation_id, "failed", at,
                               data={"decline_code": outcome.decline_code, "by": "webhook"},
                               external_ref=outcome.payment_intent_id)
    elif isinstance(outcome, RefundedEvent) and row.status in ledger.MONEY_TAKEN:
        more = outcome.amount_refunded_cents - row.refunded_cents  # Stripe's is cumulative
        if more > 0:
            new = NewDonationEvent(donation_id, "refunded", at, more, row.currency,
                                   external_ref=f"{outcome.charge_id}:"
                                                f"{outcome.amount_refunded_cents}")
    elif isinstance(outcome, Disputed) and row.status in ledger.MONEY_TAKEN:
        new = NewDonationEvent(donation_id, "disputed", at, data={"reason": outcome.reason},
                               external_ref=outcome.dispute_id)
    return NotApplied(row.status) if new is None else Append((new,))


def expiry(now: datetime, *, grace: timedelta) -> ExpirySweep:
    return ExpirySweep(before=now - grace, details_within_s=DETAILS_HOLD.total_seconds())


# -- pieces ---------------------------------------------------------------------------


def page_expires_at(d: DonationRow) -> datetime:
    """When the donation's Checkout page closes: with the request, clamped to Stripe's
    window. A request shorter than 40 minutes keeps its page 40 minutes, and the
    expiry sweep waits for the page (store/donations.py EXPIRE_DUE)."""
    anchor = d.last_event_at or d.requested_at
    return min(max(d.expires_at, anchor + PAGE_SHORTEST + SLACK),
               anchor + PAGE_LONGEST - SLACK)


def card_programs(rules: Rules) -> list[str]:
    """Programs whose keywords.yaml offers card gifts (explicitly or by profile default)."""
    return sorted(pid for pid, donation in rules.donations.items() if CARD in donation.methods)


def hold_text(policy: DonationPolicy, d: DonationRow, hold: Hold, link: str) -> str:
    """The details text with its link, then the SMS dialog's first question."""
    text = policy.render(hold.text_name, amount=policy.money(d.amount_cents),
                         limit=policy.money(hold.limit_cents), details_url=link)
    return f"{text} {first_question(policy.render, hold.missing)}"


def link_text(policy: DonationPolicy, d: DonationRow, link: CheckoutLink) -> str:
    """The SMS with the page; the certification and terms are on the page and in the text."""
    return policy.render("checkout_link", amount=policy.money(d.amount_cents),
                         checkout_url=link.url)


def requires_action_text(policy: DonationPolicy | None, link: str) -> str:
    """The bank wants the donor on its page. A program removed by a reload still gets the
    US wording, without a committee name."""
    if policy is not None:
        return policy.render("requires_action", action_url=link)
    return default_templates("us")["requires_action"].render({"action_url": link}).lstrip(": ")


def _limits_and_details(d: DonationRow, policy: DonationPolicy, facts: DonorFacts, *,
                        at: datetime, now: datetime) -> Refuse | Hold | None:
    refusal = check_limits(d.amount_cents, d.method, facts.totals, policy, at)
    if refusal is not None:
        return Refuse(refusal.reason, refusal.text, refusal.limit_cents)
    missing = missing_details(required_details(d.amount_cents, facts.totals, policy),
                              facts.on_file)
    if not missing:
        return None
    employer = bool(missing & EMPLOYER_OCCUPATION)
    return Hold(missing, "details_employer" if employer else "details_name_address",
                policy.details_employer_over_cents if employer
                else policy.details_name_address_over_cents, now + DETAILS_HOLD)


def _billed_mt(d: DonationRow, policy: DonationPolicy, carrier: CarrierBilling
               ) -> SubmitBilledMt | Refuse:
    """The aggregator's own tariff code for the price point: one missing is a configuration
    error at start-up, refused here (with a log line) if a reload slips one through."""
    try:
        code = price_point_code(carrier.aggregator, carrier.tariff_codes, d.amount_cents)
        billed = BilledDonation(d.amount_cents, price_point_code=code, currency=d.currency,
                                donation_ref=d.id)
        service_type, tlvs = billing_parameters(carrier.aggregator, billed)
    except BillingParameterError as err:
        return Refuse("billing_parameters", _unavailable(policy, d),
                      problem=Problem("billing_parameters_refused", str(err)))
    return SubmitBilledMt(policy.render("thanks", amount=policy.money(d.amount_cents)),
                          service_type, tlvs, carrier.aggregator.name)


def _paid_on_page(outcome: Outcome, row: LockedDonation, donation_id: int, at: datetime
                  ) -> tuple[NewDonationEvent, ...]:
    """Paying on the page is the donor's confirmation and the charge: all three events, at
    the payment's time (the legal date of receipt). Whichever of checkout.session.completed
    and payment_intent.succeeded comes first records them; the other finds it charged."""
    intent = getattr(outcome, "payment_intent_id", None)
    payment_ref = str(intent or getattr(outcome, "checkout_session_id", "")) or None
    return tuple(
        NewDonationEvent(donation_id, kind, at, row.amount_cents, row.currency,
                         data={"method": CARD, "by": "checkout"} if kind == "confirmed"
                         else {"by": "checkout"}, external_ref=ref)
        for kind, ref in (("confirmed", None), ("charge_requested", None),
                          ("charged", payment_ref)))


def _unavailable(policy: DonationPolicy, d: DonationRow) -> str:
    return policy.render("unavailable", amount=policy.money(d.amount_cents))


class _Records(Protocol):
    @property
    def kind(self) -> str: ...


_R = TypeVar("_R", bound=_Records)


def _legal(d: DonationRow, decision: _R, *, status: str | None = None) -> _R | Skip:
    """The decision, if the ledger allows its event from the donation's status."""
    status = d.status if status is None else status
    if ledger.allows(status, decision.kind, d.method):
        return decision
    return Skip(f"{decision.kind} cannot follow {status}")
