"""What admins may do with webhook subscriptions: create, list, turn off and on, delete,
read the delivery log, replay one delivery. Each change is audit-logged in its transaction.

Why the secret is made here and returned once: the receiver needs it to verify
signatures (gateway/hooks/signature.py), the gateway needs it to sign, and
nobody else should see it; after creation no answer carries it (as Stripe's
dashboard reveals an endpoint secret only on request, and Twilio signs with
the account's token). On the admin page the secret is offered once to the
admin who made it (`reveal_to`), read by the page the form redirects to.
A rotation makes a new secret; the old one keeps signing beside it for
ROTATION_GRACE, so the receiver can move without losing a delivery.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any, Final

import asyncpg

from gateway.hooks.receivers import ReceiverUrlError, check_receiver_url
from gateway.hooks.signature import new_secret
from gateway.plain_words import N_, reason, said
from gateway.services.actor import Identity
from gateway.services.audit import (
    WEBHOOK_CREATED,
    WEBHOOK_DELETED,
    WEBHOOK_DISABLED_BY_HAND,
    WEBHOOK_ENABLED,
    WEBHOOK_REPLAYED,
    WEBHOOK_SECRET_ROTATED,
    WEBHOOK_UPDATED,
    record,
)
from gateway.services.errors import conflict, invalid, not_found
from gateway.store import webhook_deliveries, webhook_events, webhook_subscriptions
from gateway.store.webhook_events import EVENT_TYPES
from gateway.store.webhook_subscriptions import Subscription

DELIVERY_STATUSES: Final = ("pending", "sending", "delivered", "failed")
ROTATION_GRACE: Final = timedelta(hours=24)  # the old secret signs too, this long
REVEAL_WITHIN: Final = timedelta(minutes=10)  # the page after the form shows the secret


def shown(subscription: Subscription) -> dict[str, Any]:
    """A subscription as answers show it (never its secret)."""
    return asdict(subscription) | {"event_types": list(subscription.event_types)}


def checked_event_types(event_types: Sequence[str]) -> tuple[str, ...]:
    unknown = sorted(set(event_types) - set(EVENT_TYPES))
    if unknown:
        raise invalid(said(N_("unknown event type %(unknown)r; the types are: %(event_types)s"),
                           unknown=unknown[0], event_types=', '.join(EVENT_TYPES)),
                      field="event_types")
    if not event_types:
        raise invalid(N_("choose at least one event type"), field="event_types")
    return tuple(t for t in EVENT_TYPES if t in set(event_types))  # the list's order, once


def checked_url(url: str, *, allow_loopback_http: bool) -> str:
    try:
        return check_receiver_url(url.strip(), allow_loopback_http=allow_loopback_http)
    except ReceiverUrlError as err:
        raise invalid(reason(err), field="url") from None


async def create(conn: asyncpg.Connection, actor: Identity, client: str, *, url: str,
                 event_types: Sequence[str], description: str,
                 allow_loopback_http: bool, reveal_at: datetime | None = None,
                 ) -> tuple[Subscription, str]:
    """The new subscription and its secret (shown this once); `reveal_at`: offer it to
    the actor on a page until REVEAL_WITHIN after then."""
    url = checked_url(url, allow_loopback_http=allow_loopback_http)
    types = checked_event_types(event_types)
    secret = new_secret()
    async with conn.transaction():
        subscription = await webhook_subscriptions.insert(
            conn, url=url, description=description, event_types=types, secret=secret,
            created_by=actor.user_id)
        if reveal_at is not None and actor.user_id is not None:
            await webhook_subscriptions.offer_secret(
                conn, subscription.id, to=actor.user_id, until=reveal_at + REVEAL_WITHIN)
        await record(conn, actor, WEBHOOK_CREATED, f"webhook:{subscription.id}", client=client,
                     url=url, event_types=list(types))
    webhook_events.subscriptions_changed(conn)  # this gateway's own emits: at once
    return subscription, secret


async def update(conn: asyncpg.Connection, actor: Identity, client: str,
                 subscription_id: int, *, url: str, event_types: Sequence[str],
                 description: str, allow_loopback_http: bool) -> Subscription:
    """A new URL, description or set of event types (the secret stays)."""
    url = checked_url(url, allow_loopback_http=allow_loopback_http)
    types = checked_event_types(event_types)
    async with conn.transaction():
        subscription = await webhook_subscriptions.update_settings(
            conn, subscription_id, url=url, description=description, event_types=types)
        if subscription is None:
            raise not_found(said(N_("webhook %(subscription_id)s"),
                                 subscription_id=subscription_id))
        await record(conn, actor, WEBHOOK_UPDATED, f"webhook:{subscription_id}", client=client,
                     url=url, event_types=list(types))
    webhook_events.subscriptions_changed(conn)
    return subscription


async def rotate_secret(conn: asyncpg.Connection, actor: Identity, client: str,
                        subscription_id: int, *, now: datetime,
                        reveal: bool = False) -> tuple[Subscription, str]:
    """A new secret; the old one signs too until ROTATION_GRACE from now."""
    secret = new_secret()
    async with conn.transaction():
        subscription = await webhook_subscriptions.rotate_secret(
            conn, subscription_id, secret=secret, previous_until=now + ROTATION_GRACE)
        if subscription is None:
            raise not_found(said(N_("webhook %(subscription_id)s"),
                                 subscription_id=subscription_id))
        if reveal and actor.user_id is not None:
            await webhook_subscriptions.offer_secret(
                conn, subscription_id, to=actor.user_id, until=now + REVEAL_WITHIN)
        await record(conn, actor, WEBHOOK_SECRET_ROTATED, f"webhook:{subscription_id}",
                     client=client)
    return subscription, secret


async def take_secret(conn: asyncpg.Connection, actor: Identity, subscription_id: int, *,
                      now: datetime) -> str | None:
    """The secret if it is on offer to the actor now (then no longer)."""
    if actor.user_id is None:
        return None
    return await webhook_subscriptions.take_secret(conn, subscription_id,
                                                   user_id=actor.user_id, now=now)


async def list_all(conn: asyncpg.Connection) -> list[Subscription]:
    return await webhook_subscriptions.list_all(conn)


async def get(conn: asyncpg.Connection, subscription_id: int) -> Subscription:
    subscription = await webhook_subscriptions.get(conn, subscription_id)
    if subscription is None:
        raise not_found(said(N_("webhook %(subscription_id)s"), subscription_id=subscription_id))
    return subscription


async def set_enabled(conn: asyncpg.Connection, actor: Identity, client: str,
                      subscription_id: int, *, enabled: bool, now: datetime) -> Subscription:
    """On again (a fresh failure run; waiting deliveries go out) or off by hand."""
    async with conn.transaction():
        subscription = await webhook_subscriptions.set_enabled(
            conn, subscription_id, enabled=enabled, now=now,
            reason=None if enabled else f"{webhook_subscriptions.DISABLED_BY_HAND}{actor.email}")
        if subscription is None:
            raise not_found(said(N_("webhook %(subscription_id)s"),
                                 subscription_id=subscription_id))
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
        raise invalid(said(N_("status must be one of %(delivery_statuses)s"),
                           delivery_statuses=', '.join(DELIVERY_STATUSES)), field="status")
    rows = await webhook_deliveries.log_of(conn, subscription_id, status=status, limit=limit)
    return [dict(r) | {"event_id": f"evt_{r['event_id']}"} for r in rows]


async def replay(conn: asyncpg.Connection, actor: Identity, client: str, subscription_id: int,
                 delivery_id: int, *, now: datetime) -> None:
    """Send one delivery again, now, with a fresh set of attempts (same event id)."""
    async with conn.transaction():
        subscription = await get(conn, subscription_id)
        if not subscription.enabled:
            raise conflict(N_("this webhook is turned off: turn it on first, then replay"))
        if not await webhook_deliveries.replay(conn, subscription_id, delivery_id, now=now):
            raise not_found(said(N_("delivery %(delivery_id)s of this webhook (or it is being sent "
                                    "now)"), delivery_id=delivery_id))
        await record(conn, actor, WEBHOOK_REPLAYED, f"webhook:{subscription_id}",
                     client=client, delivery_id=delivery_id)
