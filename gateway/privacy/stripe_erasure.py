"""Erasure reaches Stripe: the Customers of an erased number are deleted there.

A Stripe Customer holds the supporter's number (phone and metadata) and
their saved cards. Erasure queues its customers in the same transaction that
erases the number (so a crash cannot forget one); this job, run by the
gateway every minute, deletes them at Stripe and retries on failure with
backoff. A Customer already gone (deleted in the dashboard) counts as done.
PaymentIntents and Charges stay at Stripe: they are the financial record
Stripe and the campaign must keep, like our own ledger under the pseudonym.
"""

from __future__ import annotations

import asyncpg
import stripe

from gateway.billing.stripe_client import StripeCards, StripeFailure, translated
from gateway.logs import get_logger
from gateway.store import stripe_erasures as store

log = get_logger("gateway.privacy.stripe")

BATCH = 50


async def delete_customer(cards: StripeCards, customer_id: str) -> None:
    """Delete one Customer at Stripe; one that no longer exists is as good as deleted."""
    try:
        await cards.client.v1.customers.delete_async(customer_id)
    except stripe.InvalidRequestError as err:
        if err.code == "resource_missing":
            return
        raise translated(err, f"delete Stripe customer {customer_id}") from None
    except stripe.StripeError as err:
        raise translated(err, f"delete Stripe customer {customer_id}") from None


async def work_off(pool: asyncpg.Pool, cards: StripeCards, *, limit: int = BATCH) -> int:
    """Delete the due customers; returns how many Stripe confirmed."""
    async with pool.acquire() as conn:
        due = await store.due(conn, limit)
    done = 0
    for customer_id in due:
        try:
            await delete_customer(cards, customer_id)
        except StripeFailure as err:  # unreachable, refused: record it, retry later
            async with pool.acquire() as conn:
                await store.mark_failed(conn, customer_id, str(err)[:500])
            log.warning("stripe_customer_erasure_failed", customer=customer_id,
                        error=type(err).__name__)
            continue
        async with pool.acquire() as conn:
            await store.mark_done(conn, customer_id)
        done += 1
    if done:
        log.info("stripe_customers_erased", count=done)
    return done
