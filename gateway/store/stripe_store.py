"""Stripe's side of the database: the webhook events we accepted and the saved cards.

Why `ON CONFLICT DO NOTHING ... RETURNING` for events: Stripe delivers at least
once, sometimes twice at the same moment. The insert tells the caller, inside
its transaction, whether this delivery is the first; two concurrent deliveries
serialize on the primary key and the second sees False. Nothing else has to
be locked.

Cards are inserted the same way (a payment method bound twice stays one row),
and the newest card of a number is the one the express flow charges.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from gateway.store.db import affected, columns

INSERT_WEBHOOK_EVENT = """
INSERT INTO stripe_webhook_events (event_id, type, livemode, created_at, received_at, payload)
VALUES ($1, $2, $3, $4, $5, $6::jsonb)
ON CONFLICT (event_id) DO NOTHING
RETURNING event_id
"""

GET_WEBHOOK_EVENT = """
SELECT event_id, type, livemode, created_at, received_at, payload::text AS payload
FROM stripe_webhook_events WHERE event_id = $1
"""

_CARD_COLUMNS = "payment_method_id, msisdn, customer_id, brand, last4, event_id, created_at"

INSERT_SAVED_CARDS = f"""
INSERT INTO saved_cards ({_CARD_COLUMNS})
SELECT {_CARD_COLUMNS} FROM unnest(
    $1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[]
) AS c({_CARD_COLUMNS})
ON CONFLICT (payment_method_id) DO NOTHING
RETURNING payment_method_id
"""

GET_SAVED_CARD = f"""
SELECT {_CARD_COLUMNS} FROM saved_cards
WHERE msisdn = $1
ORDER BY created_at DESC, payment_method_id DESC
LIMIT 1
"""


@dataclass(frozen=True, slots=True)
class WebhookEventRow:
    event_id: str
    type: str
    livemode: bool
    created_at: datetime
    received_at: datetime
    payload: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class SavedCardRow:
    payment_method_id: str
    msisdn: str
    customer_id: str
    brand: str
    last4: str
    event_id: str | None
    created_at: datetime


async def insert_webhook_event(
    conn: asyncpg.Connection,
    *,
    event_id: str,
    event_type: str,
    livemode: bool,
    created_at: datetime,
    received_at: datetime,
    payload: Mapping[str, Any],
) -> bool:
    """True when this is the first delivery of the event; False changes nothing."""
    inserted = await conn.fetchval(
        INSERT_WEBHOOK_EVENT,
        event_id,
        event_type,
        livemode,
        created_at,
        received_at,
        json.dumps(payload, separators=(",", ":")),
    )
    return inserted is not None


async def get_webhook_event(conn: asyncpg.Connection, event_id: str) -> WebhookEventRow | None:
    row = await conn.fetchrow(GET_WEBHOOK_EVENT, event_id)
    if row is None:
        return None
    return WebhookEventRow(
        event_id=row["event_id"],
        type=row["type"],
        livemode=row["livemode"],
        created_at=row["created_at"],
        received_at=row["received_at"],
        payload=json.loads(row["payload"]),
    )


async def insert_saved_cards(conn: asyncpg.Connection, cards: Sequence[SavedCardRow]) -> int:
    """Bind cards to numbers; returns how many were new (a known payment method is kept)."""
    if not cards:
        return 0
    rows = await conn.fetch(
        INSERT_SAVED_CARDS,
        *columns(cards, "payment_method_id", "msisdn", "customer_id", "brand", "last4",
                 "event_id", "created_at"),
    )
    return len(rows)


async def get_saved_card(conn: asyncpg.Connection, msisdn: str) -> SavedCardRow | None:
    """The card the express flow charges for this number, or None (send a Checkout link)."""
    row = await conn.fetchrow(GET_SAVED_CARD, msisdn)
    if row is None:
        return None
    return SavedCardRow(**dict(row))


# -- erasure (store/privacy.py runs these in its one transaction) ------------------------

DELETE_SAVED_CARDS_OF = "DELETE FROM saved_cards WHERE msisdn = $1"
PSEUDONYMIZE_WEBHOOK_EVENTS = """
UPDATE stripe_webhook_events
SET payload = replace(replace(payload::text, $1, $2), ltrim($1, '+'), $2)::jsonb
WHERE payload::text LIKE '%' || ltrim($1, '+') || '%'
"""


async def delete_saved_cards_of(conn: asyncpg.Connection, msisdn: str) -> int:
    return affected(await conn.execute(DELETE_SAVED_CARDS_OF, msisdn))


async def pseudonymize_webhook_events(
    conn: asyncpg.Connection, msisdn: str, pseudonym: str
) -> int:
    """The number replaced in the stored payloads, with or without its '+'."""
    return affected(await conn.execute(PSEUDONYMIZE_WEBHOOK_EVENTS, msisdn, pseudonym))
