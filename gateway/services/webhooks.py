"""What admins may do with webhook subscriptions: create, list, turn off and on, delete,
read the delivery log, replay one delivery. Each change is audit-logged in its transaction.

Why the secret is made here and returned once: the receiver needs it to verify
signatures (gateway/hooks/signature.py), the gateway needs it to sign, and
nobody else should see it; after creation no answer carries it (as Stripe's
dashboard reveals an endpoint secret only on request, and Twilio signs with
the account's token). To change a secret, create a new subscription and
delete the old one once the receiver accepts both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any, Final

import asyncpg

from gateway.hooks.receivers import ReceiverUrlError, check_receiver_url
from gateway.hooks.signature import new_secret
from gateway.services.actor import Identity
from gateway.services.audit import (
    WEBHOOK_CREATED,
    WEBHOOK_DELETED,
    WEBHOOK_DISABLED_BY_HAND,
    WEBHOOK_ENABLED,
    WEBHOOK_REPLAYED,
    record,
)
from gateway.services.errors import conflict, invalid, not_found
from gateway.store import webhook_deliveries, webhook_events, webhook_subscriptions
from gateway.store.webhook_events import EVENT_TYPES
from gateway.store.webhook_subscriptions import Subscription

DELIVERY_STATUSES: Final = ("pending", "sending", "delivered", "failed")


def shown(subscription: Subscription) -> dict[str, Any]:
    """A subscription as answers show it (never its secret)."""
    return asdict(subscription) | {"event_types": list(subscription.event_types)}


def checked_event_types(event_types: Sequence[str]) -> tuple[str, ...]:
    unknown = sorted(set(event_types) - set(EVENT_TYPES))
    if unknown:
        raise invalid(f"unknown event type {unknown[0]!r}; the types are: "
                      f"{', '.join(EVENT_TYPES)}", field="event_types")
    if not event_types:
        raise invalid("choose at least one event type", field="event_types")
    return tuple(t for t in EVENT_TYPES if t in set(event_types))  # the list's order, once


async def create(conn: asyncpg.Connection, actor: Identity, client: str, *, url: str,
                 event_types: Sequence[str], description: str,
                 allow_loopback_http: bool) -> tuple[Subscription, str]:
    """The new subscription and its secret (shown this once)."""
    try:
        url = check_receiver_url(url.strip(), allow_loopback_http=allow_loopback_http)
    except ReceiverUrlError as err:
        raise invalid(str(err), field="url") from None
    types = checked_event_types(event_types)
    secret = new_secret()
    async with conn.transaction():
        subscription = await webhook_subscriptions.insert(
            conn, url=url, description=description, event_types=types, secret=secret,
            created_by=actor.user_id)
        await record(conn, actor, WEBHOOK_CREATED, f"webhook:{subscription.id}", client=client,
                     url=url, event_types=list(types))
    webhook_events.subscriptions_changed(conn)  # this gateway's own emits: at once
    return subscription, secret


async def list_all(conn: asyncpg.Connection) -> list[Subscription]:
    return await webhook_subscriptions.list_all(conn)


async def get(conn: asyncpg.Connection, subscription_id: int) -> Subscription:
    subscription = await webhook_subscriptions.get(conn, subscription_id)
    if subscription is None:
        raise not_found(f"webhook {subscription_id}")
    return subscription


async def set_enabled(conn: asyncpg.Connection, actor: Identity, client: str,
                      subscription_id: int, *, enabled: bool, now: datetime) -> Subscription:
    """On again (a fresh failure run; waiting deliveries go out) or off by hand."""
    async with conn.transaction():
        subscription = await webhook_subscriptions.set_enabled(
            conn, subscription_id, enabled=enabled, now=now,
            reason=None if enabled else f"turned off by {actor.email}")
        if subscription is None:
            raise not_found(f"webhook {subscription_id}")
        await record(conn, actor, WEBHOOK_ENABLED if enabled else WEBHOOK_DISABLED_BY_HAND,
                     f"webhook:{subscription_id}", client=client)
    webhook_events.subscriptions_changed(conn)
    return subscription


async def delete(conn: asyncpg.Connection, actor: Identity, client: str,
                 subscription_id: int) -> None:
    async with conn.transaction():
        subscription = await get(conn, subscription_id)
        await webhook_subscriptions.delete(conn, subscription_id)
        await record(conn, actor, WEBHOOK_DELETED, f"webhook:{subscription_id}",
                     client=client, url=subscription.url)
    webhook_events.subscriptions_changed(conn)


async def deliveries(conn: asyncpg.Connection, subscription_id: int, *,
                     status: str | None, limit: int) -> list[dict[str, Any]]:
    """The delivery log, newest first, with each one's last answer from the receiver."""
    await get(conn, subscription_id)
    if status is not None and status not in DELIVERY_STATUSES:
        raise invalid(f"status must be one of {', '.join(DELIVERY_STATUSES)}", field="status")
    rows = await webhook_deliveries.log_of(conn, subscription_id, status=status, limit=limit)
    return [dict(r) | {"event_id": f"evt_{r['event_id']}"} for r in rows]


async def replay(conn: asyncpg.Connection, actor: Identity, client: str, subscription_id: int,
                 delivery_id: int, *, now: datetime) -> None:
    """Send one delivery again, now, with a fresh set of attempts (same event id)."""
    async with conn.transaction():
        subscription = await get(conn, subscription_id)
        if not subscription.enabled:
            raise conflict("this webhook is turned off: turn it on first, then replay")
        if not await webhook_deliveries.replay(conn, subscription_id, delivery_id, now=now):
            raise not_found(f"delivery {delivery_id} of this webhook (or it is being sent now)")
        await record(conn, actor, WEBHOOK_REPLAYED, f"webhook:{subscription_id}",
                     client=client, delivery_id=delivery_id)
