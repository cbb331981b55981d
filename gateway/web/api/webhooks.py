"""Outgoing webhook subscriptions over HTTP: create (the secret shown once), list, turn off
and on, delete, the delivery log with the receivers' last answers, replay one delivery.

The rules (which URLs, which event types, the secret, the audit entries) are
gateway/services/webhooks.py's; this module reads the bodies and shapes the
JSON. docs/webhooks.md says what a receiver gets and how it verifies it.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from gateway.services import webhooks
from gateway.store.webhook_events import EVENT_TYPES
from gateway.web.body import Strict
from gateway.web.registry import Call, RouteTable

routes = RouteTable("webhooks")

EventType = Literal[EVENT_TYPES]  # type: ignore[valid-type]
SIGNATURE_TEXT = ("Each delivery is a POST of a JSON event signed with the subscription's "
                  "secret: `Webhook-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "
                  "'<t>.<body>'>` (docs/webhooks.md).")


class NewWebhook(Strict):
    url: str = Field(min_length=8, max_length=2000,
                     description="the receiver: https:// (http:// to a loopback host only "
                                 "with GATEWAY_WEBHOOKS_ALLOW_LOOPBACK_HTTP)")
    event_types: list[EventType] = Field(min_length=1, max_length=len(EVENT_TYPES))
    description: str = Field("", max_length=500, description="what the receiver is")


class ChangedWebhook(Strict):
    url: str = Field(min_length=8, max_length=2000)
    event_types: list[EventType] = Field(min_length=1, max_length=len(EVENT_TYPES))
    description: str = Field("", max_length=500)


class DeliveriesQuery(Strict):
    status: Literal["pending", "sending", "delivered", "failed"] | None = None
    limit: int = Field(100, ge=1, le=1000)


@routes.get("/api/v1/webhooks", name="webhooks.list",
            summary="Every webhook subscription (never its secret) and the event types")
async def list_webhooks(call: Call) -> dict[str, Any]:
    async with call.pool.acquire() as conn:
        subscriptions = await webhooks.list_all(conn)
    return {"webhooks": [webhooks.shown(s) for s in subscriptions],
            "event_types": list(EVENT_TYPES)}


@routes.post("/api/v1/webhooks", name="webhooks.create", body=NewWebhook, status=201,
             summary="Subscribe a receiver to event types; the answer shows its signing "
                     "secret once", description=SIGNATURE_TEXT)
async def create(call: Call) -> dict[str, Any]:
    body = call.body_as(NewWebhook)
    async with call.pool.acquire() as conn:
        subscription, secret = await webhooks.create(
            conn, call.user, call.client, url=body.url, event_types=body.event_types,
            description=body.description,
            allow_loopback_http=call.context.settings.webhooks_allow_loopback_http)
    return {"webhook": webhooks.shown(subscription), "secret": secret}


@routes.get("/api/v1/webhooks/{webhook_id}", name="webhooks.get",
            summary="One subscription: its state and its run of failures")
async def get(call: Call) -> dict[str, Any]:
    async with call.pool.acquire() as conn:
        return {"webhook": webhooks.shown(await webhooks.get(conn, call.path_int("webhook_id")))}


@routes.patch("/api/v1/webhooks/{webhook_id}", name="webhooks.update", body=ChangedWebhook,
             summary="Change a subscription's URL, description and event types (the secret "
                     "stays)")
async def update(call: Call) -> dict[str, Any]:
    body = call.body_as(ChangedWebhook)
    async with call.pool.acquire() as conn:
        subscription = await webhooks.update(
            conn, call.user, call.client, call.path_int("webhook_id"), url=body.url,
            event_types=body.event_types, description=body.description,
            allow_loopback_http=call.context.settings.webhooks_allow_loopback_http)
    return {"webhook": webhooks.shown(subscription)}


@routes.post("/api/v1/webhooks/{webhook_id}/rotate-secret", name="webhooks.rotate_secret",
             summary="A new signing secret, shown in this answer once; the old one also "
                     "signs for 24 hours", description=SIGNATURE_TEXT)
async def rotate_secret(call: Call) -> dict[str, Any]:
    async with call.pool.acquire() as conn:
        subscription, secret = await webhooks.rotate_secret(
            conn, call.user, call.client, call.path_int("webhook_id"),
            now=call.context.clock())
    return {"webhook": webhooks.shown(subscription), "secret": secret}


async def _set(call: Call, *, enabled: bool) -> dict[str, Any]:
    async with call.pool.acquire() as conn:
        subscription = await webhooks.set_enabled(
            conn, call.user, call.client, call.path_int("webhook_id"), enabled=enabled,
            now=call.context.clock())
    return {"webhook": webhooks.shown(subscription)}


@routes.post("/api/v1/webhooks/{webhook_id}/disable", name="webhooks.disable",
             summary="Turn a subscription off: nothing is sent; waiting deliveries wait")
async def disable(call: Call) -> dict[str, Any]:
    return await _set(call, enabled=False)


@routes.post("/api/v1/webhooks/{webhook_id}/enable", name="webhooks.enable",
             summary="Turn a subscription on again: waiting deliveries go out")
async def enable(call: Call) -> dict[str, Any]:
    return await _set(call, enabled=True)


@routes.delete("/api/v1/webhooks/{webhook_id}", name="webhooks.delete",
               summary="Delete a subscription and its delivery log")
async def delete(call: Call) -> dict[str, Any]:
    webhook_id = call.path_int("webhook_id")
    async with call.pool.acquire() as conn:
        await webhooks.delete(conn, call.user, call.client, webhook_id)
    return {"deleted": webhook_id}


@routes.get("/api/v1/webhooks/{webhook_id}/deliveries", name="webhooks.deliveries",
            query=DeliveriesQuery,
            summary="The delivery log, newest first, with the receiver's last answer to each")
async def deliveries(call: Call) -> dict[str, Any]:
    query = call.query_as(DeliveriesQuery)
    async with call.pool.acquire() as conn:
        rows = await webhooks.deliveries(conn, call.path_int("webhook_id"),
                                         status=query.status, limit=query.limit)
    return {"deliveries": rows}


@routes.post("/api/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/replay",
             name="webhooks.replay", status=202,
             summary="Send one delivery again now, with the same event id and fresh attempts")
async def replay(call: Call) -> dict[str, Any]:
    delivery_id = call.path_int("delivery_id")
    async with call.pool.acquire() as conn:
        await webhooks.replay(conn, call.user, call.client, call.path_int("webhook_id"),
                              delivery_id, now=call.context.clock())
    return {"replayed": delivery_id}
