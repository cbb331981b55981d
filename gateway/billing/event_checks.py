"""Does a signed Stripe event agree with the donation it names? Pure: no I/O.

Why a valid signature is not enough: the signature proves Stripe sent the
event, not that it is about the gift we think. The metadata's
`donation_ref` (or a PaymentIntent id) only points at a row; a payment of
1 cent in USD that carries the ref of a €20 gift, a refund or a dispute
about a gift the carrier billed (Stripe never had that money), or a refund
larger than the gift, would all move the ledger wrongly if trusted. So each
money event is checked against the row, field by field, before it is
applied: the method (a Stripe event is only about a card gift), the
currency, and the amount. A disagreement is not applied; webhook_ledger.py
records it (store/stripe_mismatches.py) where finance sees it, among the
reconciliation exceptions, and the webhook still answers 200: Stripe
redelivering the same event for days would change nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from gateway.billing.stripe_events import (
    Charged,
    CheckoutPaid,
    Disputed,
    Outcome,
    PaymentFailed,
    Refunded,
)
from gateway.store.billing import LockedDonation

Problem = Literal["amount", "currency", "method"]


@dataclass(frozen=True, slots=True)
class Mismatch:
    problem: Problem
    expected: str  # what the donation row says
    received: str  # what the event says
    amount_cents: int | None
    currency: str | None


def mismatch(outcome: Outcome, row: LockedDonation) -> Mismatch | None:
    """The first disagreement between a money event and its donation, or None."""
    amount, currency, exact = _money_of(outcome)
    if not isinstance(outcome, Charged | CheckoutPaid | PaymentFailed | Refunded | Disputed):
        return None
    if row.method != "card":
        return Mismatch("method", row.method, f"card ({type(outcome).__name__})", amount,
                        currency)
    if currency is not None and currency.upper() != row.currency.upper():
        return Mismatch("currency", row.currency.upper(), currency.upper(), amount, currency)
    if amount is None:
        return None
    if (amount != row.amount_cents) if exact else (amount > row.amount_cents):
        wanted = f"{row.amount_cents}" if exact else f"at most {row.amount_cents}"
        return Mismatch("amount", f"{wanted} cents", f"{amount} cents", amount, currency)
    if isinstance(outcome, Refunded) and outcome.amount_refunded_cents > row.amount_cents:
        return Mismatch("amount", f"refunds of at most {row.amount_cents} cents",
                        f"{outcome.amount_refunded_cents} cents refunded",
                        outcome.amount_refunded_cents, currency)
    return None


def _money_of(outcome: Outcome) -> tuple[int | None, str | None, bool]:
    """(amount, currency, whether the amount must equal the gift's) of a money event.

    A charge or a paid Checkout is the whole gift; a refunded charge reports
    the charge's amount (the whole gift) too; a dispute can be for part of it.
    """
    if isinstance(outcome, Charged | CheckoutPaid | Refunded):
        return outcome.amount_cents, outcome.currency, True
    if isinstance(outcome, Disputed):
        return outcome.amount_cents, outcome.currency, False
    return None, None, False
