"""Stripe webhook outcomes as donation ledger events, in the webhook's transaction.

Why only appends: the ledger and its triggers already refuse a second
outcome and drop repeats, so a redelivered or out-of-order event (a
`payment_intent.succeeded` after our own call recorded `charged`) is a
no-op here rather than a special case. An event about a donation we do not
know, or one the ledger cannot take yet (a refund before a charge), is
logged and acknowledged: answering 500 would make Stripe redeliver it for
days without changing anything.

Why a money event is checked against its donation first (event_checks.py):
the signature proves who sent it, not that its amount, currency and method
are the gift's. One that disagrees is not applied; it is kept as a
`stripe_event_mismatches` row, which finance sees among the reconciliation
exceptions, and logged as an error.
"""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg

from gateway.billing.event_checks import Mismatch, mismatch
from gateway.billing.stripe_events import (
    Charged,
    CheckoutPaid,
    Disputed,
    PaymentFailed,
    Refunded,
    StripeEvent,
)
from gateway.logs import get_logger
from gateway.store import billing as billing_store
from gateway.store import donations as donation_store
from gateway.store import stripe_mismatches
from gateway.store.donations import NewDonationEvent

log = get_logger("gateway.billing.webhooks")

PAID = ("charged", "billed", "partially_refunded", "refunded", "disputed")
# A Checkout link was sent (or is about to be): paying on the page is the confirmation.
AWAITING_PAGE = ("requested", "awaiting_confirmation")


async def record_stripe_event(event: StripeEvent, conn: asyncpg.Connection) -> None:
    """`on_event` for gateway/web/webhooks.py."""
    outcome = event.outcome
    ref = getattr(outcome, "donation_ref", None)
    intent = getattr(outcome, "payment_intent_id", None)
    if ref is None and isinstance(intent, str):  # a charge without our metadata
        ref = await billing_store.donation_of_payment_intent(conn, intent)
    if ref is None:
        return  # card saved (the handler binds it), or not one of ours
    row = await billing_store.lock_donation(conn, int(ref))
    if row is None:
        log.warning("stripe_event_unknown_donation", event_id=event.id, donation_ref=ref)
        return
    at = datetime.fromtimestamp(event.created, UTC)
    wrong = mismatch(outcome, row)
    if wrong is not None:
        await _record_mismatch(conn, event, int(ref), wrong)
        return
    new: NewDonationEvent | None = None
    paid_on_page = (isinstance(outcome, CheckoutPaid) and outcome.payment_status == "paid") \
        or isinstance(outcome, Charged)
    if paid_on_page and row.method == "card" and row.status in AWAITING_PAGE:
        await _paid_on_checkout_page(conn, int(ref), row.amount_cents, row.currency, at,
                                     str(intent or getattr(outcome, "checkout_session_id", "")))
        return
    if paid_on_page and row.status in ("expired", "cancelled", "refused"):
        # Money taken on a page for a gift we closed: finance refunds it (reconciliation).
        log.error("stripe_paid_after_close", event_id=event.id, donation_ref=ref,
                  status=row.status)
        return
    if isinstance(outcome, Charged) and row.method == "card":
        new = NewDonationEvent(int(ref), "charged", at, row.amount_cents, row.currency,
                               data={"by": "webhook"}, external_ref=outcome.payment_intent_id)
    elif isinstance(outcome, PaymentFailed) and row.method == "card":
        new = NewDonationEvent(int(ref), "failed", at,
                               data={"decline_code": outcome.decline_code, "by": "webhook"},
                               external_ref=outcome.payment_intent_id)
    elif isinstance(outcome, Refunded) and row.status in PAID:
        more = outcome.amount_refunded_cents - row.refunded_cents  # Stripe's is cumulative
        if more > 0:
            new = NewDonationEvent(int(ref), "refunded", at, more, row.currency,
                                   external_ref=f"{outcome.charge_id}:"
                                                f"{outcome.amount_refunded_cents}")
    elif isinstance(outcome, Disputed) and row.status in PAID:
        new = NewDonationEvent(int(ref), "disputed", at, data={"reason": outcome.reason},
                               external_ref=outcome.dispute_id)
    if new is None:
        log.info("stripe_event_not_applied", event_id=event.id, donation_ref=ref,
                 status=row.status)
        return
    await donation_store.insert_events(conn, [new])


async def _record_mismatch(conn: asyncpg.Connection, event: StripeEvent, ref: int,
                           wrong: Mismatch) -> None:
    log.error("stripe_event_mismatch", event_id=event.id, event_type=event.type,
              donation_ref=ref, problem=wrong.problem, expected=wrong.expected,
              received=wrong.received)
    await stripe_mismatches.insert(
        conn, event_id=event.id, event_type=event.type, donation_id=ref,
        problem=wrong.problem, expected=wrong.expected, received=wrong.received,
        amount_cents=wrong.amount_cents, currency=wrong.currency,
        event_at=datetime.fromtimestamp(event.created, UTC))


async def _paid_on_checkout_page(conn: asyncpg.Connection, ref: int, amount_cents: int,
                                 currency: str, at: datetime, payment_ref: str) -> None:
    """A payment-mode Checkout was paid: the donor confirmed and was charged on the page.

    Whichever of checkout.session.completed and payment_intent.succeeded comes
    first records all three; the other finds the donation charged and adds
    nothing. The page's payment time is the legal date of receipt.
    """
    for kind, ref_of in (("confirmed", None), ("charge_requested", None),
                         ("charged", payment_ref or None)):
        await donation_store.insert_events(conn, [NewDonationEvent(
            ref, kind, at, amount_cents, currency,
            data={"method": "card", "by": "checkout"} if kind == "confirmed" else
            {"by": "checkout"}, external_ref=ref_of)])
