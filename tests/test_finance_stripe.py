"""Stripe balance transactions through the real stripe library, paginated, against a local fake."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest

from gateway.billing.stripe_client import StripeConfig, StripeRejected
from gateway.finance.formats import STRIPE_BALANCE_CSV
from gateway.finance.importer import import_settlement
from gateway.finance.stripe_balance import import_stripe_api
from gateway.finance.summary import reconciliation
from tests.support.fake_stripe_balance import FakeStripeBalance
from tests.support.finance_ledger import NOW, gift


@pytest.fixture
async def balance() -> AsyncIterator[FakeStripeBalance]:
    fake = FakeStripeBalance()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.close()


def config_for(fake: FakeStripeBalance, key: str | None = None) -> StripeConfig:
    return StripeConfig(key or fake.api_key, "whsec_test", fake.base_url,
                        "https://example.org/ok", "https://example.org/no",
                        max_network_retries=2)


async def test_api_import_walks_every_page_and_matches_by_payment_intent(
        pool: asyncpg.Pool, balance: FakeStripeBalance) -> None:
    async with pool.acquire() as conn:
        k1 = await gift(conn, method="card", amount=2500)
        k2 = await gift(conn, method="card", amount=1000, refunded=1000)
        k3 = await gift(conn, method="card", amount=1000, disputed=True)
    assert k1.payment_intent and k2.payment_intent and k3.payment_intent
    at = int(datetime(2024, 6, 1, tzinfo=UTC).timestamp())
    balance.charge(2500, payment_intent=k1.payment_intent, fee=103, created=at)
    balance.charge(1000, payment_intent=k2.payment_intent, fee=59, created=at + 1)
    balance.refund(1000, payment_intent=k2.payment_intent, created=at + 2)
    balance.charge(1000, payment_intent=k3.payment_intent, fee=59, created=at + 3)
    balance.dispute(1000, payment_intent=k3.payment_intent, created=at + 4)
    balance.charge(700, payment_intent="pi_someone_else", fee=50, created=at + 5)
    balance.payout(3000, created=at + 6)
    balance.fail_next = 1  # the library retries it

    result = await import_stripe_api(pool, config_for(balance), page_size=2)
    assert (result.rows, result.new, result.problems) == (7, 7, [])
    assert balance.pages_served == 4

    summary = await reconciliation(pool, now=NOW)
    stripe = summary.sources["stripe"]
    assert summary.identity_holds
    assert (stripe.ledger_cents, stripe.settled_cents, stripe.written_off_cents) == \
        (4500, 2500, 2000)
    assert stripe.statuses["matched"] == 1 and stripe.statuses["adjusted"] == 2
    assert (stripe.unknown_count, stripe.unknown_cents) == (1, 700)
    assert stripe.payouts_cents == -3000 and stripe.fee_cents == 103 + 59 + 59 + 1500 + 50

    again = await import_stripe_api(pool, config_for(balance), page_size=2)
    assert again.already_imported and again.new == 0

    balance.charge(500, payment_intent="pi_later", created=at + 7)
    later = await import_stripe_api(pool, config_for(balance))
    assert (later.already_imported, later.new, later.known) == (False, 1, 7)

    # The Dashboard export of the same period: the same txn ids, nothing new.
    export = "id,Type,Amount,Fee,Net,Currency,Created (UTC)\n" + "".join(
        f"{t['id']},{t['type']},{t['amount'] / 100:.2f},{t['fee'] / 100:.2f},"
        f"{t['net'] / 100:.2f},usd,2024-06-01 00:00\n" for t in balance.transactions)
    csv_import = await import_settlement(pool, "export.csv", export.encode(),
                                         STRIPE_BALANCE_CSV)
    assert (csv_import.new, csv_import.known) == (0, 8)


async def test_a_period_is_passed_to_stripe(pool: asyncpg.Pool,
                                            balance: FakeStripeBalance) -> None:
    june = int(datetime(2024, 6, 15, tzinfo=UTC).timestamp())
    balance.charge(100, payment_intent="pi_may", created=june - 30 * 86400)
    balance.charge(200, payment_intent="pi_june", created=june)
    result = await import_stripe_api(pool, config_for(balance),
                                     created_from=datetime(2024, 6, 1, tzinfo=UTC),
                                     created_to=datetime(2024, 7, 1, tzinfo=UTC))
    assert (result.rows, result.name) == (1, "stripe-api 2024-06-01..2024-07-01")


async def test_a_bad_key_says_what_to_check(pool: asyncpg.Pool,
                                            balance: FakeStripeBalance) -> None:
    with pytest.raises(StripeRejected, match="check the Stripe API key"):
        await import_stripe_api(pool, config_for(balance, "sk_test_wrong"))
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM settlement_imports") == 0
