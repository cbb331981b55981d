"""Finance staff refund a card gift from the API: Stripe once, the ledger by its webhook.

A real gateway (SMPP simulator, the fake Stripe behind the real library):
GIVE 25 → YES → charged; then `POST /api/v1/donations/{id}/refund`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from gateway.app import Gateway
from gateway.config import Settings
from gateway.smpp.simulator import SmscSimulator
from gateway.store import users as user_store
from gateway.web.credentials import new_api_token
from tests.support.donation_e2e import MSISDN, confirmed, donation, kinds, settle, start, stop
from tests.support.e2e import Phone
from tests.support.fake_stripe import FakeStripe, send_webhook
from tests.support.stripe_cards import save_card, stripe_settings


@pytest.fixture
async def charged(settings: Settings, smsc: SmscSimulator, fake: FakeStripe
                  ) -> AsyncIterator[Gateway]:
    """A running gateway with one $25 card gift charged."""
    gw = await start(settings, smsc, **stripe_settings(fake))
    try:
        await save_card(gw.pool, fake, MSISDN)
        phone = Phone(smsc, MSISDN)
        await phone.text("GIVE 25", expect=1)
        await phone.text("YES", expect=0)
        await confirmed(gw)
        await gw.billing.tick()
        await settle(gw, smsc, "charged")
        yield gw
    finally:
        await stop(gw)


async def token(gw: Gateway, role: str) -> str:
    made = new_api_token()
    async with gw.pool.acquire() as conn:
        user = await user_store.insert_user(conn, email=f"{role}@example.org", role=role,
                                            themes=(), password_hash=None)
        await user_store.insert_token(conn, user_id=user.id, name="test", prefix=made.prefix,
                                      secret_hash=made.secret_hash,
                                      expires_at=datetime.now(UTC) + timedelta(days=30))
    return made.token


async def refund(gw: Gateway, bearer: str, donation_id: int, body: dict[str, Any]
                 ) -> tuple[int, Any]:
    url = f"http://127.0.0.1:{gw.http_port}/api/v1/donations/{donation_id}/refund"
    async with aiohttp.ClientSession() as session, session.post(
            url, json=body, headers={"Authorization": f"Bearer {bearer}"}) as response:
        return response.status, await response.json()


async def test_a_partial_refund_is_asked_once_and_recorded_when_stripe_confirms(
    charged: Gateway, fake: FakeStripe,
) -> None:
    gw = charged
    finance = await token(gw, "finance")
    gift = (await donation(gw))["id"]

    body = {"amount_cents": 1000, "reason": "donor asked, duplicate gift"}
    first = await refund(gw, finance, gift, body)
    again = await refund(gw, finance, gift, body)  # a double click
    assert first[0] == again[0] == 202
    assert first[1]["refund_id"] == again[1]["refund_id"]
    assert [r.path for r in fake.requests].count("/v1/refunds") == 2
    assert len(fake.events_of_type("charge.refunded")) == 1  # Stripe refunded once

    assert await kinds(gw, gift) == [
        "requested", "confirmation_sent", "confirmed", "charge_requested", "charged"]
    url = f"http://127.0.0.1:{gw.http_port}/webhooks/stripe"
    async with aiohttp.ClientSession() as session:
        [event] = fake.events_of_type("charge.refunded")
        assert (await send_webhook(session, url, event, fake.webhook_secret))[0] == 200
    assert (await donation(gw))["status"] == "partially_refunded"

    too_much = await refund(gw, finance, gift, {"amount_cents": 2000, "reason": "all of it"})
    assert too_much[0] == 400 and too_much[1]["error"]["field"] == "amount_cents"
    rest = await refund(gw, finance, gift, {"reason": "the rest too"})
    assert (rest[0], rest[1]["amount_cents"]) == (202, 1500)

    async with gw.pool.acquire() as conn:
        audited = await conn.fetch(
            "SELECT actor, target, detail->>'amount_cents' AS amount FROM audit_log"
            " WHERE action = 'donation.refund_requested' ORDER BY id")
    assert [(a["actor"], a["target"], a["amount"]) for a in audited] == [
        ("finance@example.org", f"donation:{gift}", "1000")] * 2 + [
        ("finance@example.org", f"donation:{gift}", "1500")]


async def test_only_finance_and_admins_refund_and_carrier_gifts_are_refused(
    charged: Gateway,
) -> None:
    gw = charged
    gift = (await donation(gw))["id"]
    organizer = await token(gw, "organizer")
    assert (await refund(gw, organizer, gift, {"reason": "please"}))[0] == 403
    admin = await token(gw, "admin")
    async with gw.pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO inbound (id, msisdn, shortcode, body, received_at)"
            " VALUES (9999, $1, '12345', 'GIVE 10', now())", MSISDN)
        await conn.execute(
            "INSERT INTO donations (id, msisdn, shortcode, program, committee, method,"
            " amount_cents, currency, requested_at, expires_at)"
            " VALUES (9999, $1, '12345', 'rise', 'Rise Up PAC', 'carrier', 1000, 'USD',"
            " now(), now() + interval '1 day')", MSISDN)
    status, body = await refund(gw, admin, 9999, {"reason": "please"})
    assert status == 409 and "aggregator" in body["error"]["message"]
    assert (await refund(gw, admin, 424242, {"reason": "please"}))[0] == 404
    status, body = await refund(gw, admin, gift, {"reason": ""})
    assert status == 400 and body["error"]["field"] == "reason"
