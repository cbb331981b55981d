"""The webhook API: admins only, https receivers, the secret shown once, the log, replays,
and every route in the OpenAPI document the API serves."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from gateway.config import Settings
from gateway.store.webhook_events import EVENT_TYPES
from tests.support.webapi import WebApi, assert_error_shape, start_web_api

ROUTES = {
    ("get", "/api/v1/webhooks"), ("post", "/api/v1/webhooks"),
    ("get", "/api/v1/webhooks/{webhook_id}"), ("delete", "/api/v1/webhooks/{webhook_id}"),
    ("post", "/api/v1/webhooks/{webhook_id}/disable"),
    ("post", "/api/v1/webhooks/{webhook_id}/enable"),
    ("get", "/api/v1/webhooks/{webhook_id}/deliveries"),
    ("post", "/api/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/replay"),
    ("patch", "/api/v1/webhooks/{webhook_id}"),
    ("post", "/api/v1/webhooks/{webhook_id}/rotate-secret"),
}


@pytest.fixture
async def api(pool: asyncpg.Pool, settings: Settings) -> AsyncIterator[WebApi]:
    made = await start_web_api(pool, settings, webhooks_allow_loopback_http=True)
    try:
        yield made
    finally:
        await made.client.close()


async def test_an_admin_subscribes_and_sees_the_secret_once(api: WebApi) -> None:
    admin = await api.staff("admin")
    made = await api.client.post("/api/v1/webhooks", headers=admin.bearer, json={
        "url": "https://crm.example.org/hooks/sms", "event_types": ["contact.opted_out"],
        "description": "the CRM"})
    assert made.status == 201, await made.text()
    body: dict[str, Any] = await made.json()
    secret = body["secret"]
    assert secret.startswith("whsec_") and len(secret) > 40
    webhook_id = body["webhook"]["id"]
    listed = await (await api.client.get("/api/v1/webhooks", headers=admin.bearer)).json()
    assert secret not in str(listed)
    assert listed["event_types"] == list(EVENT_TYPES)
    assert [w["url"] for w in listed["webhooks"]] == ["https://crm.example.org/hooks/sms"]

    off = await api.client.post(f"/api/v1/webhooks/{webhook_id}/disable", headers=admin.bearer)
    assert (await off.json())["webhook"]["enabled"] is False
    on = await api.client.post(f"/api/v1/webhooks/{webhook_id}/enable", headers=admin.bearer)
    assert (await on.json())["webhook"]["enabled"] is True
    log = await api.client.get(f"/api/v1/webhooks/{webhook_id}/deliveries",
                               headers=admin.bearer)
    assert (await log.json()) == {"deliveries": []}
    gone = await api.client.delete(f"/api/v1/webhooks/{webhook_id}", headers=admin.bearer)
    assert gone.status == 200
    missing = await api.client.get(f"/api/v1/webhooks/{webhook_id}", headers=admin.bearer)
    assert missing.status == 404
    async with api.pool.acquire() as conn:
        actions = [r["action"] for r in await conn.fetch(
            "SELECT action FROM audit_log WHERE action LIKE 'webhook.%' ORDER BY id")]
    assert actions == ["webhook.created", "webhook.disabled_by_hand", "webhook.enabled",
                       "webhook.deleted"]


@pytest.mark.parametrize(("url", "words"), [
    ("http://crm.example.org/hooks", "must start with https://"),
    ("ftp://crm.example.org/hooks", "must start with https://"),
    ("https://user:pw@crm.example.org/", "user name or password"),
    ("https:///nohost", "names no host"),
])
async def test_a_receiver_must_be_https(api: WebApi, url: str, words: str) -> None:
    admin = await api.staff("admin")
    refused = await api.client.post("/api/v1/webhooks", headers=admin.bearer, json={
        "url": url, "event_types": ["gift.confirmed"]})
    assert refused.status == 400
    error = assert_error_shape(await refused.json())
    assert error["field"] == "url" and words in error["message"]


async def test_loopback_http_needs_the_setting(pool: asyncpg.Pool, settings: Settings) -> None:
    strict = await start_web_api(pool, settings)
    try:
        admin = await strict.staff("admin")
        refused = await strict.client.post("/api/v1/webhooks", headers=admin.bearer, json={
            "url": "http://127.0.0.1:9/hooks", "event_types": ["gift.confirmed"]})
        error = assert_error_shape(await refused.json())
        assert "GATEWAY_WEBHOOKS_ALLOW_LOOPBACK_HTTP" in error["message"]
    finally:
        await strict.client.close()


async def test_an_unknown_event_type_is_refused_by_name(api: WebApi) -> None:
    admin = await api.staff("admin")
    refused = await api.client.post("/api/v1/webhooks", headers=admin.bearer, json={
        "url": "https://crm.example.org/", "event_types": ["contact.teleported"]})
    assert refused.status == 400
    assert assert_error_shape(await refused.json())["field"].startswith("event_types")


@pytest.mark.parametrize("role", ["organizer", "finance", "expert"])
async def test_only_admins_manage_webhooks(api: WebApi, role: str) -> None:
    someone = await api.staff(role)
    for method, path in sorted(ROUTES):
        concrete = path.replace("{webhook_id}", "1").replace("{delivery_id}", "1")
        answer = await api.client.request(method.upper(), concrete, headers=someone.bearer,
                                          json={} if method in ("post", "patch") else None)
        assert answer.status == 403, (method, path)


async def test_every_webhook_route_is_in_the_openapi_document(api: WebApi) -> None:
    document = await (await api.client.get("/api/v1/openapi.json")).json()
    found = {(method, path) for path, operations in document["paths"].items()
             if path.startswith("/api/v1/webhooks") for method in operations}
    assert found == ROUTES
    create = document["paths"]["/api/v1/webhooks"]["post"]
    assert create["x-roles"] == ["admin"] and "v1=" in create["description"]


async def test_a_subscription_changes_and_its_secret_rotates(api: WebApi) -> None:
    admin = await api.staff("admin")
    made = await (await api.client.post("/api/v1/webhooks", headers=admin.bearer, json={
        "url": "https://crm.example.org/a", "event_types": ["gift.paid"]})).json()
    webhook_id, first = made["webhook"]["id"], made["secret"]
    changed = await api.client.patch(f"/api/v1/webhooks/{webhook_id}", headers=admin.bearer,
                                     json={"url": "https://crm.example.org/b",
                                           "event_types": ["gift.paid", "gift.refunded"]})
    assert changed.status == 200, await changed.text()
    shown = (await changed.json())["webhook"]
    assert (shown["url"], shown["event_types"]) == (
        "https://crm.example.org/b", ["gift.paid", "gift.refunded"])
    bad = await api.client.patch(f"/api/v1/webhooks/{webhook_id}", headers=admin.bearer,
                                 json={"url": "http://crm.example.org/b",
                                       "event_types": ["gift.paid"]})
    assert bad.status == 400 and assert_error_shape(await bad.json())["field"] == "url"
    rotated = await api.client.post(f"/api/v1/webhooks/{webhook_id}/rotate-secret",
                                    headers=admin.bearer)
    second = (await rotated.json())["secret"]
    assert second.startswith("whsec_") and second != first
    async with api.pool.acquire() as conn:
        row = await conn.fetchrow("SELECT secret, previous_secret FROM webhook_subscriptions")
    assert (row["secret"], row["previous_secret"]) == (second, first)
