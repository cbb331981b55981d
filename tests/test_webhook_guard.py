"""The delivery task's network guard (gateway/hooks/guard.py): with the default settings no
POST reaches a loopback, private, link-local or metadata address, whether the URL names the
address or a host name that resolves to it, and the delivery log says why."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import asyncpg
import pytest
from aiohttp.abc import AbstractResolver, ResolveResult

from gateway.hooks import guard
from gateway.hooks.sender import DeliveryConfig, WebhookSender
from gateway.store import webhook_subscriptions
from tests.support.clock import ManualClock
from tests.support.questions import Supporter
from tests.support.webhook_receiver import Receiver


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    made = await Receiver().start()
    try:
        yield made
    finally:
        await made.stop()


@pytest.mark.parametrize(("address", "kind"), [
    ("127.0.0.1", "loopback"), ("::1", "loopback"), ("10.1.2.3", "private"),
    ("192.168.1.20", "private"), ("169.254.169.254", "link-local"), ("fe80::1", "link-local"),
    ("224.0.0.251", "multicast"), ("240.0.0.1", "reserved"), ("0.0.0.0", "unspecified"),
    ("::ffff:127.0.0.1", "loopback"), ("100.64.0.1", "not public"),
])
def test_addresses_that_are_not_public_are_refused(address: str, kind: str) -> None:
    why = guard.refusal(address)
    assert why is not None and f"a {kind} address" in why


@pytest.mark.parametrize("address", ["93.184.215.14", "2606:4700::6810:84e5", "8.8.8.8"])
def test_public_addresses_pass(address: str) -> None:
    assert guard.refusal(address) is None


class _Rebinding(AbstractResolver):
    """A DNS that answers one public address and one private one (a rebinding attempt)."""

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        return [ResolveResult(hostname=host, host=a, port=port, family=socket.AF_INET,
                              proto=0, flags=0) for a in ("93.184.215.14", "10.0.0.7")]

    async def close(self) -> None:
        return None


async def test_a_name_with_any_private_address_is_refused() -> None:
    with pytest.raises(guard.ForbiddenAddress, match=r"crm\.example\.org resolves to "
                                                     r"10\.0\.0\.7.*private"):
        await guard.GuardedResolver(_Rebinding()).resolve("crm.example.org", 443)


async def test_default_settings_refuse_every_internal_receiver_and_log_why(
        pool: asyncpg.Pool, receiver: Receiver) -> None:
    port = receiver.port
    urls = {f"http://127.0.0.1:{port}/hooks": "127.0.0.1: a loopback",
            f"https://localhost:{port}/hooks": "localhost resolves to",  # through real DNS
            f"https://[::1]:{port}/hooks": "::1: a loopback",
            "https://10.20.30.40:9/hooks": "10.20.30.40: a private",
            "https://169.254.169.254/latest/meta-data": "169.254.169.254: a link-local"}
    async with pool.acquire() as conn:
        made = {(await webhook_subscriptions.insert(
            conn, url=url, description="", event_types=("contact.opted_in",),
            secret="s" * 40, created_by=None)).id: reason for url, reason in urls.items()}
    await Supporter(pool, "+33600000301").text("ADHERER")
    work = WebhookSender(pool, DeliveryConfig(owner="gw-1", timeout=5.0), clock=ManualClock())
    try:
        await work.deliver_due()
    finally:
        await work.close()
    assert receiver.received == []  # nothing reached the loopback receiver
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT subscription_id, status, last_error, last_status_code "
                                "FROM webhook_deliveries")
    assert len(rows) == len(urls)
    for row in rows:
        assert row["status"] == "pending" and row["last_status_code"] is None  # retried later
        assert made[row["subscription_id"]] in row["last_error"], row["last_error"]
        assert "GATEWAY_WEBHOOKS_ALLOW_PRIVATE_NETWORKS" in row["last_error"]


async def test_allowing_private_networks_reaches_the_loopback_receiver(
        pool: asyncpg.Pool, receiver: Receiver) -> None:
    async with pool.acquire() as conn:
        await webhook_subscriptions.insert(
            conn, url=f"https://localhost:{receiver.port}/hooks".replace("https", "http"),
            description="", event_types=("contact.opted_in",), secret="s" * 40,
            created_by=None)
    await Supporter(pool, "+33600000302").text("ADHERER")
    work = WebhookSender(pool, DeliveryConfig(owner="gw-1", timeout=5.0,
                                              allow_private_networks=True),
                         clock=ManualClock())
    try:
        await work.deliver_due()
    finally:
        await work.close()
    assert len(receiver.accepted()) == 1
