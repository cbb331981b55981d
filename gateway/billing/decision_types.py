"""The decisions of decisions.py as types: what the runner reads, what it is told to do.

Why frozen dataclasses and not strings: the runner (service.py,
webhook_ledger.py) matches on the type, and mypy checks that each is
handled; a decision that records a ledger event names it (`kind`), which
decisions.py only chooses when ledger.py's table allows it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar, Literal

from gateway.billing.aggregators import AggregatorProfile
from gateway.billing.event_checks import Mismatch
from gateway.billing.policy import DonorTotals, LimitWindows
from gateway.store.donations import NewDonationEvent
from gateway.store.stripe_store import SavedCardRow

# -- what the runner read ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DonorFacts:
    """Read under the donor's lock: totals for `NeedFacts.windows`, details on file, card."""

    totals: DonorTotals
    on_file: Mapping[str, str | None]  # DonorDetails.facts(); empty when none
    card: SavedCardRow | None = None  # only read for card gifts


@dataclass(frozen=True, slots=True)
class CarrierBilling:
    """How a billed MT asks the aggregator for money (GATEWAY_BILLING_*)."""

    aggregator: AggregatorProfile
    tariff_codes: Mapping[int, str] = field(default_factory=dict)


# -- decisions ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NeedFacts:
    """Read the donor's totals for `windows` (under their lock), their details and, for a
    card gift, the saved card; then decide again with them."""

    windows: LimitWindows
    card: bool


@dataclass(frozen=True, slots=True)
class Skip:
    """Nothing to record: the donation's status allows no such event (moved on meanwhile)."""

    reason: str


@dataclass(frozen=True, slots=True)
class Problem:
    """What an operator should hear about a refusal (a log line at `level`)."""

    event: str
    detail: str = ""
    level: Literal["error", "warning"] = "error"


@dataclass(frozen=True, slots=True)
class Cancel:
    reason: str  # opted_out | rules_changed
    kind: ClassVar[str] = "cancelled"


@dataclass(frozen=True, slots=True)
class Refuse:
    """Record `refused` and send `text` (if any); nothing is charged."""

    reason: str
    text: str
    limit_cents: int | None = None
    problem: Problem | None = None
    kind: ClassVar[str] = "refused"


@dataclass(frozen=True, slots=True)
class Hold:
    """No charge and no page until the law's facts are on file (compliance rule 18): one
    new details link, then `hold_text` with it."""

    missing: frozenset[str]
    text_name: str  # details_employer | details_name_address
    limit_cents: int  # the threshold the gift passes
    link_expires_at: datetime
    kind: ClassVar[str] = "details_requested"


@dataclass(frozen=True, slots=True)
class SubmitBilledMt:
    """Queue the billed MT (its body is the thanks) with the aggregator's parameters."""

    body: str
    service_type: str
    tlvs: Mapping[int, bytes]
    aggregator: str
    kind: ClassVar[str] = "billing_submitted"


@dataclass(frozen=True, slots=True)
class RequestCharge:
    """Record the attempt, then (after COMMIT) charge the saved card; the idempotency key is
    the donation's id, so a retry or a second gateway charges at most once."""

    customer_id: str
    payment_method_id: str
    kind: ClassVar[str] = "charge_requested"


@dataclass(frozen=True, slots=True)
class OfferPage:
    """After COMMIT, ask Stripe for a payment page (its key derives from the donation id)."""

    closes: datetime
    description: str


@dataclass(frozen=True, slots=True)
class SendLink:
    """The page exists: record `confirmation_sent` once, then text the link."""

    session_id: str
    closes: datetime
    text: str
    kind: ClassVar[str] = "confirmation_sent"


@dataclass(frozen=True, slots=True)
class Settle:
    """Record Stripe's answer to a charge (and, once recorded, send `text`)."""

    kind: str  # charged | failed | requires_action
    ref: str | None = None
    text: str = ""
    money: bool = False
    data: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Wait:
    """Nothing to record now: Stripe is unreachable (the same key next time) or a webhook
    will settle it."""

    reason: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Append:
    events: tuple[NewDonationEvent, ...]


@dataclass(frozen=True, slots=True)
class Mismatched:
    """A signed event that disagrees with its gift: kept for finance, never applied."""

    mismatch: Mismatch


@dataclass(frozen=True, slots=True)
class PaidAfterClose:
    """Money taken on a page for a gift we closed: finance refunds it (reconciliation)."""

    status: str


@dataclass(frozen=True, slots=True)
class NotApplied:
    status: str


@dataclass(frozen=True, slots=True)
class ExpirySweep:
    """Expire requests unanswered before `before` (the grace period lets a YES still in
    the MO pipeline win) and holds older than `details_within_s`; the store's statement
    computes each deadline."""

    before: datetime
    details_within_s: float


RequestDecision = NeedFacts | Skip | Cancel | Refuse | Hold | OfferPage
ConfirmedDecision = NeedFacts | Skip | Cancel | Refuse | Hold | SubmitBilledMt | RequestCharge
PageDecision = Skip | Refuse | SendLink | Wait
WebhookDecision = Append | Mismatched | PaidAfterClose | NotApplied
