"""stripe_store on real PostgreSQL: events once per id, cards bound once, newest card wins."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from gateway.store.stripe_store import (
    SavedCardRow,
    get_saved_card,
    get_webhook_event,
    insert_saved_cards,
    insert_webhook_event,
)

MSISDN = "+15551234567"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def card(payment_method_id: str, *, last4: str = "4242", at: datetime = NOW) -> SavedCardRow:
    return SavedCardRow(
        payment_method_id=payment_method_id,
        msisdn=MSISDN,
        customer_id="cus_1",
        brand="visa",
        last4=last4,
        event_id=None,
        created_at=at,
    )


async def record(conn: asyncpg.Connection, event_id: str, event_type: str) -> bool:
    return await insert_webhook_event(
        conn,
        event_id=event_id,
        event_type=event_type,
        livemode=False,
        created_at=NOW,
        received_at=NOW,
        payload={"id": event_id, "type": event_type, "data": {"object": {"amount": 2500}}},
    )


async def test_an_event_id_is_recorded_once(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        assert await record(conn, "evt_1", "charge.refunded") is True
        assert await record(conn, "evt_1", "something.else") is False
        row = await get_webhook_event(conn, "evt_1")
        assert await get_webhook_event(conn, "evt_2") is None
    assert row is not None and row.type == "charge.refunded"
    assert row.payload["data"] == {"object": {"amount": 2500}}
    assert row.received_at == NOW


async def test_the_newest_card_of_a_number_is_the_one_charged(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        assert await get_saved_card(conn, MSISDN) is None
        assert await insert_saved_cards(conn, [card("pm_old", last4="1111")]) == 1
        later = card("pm_new", last4="4242", at=NOW + timedelta(days=1))
        assert await insert_saved_cards(conn, [later, card("pm_old")]) == 1
        assert await get_saved_card(conn, MSISDN) == later
        assert await get_saved_card(conn, "+15550000000") is None
        assert await insert_saved_cards(conn, []) == 0


async def test_a_card_number_never_fits_where_last_four_go(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        with pytest.raises(asyncpg.CheckViolationError):
            await insert_saved_cards(conn, [card("pm_x", last4="4242424242424242")])
