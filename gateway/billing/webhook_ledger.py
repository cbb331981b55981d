"""Stripe webhook outcomes as donation ledger events, in the webhook's transaction.

The runner of `decisions.on_webhook`: what an event means for its gift is
decided there (pure); here it is looked up, locked and recorded. Why only
appends: the ledger's table and the triggers already refuse a second
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

from gateway.billing import decisions
from gateway.billing.decision_types import Append, Mismatched, NotApplied, PaidAfterClose
from gateway.billing.event_checks import Mismatch
from gateway.billing.stripe_events import StripeEvent
from gateway.logs import get_logger
from gateway.store import billing as billing_store
from gateway.store import donations as donation_store
from gateway.store import stripe_mismatches

log = get_logger("gateway.billing.webhooks")


async def record_stripe_event(event: StripeEvent, conn: asyncpg.Connection) -> None:
    """`on_event` for gateway/web/webhooks.py: find the gift, lock it, apply what
    decisions.on_webhook says."""
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
    match decisions.on_webhook(outcome, row, donation_id=int(ref), at=at):
        case Mismatched(mismatch=wrong):
            await _record_mismatch(conn, event, int(ref), wrong)
        case Append(events=events):
            await donation_store.insert_events(conn, events)
        case PaidAfterClose(status=status):
            log.error("stripe_paid_after_close", event_id=event.id, donation_ref=ref,
                      status=status)
        case NotApplied(status=status):
            log.info("stripe_event_not_applied", event_id=event.id, donation_ref=ref,
                     status=status)


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
