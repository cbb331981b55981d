"""The webhooks admin pages over HTTP: admins only, the secret shown once after a
post/redirect/get, every change audited, the log's answers escaped, replay, and the notice
of a webhook the gateway turned off."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest

from gateway.config import Settings
from gateway.hooks.sender import DeliveryConfig, WebhookSender
from gateway.store import webhook_subscriptions
from tests.support.clock import ManualClock
from tests.support.pages_site import form_token, start_site
from tests.support.questions import Supporter
from tests.support.webapi import WebApi
from tests.support.webhook_receiver import Receiver

SECRET = re.compile(r'<code id="webhook-secret">(whsec_[^<]+)</code>')


@pytest.fixture
async def admin_site(pool: asyncpg.Pool, settings: Settings) -> AsyncIterator[WebApi]:
    made = await start_site(pool, settings, webhooks_allow_loopback_http=True)
    await made.staff("admin", email="admin@example.org")
    await made.login("admin@example.org")
    try:
        yield made
    finally:
        await made.client.close()


async def _token(site: WebApi, path: str = "/webhooks") -> str:
    return form_token(await (await site.client.get(path)).text())


async def _actions(site: WebApi) -> list[str]:
    async with site.pool.acquire() as conn:
        return [r["action"] for r in await conn.fetch(
            "SELECT action FROM audit_log WHERE action LIKE 'webhook.%' ORDER BY id")]


async def _make(site: WebApi, url: str = "https://crm.example.org/hooks") -> int:
    made = await site.client.post("/webhooks", allow_redirects=False, data=[
        ("csrf_token", await _token(site)), ("url", url), ("description", "Le CRM"),
        ("event_types", "contact.opted_in"), ("event_types", "gift.paid")])
    assert made.status == 303, await made.text()
    found = re.fullmatch(r"/webhooks/(\d+)\?done=created", made.headers["Location"])
    assert found
    return int(found[1])


async def test_a_new_webhooks_secret_is_shown_once_and_a_reload_makes_no_other(
        admin_site: WebApi) -> None:
    webhook_id = await _make(admin_site)
    first = await (await admin_site.client.get(f"/webhooks/{webhook_id}?done=created")).text()
    [secret] = SECRET.findall(first)
    async with admin_site.pool.acquire() as conn:
        stored = await conn.fetchrow("SELECT secret, event_types, description "
                                     "FROM webhook_subscriptions")
    assert (stored["secret"], stored["event_types"], stored["description"]) == (
        secret, ["contact.opted_in", "gift.paid"], "Le CRM")
    again = await (await admin_site.client.get(f"/webhooks/{webhook_id}?done=created")).text()
    assert secret not in again and "webhook-secret" not in again
    assert "The secret was shown once" in again
    async with admin_site.pool.acquire() as conn:
        assert await conn.fetchval("SELECT secret FROM webhook_subscriptions") == secret
    listed = await (await admin_site.client.get("/webhooks")).text()
    assert "https://crm.example.org/hooks" in listed and "A gift was paid" in listed
    assert secret not in listed
    assert await _actions(admin_site) == ["webhook.created"]


async def test_a_refused_form_names_the_field_and_keeps_what_was_typed(
        admin_site: WebApi) -> None:
    token = await _token(admin_site)
    bad = await admin_site.client.post("/webhooks", data=[
        ("csrf_token", token), ("url", "http://crm.example.org/hooks"),
        ("event_types", "gift.paid")])
    text = await bad.text()
    assert bad.status == 400 and "https://" in text
    assert 'value="http://crm.example.org/hooks"' in text
    assert 'aria-describedby="new-url-hint new-url-error"' in text
    assert 'value="gift.paid" checked' in text
    none = await admin_site.client.post("/webhooks", data=[
        ("csrf_token", token), ("url", "https://crm.example.org/hooks")])
    assert none.status == 400 and "choose at least one event type" in await none.text()
    assert await _actions(admin_site) == []


async def test_other_roles_cannot_open_or_post(admin_site: WebApi) -> None:
    await admin_site.staff("organizer", email="org@example.org")
    await admin_site.login("org@example.org")
    assert (await admin_site.client.get("/webhooks")).status == 403
    token = form_token(await (await admin_site.client.get("/me/tokens")).text())
    refused = await admin_site.client.post("/webhooks", data={
        "csrf_token": token, "url": "https://x.example.org", "event_types": "gift.paid"})
    assert refused.status == 403
    home = await (await admin_site.client.get("/dashboard")).text()
    assert 'href="/webhooks"' not in home


async def test_change_rotate_turn_off_and_on_then_delete(admin_site: WebApi) -> None:
    webhook_id = await _make(admin_site)
    page = f"/webhooks/{webhook_id}"
    await admin_site.client.get(page)  # the first secret, taken
    async with admin_site.pool.acquire() as conn:
        old = await conn.fetchval("SELECT secret FROM webhook_subscriptions")
    token = await _token(admin_site, page)

    saved = await admin_site.client.post(page, allow_redirects=False, data=[
        ("csrf_token", token), ("url", "https://crm.example.org/v2"), ("description", ""),
        ("event_types", "call.ended")])
    assert saved.headers["Location"] == f"{page}?done=saved"

    ask = await admin_site.client.post(f"{page}/rotate", data={"csrf_token": token})
    asked = await ask.text()
    assert ask.status == 200 and 'name="confirmed" value="yes"' in asked and "24" in asked
    async with admin_site.pool.acquire() as conn:
        assert await conn.fetchval("SELECT secret FROM webhook_subscriptions") == old
    rotated = await admin_site.client.post(f"{page}/rotate", allow_redirects=False, data={
        "csrf_token": token, "confirmed": "yes"})
    assert rotated.headers["Location"] == f"{page}?done=rotated"
    [new] = SECRET.findall(await (await admin_site.client.get(rotated.headers["Location"])
                                  ).text())
    async with admin_site.pool.acquire() as conn:
        row = await conn.fetchrow("SELECT secret, previous_secret, previous_secret_until > now()"
                                  " AS signing, url, event_types FROM webhook_subscriptions")
    assert (row["secret"], row["previous_secret"], row["signing"]) == (new, old, True)
    assert (row["url"], row["event_types"]) == ("https://crm.example.org/v2", ["call.ended"])

    off = await admin_site.client.post(f"{page}/enabled", data={
        "csrf_token": token, "enabled": "false"})
    assert "This webhook is off." in await off.text() and "Turned off by admin@example.org" \
        in await off.text()
    on = await admin_site.client.post(f"{page}/enabled", data={
        "csrf_token": token, "enabled": "true"})
    assert "This webhook is off." not in await on.text()

    ask = await admin_site.client.post(f"{page}/delete", data={"csrf_token": token})
    assert "cannot be undone" in await ask.text()
    gone = await admin_site.client.post(f"{page}/delete", allow_redirects=False, data={
        "csrf_token": token, "confirmed": "yes"})
    assert gone.headers["Location"] == "/webhooks?done=deleted"
    assert (await admin_site.client.get(page)).status == 404
    assert await _actions(admin_site) == [
        "webhook.created", "webhook.updated", "webhook.secret_rotated",
        "webhook.disabled_by_hand", "webhook.enabled", "webhook.deleted"]


async def test_the_log_shows_the_answer_escaped_with_its_latency_and_replays(
        admin_site: WebApi) -> None:
    receiver = await Receiver(fail_first=1,
                              failure_text='<script>alert("x")</script> busy').start()
    try:
        webhook_id = await _make(admin_site, receiver.url)
        await Supporter(admin_site.pool, "+33600000701").text("ADHERER")
        work = WebhookSender(admin_site.pool, DeliveryConfig(
            owner="gw-1", allow_private_networks=True), clock=ManualClock())
        try:
            await work.deliver_due()
        finally:
            await work.close()
    finally:
        await receiver.stop()
    page = await (await admin_site.client.get(f"/webhooks/{webhook_id}")).text()
    assert '<script>alert' not in page
    assert '&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; busy' in page
    assert "<strong>500</strong>" in page and re.search(r"\d+ ms", page)
    assert "A number joined a program" in page and "Waiting to be sent" in page
    [delivery] = re.findall(rf"/webhooks/{webhook_id}/deliveries/(\d+)/replay", page)
    replayed = await admin_site.client.post(
        f"/webhooks/{webhook_id}/deliveries/{delivery}/replay", allow_redirects=False,
        data={"csrf_token": form_token(page)})
    assert replayed.headers["Location"] == f"/webhooks/{webhook_id}?done=replayed"
    async with admin_site.pool.acquire() as conn:
        assert await conn.fetchval("SELECT replays FROM webhook_deliveries") == 1


async def test_a_webhook_the_gateway_turned_off_is_announced(admin_site: WebApi) -> None:
    webhook_id = await _make(admin_site)
    async with admin_site.pool.acquire() as conn:
        run = await webhook_subscriptions.record_failure(
            conn, webhook_id, now=datetime.now(UTC), disable_after_failures=1,
            disable_after_seconds=0, reason="disabled after failed deliveries: "
                                            "the receiver answered 503")
    assert run is not None and run.just_disabled
    listed = await (await admin_site.client.get("/webhooks")).text()
    assert 'role="alert"' in listed and "Turned off by the gateway" in listed
    assert "the receiver answered 503" in listed
    one = await (await admin_site.client.get(f"/webhooks/{webhook_id}")).text()
    assert "The admins were told by e-mail" in one
    assert 'disabled aria-describedby="replay-off"' not in one  # no delivery to replay yet
