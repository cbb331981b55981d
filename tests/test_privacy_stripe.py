"""Erasure reaches Stripe: an erased number's Stripe customers are deleted there.

Real `stripe` library against the local fake Stripe, real PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg
from pydantic import SecretStr

from gateway.billing.stripe_client import StripeCards
from gateway.config import Settings
from gateway.privacy import rights
from gateway.privacy.stripe_erasure import work_off
from tests.support.fake_stripe import FakeStripe

SUPPORTER = "+12125550142"
BYSTANDER = "+12125550199"


async def saved_card(conn: asyncpg.Connection, cards: StripeCards, msisdn: str, n: int) -> str:
    """A customer at Stripe with the number on it, and our row for its saved card."""
    customer = await cards.create_customer(msisdn=msisdn)
    await conn.execute(
        "INSERT INTO saved_cards (payment_method_id, msisdn, customer_id, brand, last4,"
        " created_at) VALUES ($1, $2, $3, 'visa', '4242', $4)",
        f"pm_{n}", msisdn, customer, datetime.now(UTC))
    return customer


def private(settings: Settings) -> Settings:
    return settings.model_copy(update={"privacy_hash_secret": SecretStr("k" * 32)})


async def erasures(conn: asyncpg.Connection) -> dict[str, asyncpg.Record]:
    rows = await conn.fetch("SELECT * FROM stripe_erasures")
    return {r["customer_id"]: r for r in rows}


async def test_erasure_deletes_the_numbers_stripe_customers_and_only_those(
    pool: asyncpg.Pool, cards: StripeCards, fake: FakeStripe, settings: Settings,
) -> None:
    async with pool.acquire() as conn:
        theirs = await saved_card(conn, cards, SUPPORTER, 1)
        second = await saved_card(conn, cards, SUPPORTER, 2)
        kept = await saved_card(conn, cards, BYSTANDER, 3)
        report = await rights.erase(conn, SUPPORTER, by="dpo", settings=private(settings))
        assert report.rows["stripe_customers"] == 2
        assert set(await erasures(conn)) == {theirs, second}  # queued with the erasure

    assert await work_off(pool, cards) == 2
    assert set(fake.customers) == {kept}  # the number is gone from Stripe
    async with pool.acquire() as conn:
        assert all(r["done_at"] is not None for r in (await erasures(conn)).values())
    assert await work_off(pool, cards) == 0  # nothing left to do, nothing asked


async def test_a_failed_deletion_is_retried_later_and_a_customer_already_gone_counts(
    pool: asyncpg.Pool, cards: StripeCards, fake: FakeStripe, settings: Settings,
) -> None:
    async with pool.acquire() as conn:
        customer = await saved_card(conn, cards, SUPPORTER, 1)
        await rights.erase(conn, SUPPORTER, by="dpo", settings=private(settings))
    fake.fail_next(3)  # the first try and the library's two retries all get HTTP 500
    assert await work_off(pool, cards) == 0
    async with pool.acquire() as conn:
        row = (await erasures(conn))[customer]
        assert (row["attempts"], row["done_at"]) == (1, None)
        assert "Stripe" in row["last_error"] and row["next_try_at"] > datetime.now(UTC)
        assert await work_off(pool, cards) == 0  # not due yet: backing off
        await conn.execute("UPDATE stripe_erasures SET next_try_at = now()")
    del fake.customers[customer]  # meanwhile someone deleted it in Stripe's dashboard
    assert await work_off(pool, cards) == 1
    async with pool.acquire() as conn:
        assert (await erasures(conn))[customer]["done_at"] is not None
