"""Staff-initiated refunds of card gifts: checked against the ledger, asked of Stripe once.

Why the ledger is not written here: Stripe answers a refund request at once
but the money moves later, and `charge.refunded` (the webhook) is already
what records `refunded` events, for refunds made here and for those made in
Stripe's dashboard alike. One writer, one source of truth; this module only
decides whether a refund may be asked for, and of how much.

The idempotency key is the donation, the amount and what the ledger had
already recorded as refunded: a double click or a retried request asks once;
a second, deliberate refund made after the first one was recorded is a new
request.

Carrier-billed gifts cannot be refunded from here: the aggregator refunds
them (or writes them off), and the settlement file brings that to finance.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
import stripe

from gateway.billing.stripe_client import StripeCards, translated
from gateway.store import donations as donation_store

REFUNDABLE = ("charged", "partially_refunded")


@dataclass(frozen=True, slots=True)
class RefundResult:
    refund_id: str
    status: str  # pending, succeeded, failed... (Stripe's words)
    amount_cents: int


class RefundRefused(ValueError):
    """The ledger says no: `code` for machines, the message for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class RefundPlan:
    donation_id: int
    payment_intent_id: str
    amount_cents: int
    currency: str
    idempotency_key: str


async def plan_refund(conn: asyncpg.Connection, donation_id: int,
                      amount_cents: int | None) -> RefundPlan:
    """What to ask Stripe for; RefundRefused when the ledger does not allow it."""
    donation = await donation_store.get_donation(conn, donation_id)
    if donation is None:
        raise RefundRefused("not_found", f"donation {donation_id} does not exist")
    if donation.method != "card":
        raise RefundRefused(
            "carrier_refund", f"donation {donation_id} was billed by the carrier: the "
            "aggregator refunds it, and its settlement file records the adjustment")
    if donation.status not in REFUNDABLE:
        raise RefundRefused(
            "not_refundable", f"donation {donation_id} is {donation.status}; only a charged "
            "gift can be refunded")
    events = (await donation_store.list_events(conn, [donation_id])).get(donation_id, [])
    intent = next((e.external_ref for e in events if e.kind == "charged" and e.external_ref),
                  None)
    if intent is None:
        raise RefundRefused("no_payment", f"donation {donation_id} has no Stripe payment on "
                                          "its ledger")
    refunded = sum(e.amount_cents or 0 for e in events if e.kind == "refunded")
    left = donation.amount_cents - refunded
    amount = left if amount_cents is None else amount_cents
    if not 0 < amount <= left:
        raise RefundRefused(
            "amount", f"a refund of donation {donation_id} must be between 1 and {left} "
            f"cents ({refunded} of {donation.amount_cents} already refunded)")
    key = f"refund-{donation_id}-{refunded}-{amount}"
    return RefundPlan(donation_id, intent, amount, donation.currency, key)


async def request_refund(cards: StripeCards, plan: RefundPlan) -> RefundResult:
    """Ask Stripe to give the money back; StripeFailure when it would not."""
    try:
        refund = await cards.client.v1.refunds.create_async(
            {"payment_intent": plan.payment_intent_id, "amount": plan.amount_cents},
            {"idempotency_key": plan.idempotency_key})
    except stripe.StripeError as err:
        raise translated(err, f"refund donation {plan.donation_id}") from None
    data = refund.to_dict()
    return RefundResult(str(data["id"]), str(data.get("status") or ""),
                        int(data.get("amount") or plan.amount_cents))
