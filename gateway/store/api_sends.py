"""The send API's batches and messages (migration 421): their one writer, and their status.

A batch is one accepted POST /api/v1/messages; its messages are each a
number or a segment sent as a broadcast, so a message's outbox row is found
by (broadcast_id, msisdn) and nothing here duplicates the outbox's states:
`STATUS` reads them. The Idempotency-Key is claimed by `claim_key` in the
transaction that then writes the batch: a second request with the same key
waits on the unique index until the first commits (or rolls back), so two
gateways racing on one key make one batch.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from gateway.audience import NumberIn
from gateway.store.audience import SqlParams, eligible_where
from gateway.store.db import affected

# An expired key is released (the batch stays, findable by its id), then claimed.
RELEASE_EXPIRED_KEY = """
UPDATE api_send_batches SET idempotency_key = NULL
WHERE user_id = $1 AND idempotency_key = $2 AND created_at <= $3
"""

INSERT_BATCH = """
INSERT INTO api_send_batches (user_id, token_id, idempotency_key, request_hash, created_at)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (user_id, idempotency_key) DO NOTHING
RETURNING id
"""

GET_BY_KEY = """
SELECT id, request_hash, status_code, response::text AS response
FROM api_send_batches WHERE user_id = $1 AND idempotency_key = $2
"""

SET_RESPONSE = """
UPDATE api_send_batches SET status_code = $2, response = $3::jsonb WHERE id = $1
"""

INSERT_MESSAGES = """
INSERT INTO api_messages (batch_id, position, program, msisdn, segment, broadcast_id, refused)
SELECT $1, * FROM unnest($2::int[], $3::text[], $4::text[], $5::text[], $6::bigint[],
                         $7::text[])
RETURNING id, position
"""

# Who among `numbers` has opted out of the short code (never queued: `refused`).
OPTED_OUT = """
SELECT msisdn FROM contacts WHERE shortcode = $1 AND opted_out AND msisdn = ANY($2::text[])
"""

REACHABLE = "SELECT c.msisdn FROM contacts c WHERE {where}"

# One message's state, from the outbox row of its broadcast (if it was made yet) and the
# receipts of its parts. Precedence: refused at the request, the outbox row's status,
# the broadcast cancelled, or materialized without a row for it (left out at send
# time: opted out, unsubscribed or at the program's promised frequency), else accepted.
STATUS = """
SELECT m.id, m.batch_id, m.position, m.program, m.msisdn, m.segment, m.broadcast_id,
       m.created_at, b.status AS broadcast_status, b.recipients,
       o.id AS outbox_id, o.status AS outbox_status, o.last_error, o.segments,
       o.submitted_at, o.final_at,
       CASE WHEN m.refused IS NOT NULL THEN 'suppressed'
            WHEN m.segment IS NOT NULL THEN coalesce(b.status, 'accepted')
            WHEN o.id IS NOT NULL THEN o.status
            WHEN b.status = 'cancelled' THEN 'cancelled'
            WHEN b.materialized_at IS NOT NULL THEN 'suppressed'
            ELSE 'accepted' END AS status,
       CASE WHEN m.refused IS NOT NULL THEN m.refused
            WHEN o.status = 'suppressed' AND o.last_error = 'erased on request' THEN 'erased'
            WHEN o.status = 'suppressed' THEN 'opted_out'
            WHEN o.id IS NULL AND m.segment IS NULL AND b.materialized_at IS NOT NULL
                 AND b.status <> 'cancelled' THEN 'not_eligible'
       END AS reason,
       (SELECT coalesce(jsonb_agg(jsonb_build_object(
                   'part', s.seq, 'receipt', s.status, 'error_code', s.error_code,
                   'at', s.final_at) ORDER BY s.seq), '[]'::jsonb)::text
        FROM outbound_segments s WHERE s.outbound_id = o.id) AS parts
FROM api_messages m
LEFT JOIN broadcasts b ON b.id = m.broadcast_id
LEFT JOIN outbound o ON o.broadcast_id = m.broadcast_id AND o.msisdn = m.msisdn
WHERE {where}
ORDER BY m.batch_id, m.position
"""

BATCH_OF_KEY = "SELECT id FROM api_send_batches WHERE user_id = $1 AND idempotency_key = $2"

# Erasure (store/privacy.py ERASE_STEPS): a number's entries go.
DELETE_OF = "DELETE FROM api_messages WHERE msisdn = $1"
EXPORT_OF = """
SELECT id, batch_id, position, program, broadcast_id, refused, created_at
FROM api_messages WHERE msisdn = $1 ORDER BY id
"""


@dataclass(frozen=True, slots=True)
class KeyClaim:
    """`batch_id` set: this request owns the key. Otherwise the earlier batch's answer."""

    batch_id: int | None
    request_hash: bytes | None = None
    status_code: int | None = None
    response: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class NewApiMessage:
    position: int
    program: str
    msisdn: str | None
    segment: str | None
    broadcast_id: int | None
    refused: str | None  # 'opted_out' | 'not_subscribed' | 'frequency_limit': never queued


async def new_batch(conn: asyncpg.Connection, *, user_id: int, token_id: int | None,
                    key: str | None, request_hash: bytes, now: datetime,
                    remember: timedelta) -> KeyClaim:
    """Make the batch, or (same user, same live key) the earlier batch's stored answer.

    In the caller's transaction: with a key another transaction holds, this waits
    for it to end, then answers with what it committed."""
    if key is not None:
        await conn.execute(RELEASE_EXPIRED_KEY, user_id, key, now - remember)
    batch_id = await conn.fetchval(INSERT_BATCH, user_id, token_id, key, request_hash, now)
    if batch_id is not None:
        return KeyClaim(batch_id)
    row = await conn.fetchrow(GET_BY_KEY, user_id, key)
    assert row is not None, "the key's holder committed, so its row is there"
    response = json.loads(row["response"]) if row["response"] is not None else None
    return KeyClaim(None, bytes(row["request_hash"]), row["status_code"], response)


async def set_response(conn: asyncpg.Connection, batch_id: int, status: int,
                       response: dict[str, Any]) -> None:
    await conn.execute(SET_RESPONSE, batch_id, status, json.dumps(response, default=str))


async def insert_messages(conn: asyncpg.Connection, batch_id: int,
                          messages: Sequence[NewApiMessage]) -> dict[int, int]:
    """The messages' ids by position."""
    rows = await conn.fetch(
        INSERT_MESSAGES, batch_id, [m.position for m in messages],
        [m.program for m in messages], [m.msisdn for m in messages],
        [m.segment for m in messages], [m.broadcast_id for m in messages],
        [m.refused for m in messages])
    return {r["position"]: r["id"] for r in rows}


async def opted_out(conn: asyncpg.Connection, shortcode: str, numbers: Sequence[str]
                    ) -> set[str]:
    return {r["msisdn"] for r in await conn.fetch(OPTED_OUT, shortcode, list(numbers))}


async def reachable(conn: asyncpg.Connection, *, shortcode: str, program: str,
                    numbers: Sequence[str], now: datetime) -> set[str]:
    """Those of `numbers` a broadcast of `program` would reach (subscribed, not opted out)."""
    params = SqlParams()
    where = eligible_where(params, shortcode=shortcode, program=program,
                           audience=NumberIn(tuple(numbers)), now=now)
    rows = await conn.fetch(REACHABLE.format(where=where), *params.values)
    return {r["msisdn"] for r in rows}


async def status_of(conn: asyncpg.Connection, message_id: int) -> asyncpg.Record | None:
    return await conn.fetchrow(STATUS.format(where="m.id = $1"), message_id)


async def statuses_of_batch(conn: asyncpg.Connection, batch_id: int) -> list[asyncpg.Record]:
    return list(await conn.fetch(STATUS.format(where="m.batch_id = $1"), batch_id))


async def batch_of_key(conn: asyncpg.Connection, user_id: int, key: str) -> int | None:
    found: int | None = await conn.fetchval(BATCH_OF_KEY, user_id, key)
    return found


async def delete_of(conn: asyncpg.Connection, msisdn: str) -> int:
    return affected(await conn.execute(DELETE_OF, msisdn))


async def export_of(conn: asyncpg.Connection, msisdn: str) -> list[dict[str, Any]]:
    return [dict(r) for r in await conn.fetch(EXPORT_OF, msisdn)]
