"""POST /webhooks/stripe: verify, record once, hand to the donation ledger, answer 200.

Why the order: nothing touches the database before the signature is proven
(a forged or stale request changes nothing and gets a 400 saying why). The
event row and everything the ledger does for it share one transaction, so an
event is either fully applied and recorded, or neither; if the ledger fails we
answer 500 and Stripe delivers it again. The event id is the primary key, so a
redelivery finds its row and does nothing a second time.

Why the card is read before the transaction: a Checkout that saved a card
(setup mode, or a paid payment-mode page with setup_future_usage) carries
only its SetupIntent's or PaymentIntent's id, and the card (payment method, brand, last
four) needs one API call. Holding a database transaction open across an HTTP
call to Stripe would tie a pool connection to Stripe's latency; a failed read
answers 503 and Stripe retries.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg
from aiohttp import web

from gateway.billing.stripe_client import SavedCard, StripeFailure
from gateway.billing.stripe_events import (
    DEFAULT_TOLERANCE_S,
    CardBinding,
    StripeEvent,
    WebhookRejected,
    card_to_bind,
    verify_webhook,
)
from gateway.logs import get_logger
from gateway.store.stripe_store import (
    SavedCardRow,
    get_webhook_event,
    insert_saved_cards,
    insert_webhook_event,
)

STRIPE_WEBHOOK_PATH = "/webhooks/stripe"

OnStripeEvent = Callable[[StripeEvent, asyncpg.Connection], Awaitable[None]]
CardLookup = Callable[[str], Awaitable[SavedCard]]
Handler = Callable[[web.Request], Awaitable[web.Response]]

log = get_logger(__name__)


def add_stripe_webhook_route(app: web.Application, **options: Any) -> None:
    """Mount the handler at /webhooks/stripe; options as for `stripe_webhook_handler`."""
    app.router.add_post(STRIPE_WEBHOOK_PATH, stripe_webhook_handler(**options))


def stripe_webhook_handler(
    *,
    pool: asyncpg.Pool,
    webhook_secret: str,
    card_lookup: CardLookup,
    on_event: OnStripeEvent,
    tolerance: int = DEFAULT_TOLERANCE_S,
    clock: Callable[[], float] = time.time,
) -> Handler:
    """`card_lookup` is `StripeCards.saved_card_of_intent`; `on_event` runs in the
    event's transaction and must only write rows (send SMS through the outbox)."""
    if not webhook_secret.strip():
        raise ValueError("Stripe webhook signing secret is empty; set it to the endpoint's whsec_")

    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        now = clock()
        try:
            event = verify_webhook(
                body,
                request.headers.get("Stripe-Signature"),
                webhook_secret,
                tolerance=tolerance,
                now=now,
            )
        except WebhookRejected as err:
            log.warning("stripe_webhook_rejected", reason=err.reason, detail=err.message)
            return _error(400, err.reason, err.message)
        card: SavedCardRow | None = None
        binding = card_to_bind(event.outcome)
        if binding is not None:
            async with pool.acquire() as conn:
                if await get_webhook_event(conn, event.id) is not None:
                    return _received(duplicate=True)
            try:
                card = await _card_of(event, binding, card_lookup, now)
            except StripeFailure as err:
                log.warning("stripe_card_lookup_failed", event_id=event.id, error=str(err))
                return _error(503, "card_lookup_failed", "could not read the saved card; retry")
        try:
            async with pool.acquire() as conn, conn.transaction():
                first = await insert_webhook_event(
                    conn,
                    event_id=event.id,
                    event_type=event.type,
                    livemode=event.livemode,
                    created_at=datetime.fromtimestamp(event.created, UTC),
                    received_at=datetime.fromtimestamp(now, UTC),
                    payload=event.payload,
                )
                if not first:
                    return _received(duplicate=True)
                if card is not None:
                    await insert_saved_cards(conn, [card])
                await on_event(event, conn)
        except Exception as err:  # every failure is an answer Stripe retries, never a crash
            log.error(
                "stripe_webhook_not_recorded",
                event_id=event.id,
                event_type=event.type,
                error=type(err).__name__,
            )
            return _error(500, "not_recorded", "the event was not recorded; deliver it again")
        log.info(
            "stripe_webhook_recorded",
            event_id=event.id,
            event_type=event.type,
            outcome=type(event.outcome).__name__,
        )
        return _received(duplicate=False)

    return handle


async def _card_of(
    event: StripeEvent, setup: CardBinding, card_lookup: CardLookup, now: float
) -> SavedCardRow | None:
    """The saved_cards row this Checkout produced, or None when it is not ours to bind."""
    if setup.msisdn is None or setup.intent_id is None:
        log.warning("stripe_setup_without_number", event_id=event.id)
        return None
    card = await card_lookup(setup.intent_id)
    return SavedCardRow(
        payment_method_id=card.payment_method_id,
        msisdn=setup.msisdn,
        customer_id=setup.customer_id or card.customer_id,
        brand=card.brand,
        last4=card.last4,
        event_id=event.id,
        created_at=datetime.fromtimestamp(now, UTC),
    )


def _received(*, duplicate: bool) -> web.Response:
    return web.json_response({"received": True, "duplicate": duplicate})


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)
