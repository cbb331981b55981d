"""The donation ledger: append-only events in, one derived state out. Pure.

Why a transition table (h11's shape): "one charge per confirmation" is a
claim about every possible order of YESes, receipts, webhooks and crashes,
and a table can be read whole and tested exhaustively. An event the table
does not allow raises `LedgerError` and changes nothing; the caller decides
whether that is a duplicate to ignore (a redelivered webhook) or a bug.

The table has two readers. The billing decisions (decisions.py) only choose
events it allows from the donation's status (`allows`), and the database
enforces the same table whoever writes: migration 100 holds it row for row
(`donation_transitions`) and its trigger drops any other event, as it drops
a late one. tests/test_donations_transitions.py fails when the two differ,
and tries every status against every event kind on PostgreSQL.

A donation has at most one *outcome* (expired, cancelled, refused, failed,
billed, charged). Refunds and disputes come after a billed/charged outcome
and adjust it; they are not a second outcome. The legal date of receipt is
the `confirmed` event's time (compliance rule 20), kept apart from the
outcome's time (settlement).

    requested -> [confirmation_sent] -> confirmed -> [details_requested ->
    details_received] -> billing_submitted -> billed | failed        (carrier)
    requested -> [details_requested -> details_received -> requested] ->
    confirmation_sent (the Checkout link) -> confirmed (paid on the page)
                       -> charge_requested -> [requires_action] -> charged | failed (card)
    before any charge attempt: expired | cancelled | refused
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Final, Literal, NoReturn, Protocol, get_args

EventKind = Literal[
    "requested", "confirmation_sent", "confirmed", "expired", "cancelled", "refused",
    "details_requested", "details_received", "billing_submitted", "billed", "failed",
    "charge_requested", "requires_action", "charged", "refunded", "disputed",
]
EVENT_KINDS: Final = frozenset(get_args(EventKind))
OUTCOMES: Final = frozenset({"expired", "cancelled", "refused", "failed", "billed", "charged"})
PAID: Final = frozenset({"billed", "charged"})
CHARGE_ATTEMPTS: Final = frozenset({"billing_submitted", "charge_requested"})
METHODS: Final = frozenset({"carrier", "card"})

# (status before, event kind) -> status after. Outcomes map to their own name;
# refunds and disputes are handled apart (they depend on amounts).
_BEFORE_CHARGE = ("requested", "awaiting_confirmation", "confirmed", "awaiting_details")
TRANSITIONS: Final[Mapping[tuple[str, str], str]] = {
    ("requested", "confirmation_sent"): "awaiting_confirmation",
    # A Checkout payment page is its own confirmation: no SMS request in between.
    ("requested", "confirmed"): "confirmed",
    ("awaiting_confirmation", "confirmed"): "confirmed",
    ("requested", "expired"): "expired",
    ("awaiting_confirmation", "expired"): "expired",
    ("awaiting_details", "expired"): "expired",
    **{(status, "cancelled"): "cancelled" for status in _BEFORE_CHARGE},
    **{(status, "refused"): "refused" for status in _BEFORE_CHARGE},
    ("confirmed", "details_requested"): "awaiting_details",
    # A Checkout gift is held before its page is offered; released, it waits for the
    # page again (`requested`), see apply(): only a confirmed one goes back to confirmed.
    ("requested", "details_requested"): "awaiting_details",
    ("awaiting_details", "details_received"): "confirmed",
    ("confirmed", "billing_submitted"): "billing_submitted",
    ("billing_submitted", "billed"): "billed",
    ("billing_submitted", "failed"): "failed",
    ("confirmed", "charge_requested"): "charge_requested",
    ("charge_requested", "requires_action"): "requires_action",
    ("charge_requested", "charged"): "charged",
    ("requires_action", "charged"): "charged",
    ("charge_requested", "failed"): "failed",
    ("requires_action", "failed"): "failed",
}
# Events only one method has; any other event is for both.
METHOD_OF: Final[Mapping[str, str]] = {
    "billing_submitted": "carrier", "billed": "carrier",
    "charge_requested": "card", "requires_action": "card", "charged": "card"}
# Statuses once money was taken: refunds and disputes adjust these (never a second outcome).
MONEY_TAKEN: Final = frozenset({"billed", "charged", "partially_refunded", "refunded",
                                "disputed"})
STATUSES: Final = frozenset({status for pair in TRANSITIONS for status in pair[:1]}
                            | set(TRANSITIONS.values()) | MONEY_TAKEN)


def allows(status: str, kind: str, method: str) -> bool:
    """Whether an event of `kind` may follow `status` on a `method` donation.

    Refunds and disputes are not transitions (they depend on amounts): they
    follow MONEY_TAKEN statuses, as `apply` checks.
    """
    return (status, kind) in TRANSITIONS and METHOD_OF.get(kind, method) == method


class LedgerError(ValueError):
    """An event the ledger cannot accept; nothing was changed."""

    def __init__(self, message: str, *, kind: str, status: str | None) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status


class EventLike(Protocol):
    """What the ledger reads from an event: `DonationEvent`, or a stored row."""

    @property
    def kind(self) -> str: ...
    @property
    def occurred_at(self) -> datetime: ...
    @property
    def amount_cents(self) -> int | None: ...
    @property
    def currency(self) -> str | None: ...
    @property
    def data(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True, slots=True)
class DonationEvent:
    kind: str
    occurred_at: datetime
    amount_cents: int | None = None
    currency: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DonationState:
    status: str  # a TRANSITIONS status, an outcome, "refunded", "partially_refunded", "disputed"
    amount_cents: int
    currency: str
    method: str
    requested_at: datetime
    confirmed_at: datetime | None = None  # the legal date of receipt
    outcome: str | None = None
    outcome_at: datetime | None = None
    refunded_cents: int = 0
    disputed: bool = False
    charge_attempted: bool = False


def derive_state(events: Iterable[EventLike]) -> DonationState:
    """The state after `events` in order; raises LedgerError on the first illegal one."""
    state: DonationState | None = None
    for event in events:
        state = apply(state, event)
    if state is None:
        raise LedgerError("a donation has no events", kind="", status=None)
    return state


def apply(state: DonationState | None, event: EventLike) -> DonationState:
    kind = event.kind
    if kind not in EVENT_KINDS:
        raise LedgerError(f"unknown donation event {kind!r}", kind=kind,
                          status=None if state is None else state.status)
    if state is None:
        return _start(event)
    if kind == "requested":
        _refuse(state, kind, "a donation is requested once")
    _check_money(state, event)
    if kind in ("refunded", "disputed"):
        return _adjust(state, event)
    after = TRANSITIONS.get((state.status, kind))
    if after is None:
        if state.outcome is not None and kind in OUTCOMES:
            _refuse(state, kind, f"already {state.outcome}: a donation has one outcome")
        _refuse(state, kind, f"{kind} cannot follow {state.status}")
    needed = METHOD_OF.get(kind)
    if needed is not None and needed != state.method:
        _refuse(state, kind, f"{kind} is for {needed} donations, this one is {state.method}")
    if kind == "details_received" and state.confirmed_at is None:
        after = "requested"
    changes: dict[str, Any] = {"status": after}
    if kind == "confirmed":
        changes["confirmed_at"] = event.occurred_at
    if kind in CHARGE_ATTEMPTS:
        changes["charge_attempted"] = True
    if kind in OUTCOMES:
        changes["outcome"] = kind
        changes["outcome_at"] = event.occurred_at
    return replace(state, **changes)


def _start(event: EventLike) -> DonationState:
    if event.kind != "requested":
        raise LedgerError(f"a donation starts with requested, not {event.kind}",
                          kind=event.kind, status=None)
    method = event.data.get("method")
    if method not in METHODS:
        raise LedgerError(f"requested needs data.method in {sorted(METHODS)}",
                          kind="requested", status=None)
    if event.amount_cents is None or event.amount_cents <= 0 or not event.currency:
        raise LedgerError("requested needs a positive amount_cents and a currency",
                          kind="requested", status=None)
    return DonationState(status="requested", amount_cents=event.amount_cents,
                         currency=event.currency, method=str(method),
                         requested_at=event.occurred_at)


def _check_money(state: DonationState, event: EventLike) -> None:
    amount, currency = event.amount_cents, event.currency
    if (amount is None) != (currency is None):
        _refuse(state, event.kind, "amount_cents and currency go together")
    if currency is not None and currency != state.currency:
        _refuse(state, event.kind, f"currency {currency} differs from the donation's "
                                   f"{state.currency}")
    if amount is None or event.kind in ("refunded", "disputed"):  # may be part of the gift
        return
    if amount != state.amount_cents:
        _refuse(state, event.kind, f"amount {amount} differs from the donation's "
                                   f"{state.amount_cents} cents")


def _adjust(state: DonationState, event: EventLike) -> DonationState:
    if state.outcome not in PAID:
        _refuse(state, event.kind, f"{event.kind} needs a billed or charged donation")
    if event.kind == "disputed":
        if state.disputed:
            _refuse(state, event.kind, "already disputed")
        return replace(state, status="disputed", disputed=True)
    amount = event.amount_cents
    if amount is None or amount <= 0:
        _refuse(state, event.kind, "refunded needs a positive amount_cents")
    refunded = state.refunded_cents + amount
    if refunded > state.amount_cents:
        _refuse(state, event.kind, f"refunds would reach {refunded} cents, over the "
                                   f"{state.amount_cents} given")
    status = "refunded" if refunded == state.amount_cents else "partially_refunded"
    return replace(state, status=status, refunded_cents=refunded)


def _refuse(state: DonationState, kind: str, reason: str) -> NoReturn:
    raise LedgerError(f"cannot record {kind}: {reason}", kind=kind, status=state.status)
