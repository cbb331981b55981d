"""The MO shell's side of donations: the engine's events become ledger rows in the
MO's transaction, in decision order, and the saved card reaches the engine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

from gateway.engine import load_rules
from gateway.engine.holder import RulesHolder
from gateway.pipeline.decide import DecisionWriter
from gateway.store import contacts as contacts_store
from gateway.store import inbound as inbound_store
from gateway.store import stripe_store
from gateway.store.inbound import NewInbound
from gateway.store.stripe_store import SavedCardRow

ROOT = Path(__file__).resolve().parents[1]
MSISDN = "+15551230002"
T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


async def decide(pool: asyncpg.Pool, bodies: list[str], first_id: int = 1) -> None:
    writer = DecisionWriter(RulesHolder(load_rules(ROOT / "keywords.yaml")))
    mos = [(first_id + i, NewInbound(MSISDN, "12345", body, 0, 1, T0 + timedelta(seconds=i)))
           for i, body in enumerate(bodies)]
    async with pool.acquire() as conn, conn.transaction():
        await inbound_store.insert_batch(conn, [m for _, m in mos], [i for i, _ in mos])
        await writer.decide_and_write(conn, mos)


async def test_give_and_yes_in_one_batch_are_recorded_in_order(pool: asyncpg.Pool) -> None:
    await decide(pool, ["GIVE 10", "YES"])
    async with pool.acquire() as conn:
        row = await conn.fetchrow("SELECT * FROM donations")
        events = await conn.fetch(
            "SELECT kind, inbound_id, outbound_id FROM donation_events ORDER BY id")
        request_mt = await conn.fetchval("SELECT id FROM outbound WHERE in_reply_to = 1")
    assert (row["id"], row["method"], row["amount_cents"], row["status"]) == (
        1, "carrier", 1000, "confirmed")
    assert row["confirmed_at"] == T0 + timedelta(seconds=1)
    assert [(e["kind"], e["inbound_id"]) for e in events] == [
        ("requested", 1), ("confirmation_sent", 1), ("confirmed", 2)]
    assert events[1]["outbound_id"] == request_mt


async def test_a_saved_card_is_offered(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await stripe_store.insert_saved_cards(conn, [SavedCardRow(
            "pm_1", MSISDN, "cus_1", "visa", "4242", None, T0)])
    await decide(pool, ["GIVE 25"])
    async with pool.acquire() as conn:
        body = await conn.fetchval("SELECT body FROM outbound WHERE in_reply_to = 1")
        method = await conn.fetchval("SELECT method FROM donations WHERE id = 1")
    assert "card ending 4242" in body
    assert method == "card"


async def test_an_event_for_a_donation_without_a_row_does_not_fail_the_mo(
    pool: asyncpg.Pool
) -> None:
    """A request pending from before the ledger existed: STOP still goes through."""
    pending = {"ref": 999, "program": "rise", "amount_cents": 1000, "currency": "USD",
               "method": "carrier", "keyword": "GIVE", "requested": T0.isoformat(),
               "expires": (T0 + timedelta(days=1)).isoformat()}
    async with pool.acquire() as conn:
        await contacts_store.upsert_states(conn, [(MSISDN, "12345", False,
                                                   {"donation": pending})], now=T0)
    await decide(pool, ["STOP"], first_id=5)
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM donation_events") == 0
        assert await conn.fetchval("SELECT count(*) FROM outbound WHERE in_reply_to = 5") == 1
