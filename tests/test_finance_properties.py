"""Hypothesis: random ledgers and settlement files, on a real database.

Each example builds its ledger and imports its files inside one transaction
that is rolled back at the end, so one database serves every example.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import asyncpg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.finance.formats import CARRIER_DEFAULT, STRIPE_BALANCE_CSV
from gateway.finance.importer import import_settlement
from gateway.finance.money import format_cents
from gateway.finance.summary import Summary, reconciliation
from tests.support.finance_ledger import NOW, Gift, gift

CARRIER_HEADER = "message_id,donation_ref,amount,fee,settlement_date,type\n"
STRIPE_HEADER = "id,Type,Amount,Fee,Net,Currency,Created (UTC),Payment Intent ID\n"

gifts = st.lists(st.fixed_dictionaries({
    "method": st.sampled_from(["carrier", "card"]),
    "amount": st.integers(1, 5000),
    "outcome": st.sampled_from(["paid", "paid", "paid", "billed_unknown", "failed"]),
    "refund": st.sampled_from([0, 0, 1, 2]),  # none, all, half
    "age": st.integers(0, 200),
    # what the settlement says: nothing, exact, off by some cents, paid then taken back
    "settles": st.sampled_from(["none", "exact", "exact", "off", "clawback"]),
    "delta": st.integers(-300, 300),
}), max_size=8)
strangers = st.lists(st.integers(-2000, 2000).filter(bool), max_size=3)


@asynccontextmanager
async def rolled_back(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    async with pool.acquire() as conn:
        tx = conn.transaction()
        await tx.start()
        try:
            yield conn
        finally:
            await tx.rollback()


Built = list[tuple[Gift, dict[str, Any]]]


async def build(conn: asyncpg.Connection, specs: list[dict[str, Any]]) -> Built:
    built = []
    for spec in specs:
        outcome = "pending" if spec["method"] == "card" and spec["outcome"] == "billed_unknown" \
            else spec["outcome"]
        refunded = 0 if outcome != "paid" else \
            {0: 0, 1: spec["amount"], 2: spec["amount"] // 2}[spec["refund"]]
        g = await gift(conn, method=spec["method"], amount=spec["amount"], outcome=outcome,
                       refunded=refunded, at=NOW - timedelta(days=spec["age"]))
        built.append((g, spec))
    return built


def settlement_rows(built: Built, others: list[int]) -> list[tuple[str, str]]:
    """(source, csv row) for every settled item, unknown ones included."""
    rows: list[tuple[str, str]] = []
    for n, (g, spec) in enumerate(built):
        amounts = {"none": [], "exact": [g.amount_cents],
                   "off": [max(1, g.amount_cents + spec["delta"])],
                   "clawback": [g.amount_cents, -g.amount_cents]}[spec["settles"]]
        for i, cents in enumerate(amounts):
            kind = "payment" if cents > 0 else "adjustment"
            if g.method == "carrier":
                ref = f"{g.message_id}," if g.message_id else f",{g.id}"
                rows.append(("carrier", f"{ref},{format_cents(cents)},0.00,2024-12-01,{kind}"))
            else:
                stripe_kind = "charge" if cents > 0 else "refund"
                rows.append(("stripe", f"txn_{g.id}_{n}_{i},{stripe_kind},{format_cents(cents)},"
                                       f"0.00,{format_cents(cents)},usd,2024-12-01 10:00,"
                                       f"{g.payment_intent or ''}"))
    for i, cents in enumerate(others):
        rows.append(("carrier", f"msg-stranger-{i},,{format_cents(cents)},0.00,2024-12-02,"
                                f"{'payment' if cents > 0 else 'adjustment'}"))
    return rows


def files(rows: list[tuple[str, str]], split: int) -> list[tuple[str, bytes, Any]]:
    carrier = [r for s, r in rows if s == "carrier"]
    stripe = [r for s, r in rows if s == "stripe"]
    cut = split % (len(carrier) + 1)
    return [
        ("carrier-a.csv", (CARRIER_HEADER + "".join(f"{r}\n" for r in carrier[:cut])).encode(),
         CARRIER_DEFAULT),
        ("carrier-b.csv", (CARRIER_HEADER + "".join(f"{r}\n" for r in carrier[cut:])).encode(),
         CARRIER_DEFAULT),
        ("stripe.csv", (STRIPE_HEADER + "".join(f"{r}\n" for r in stripe)).encode(),
         STRIPE_BALANCE_CSV),
    ]


def state(summary: Summary) -> dict[str, Any]:
    return {**summary.as_dict(), "rows": sorted(map(str, summary.exceptions))}


def assert_adds_up(summary: Summary) -> None:
    for s in summary.sources.values():
        assert s.ledger_cents == s.ledger_check_cents
        assert s.ledger_cents == s.settled_cents + s.pending_cents + s.written_off_cents + \
            s.unmatched_cents
        assert min(s.settled_cents, s.pending_cents, s.written_off_cents,
                   s.unmatched_cents) >= 0
    assert summary.identity_holds


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(specs=gifts, others=strangers, split=st.integers(0, 50), seed=st.randoms())
async def test_identity_holds_reimport_changes_nothing_order_does_not_matter(
    pool: asyncpg.Pool, specs: list[dict[str, Any]], others: list[int], split: int,
    seed: random.Random,
) -> None:
    async with rolled_back(pool) as conn:
        built = await build(conn, specs)
        batch = files(settlement_rows(built, others), split)

        assert_adds_up(await reconciliation(conn, now=NOW))  # nothing imported yet

        first = conn.transaction()
        await first.start()
        for name, data, mapping in batch:
            await import_settlement(conn, name, data, mapping)
        once = await reconciliation(conn, now=NOW)
        assert_adds_up(once)
        for name, data, mapping in batch:  # the same files again
            again = await import_settlement(conn, name, data, mapping)
            assert again.already_imported and again.new == 0
        assert state(await reconciliation(conn, now=NOW)) == state(once)
        await first.rollback()

        shuffled = batch[:]
        seed.shuffle(shuffled)
        for name, data, mapping in shuffled:
            await import_settlement(conn, name, data, mapping)
        assert state(await reconciliation(conn, now=NOW)) == state(once)
