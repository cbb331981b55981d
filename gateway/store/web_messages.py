"""Posts of the public form /write and its rate limits (migration 230). SQL only; the one
writer of `web_messages` and `web_form_hits`.

Why the post is inserted with ON CONFLICT (form_nonce): the nonce comes from the
form's signed stamp, so the same form sent twice (a double click, the back
button) finds the first row and opens no second question. The caller's
transaction also opens the question and queues the acknowledgement, so a
post is stored with what it caused, or not at all.

The rate limits count rows of `web_form_hits` per key (a keyed hash of the
client's IP address or of the citizen's address, made by the caller) over a
window; rows older than the window are deleted as new ones are written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from gateway.store.db import affected

INSERT_MESSAGE = """
INSERT INTO web_messages (received_at, program, language, theme, body, name, email, msisdn,
                          campaign_box, box_wording, box_version, form_nonce)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
ON CONFLICT (form_nonce) DO NOTHING
RETURNING id
"""

SET_ROUTE = "UPDATE web_messages SET route = $2, route_reason = $3 WHERE id = $1"

GET_MESSAGE = "SELECT * FROM web_messages WHERE id = $1"

COUNT_HITS = """
SELECT k.key, count(h.key) AS hits
FROM unnest($1::text[]) AS k(key)
LEFT JOIN web_form_hits h ON h.key = k.key AND h.at > $2
GROUP BY k.key
"""

ADD_HITS = "INSERT INTO web_form_hits (key, at) SELECT unnest($1::text[]), $2"

PRUNE_HITS = "DELETE FROM web_form_hits WHERE at <= $1"

# erasure of a number (store/privacy.py): posts that gave only that number go; posts
# that also gave an e-mail address lose the number
DELETE_NUMBER_ONLY = "DELETE FROM web_messages WHERE msisdn = $1 AND email IS NULL"
FORGET_NUMBER = "UPDATE web_messages SET msisdn = NULL WHERE msisdn = $1"
DELETE_ADDRESS_ONLY = "DELETE FROM web_messages WHERE email = $1 AND msisdn IS NULL"
FORGET_ADDRESS = "UPDATE web_messages SET email = NULL, name = NULL WHERE email = $1"


@dataclass(frozen=True, slots=True)
class NewWebMessage:
    received_at: datetime
    program: str
    language: str
    theme: str
    body: str
    name: str | None
    email: str | None
    msisdn: str | None
    campaign_box: bool  # ticked
    box_wording: str | None  # as shown, ticked or not
    box_version: str | None
    form_nonce: str


async def insert(conn: asyncpg.Connection, message: NewWebMessage) -> int | None:
    """The new post's id; None when this form (its nonce) was already stored."""
    m = message
    found: int | None = await conn.fetchval(
        INSERT_MESSAGE, m.received_at, m.program, m.language, m.theme, m.body, m.name,
        m.email, m.msisdn, m.campaign_box, m.box_wording, m.box_version, m.form_nonce)
    return found


async def set_route(conn: asyncpg.Connection, message_id: int, route: str,
                    reason: str | None) -> None:
    await conn.execute(SET_ROUTE, message_id, route, reason)


async def get_message(conn: asyncpg.Connection, message_id: int) -> asyncpg.Record | None:
    return await conn.fetchrow(GET_MESSAGE, message_id)


async def count_hits(conn: asyncpg.Connection, keys: Sequence[str],
                     since: datetime) -> dict[str, int]:
    """Posts counted against each key after `since`."""
    rows = await conn.fetch(COUNT_HITS, list(keys), since)
    return {row["key"]: int(row["hits"]) for row in rows}


async def add_hits(conn: asyncpg.Connection, keys: Sequence[str], *, at: datetime,
                   forget_before: datetime) -> None:
    """Count one post against each key; hits from before `forget_before` are deleted."""
    await conn.execute(PRUNE_HITS, forget_before)
    await conn.execute(ADD_HITS, list(keys), at)


async def erase_number(conn: asyncpg.Connection, msisdn: str) -> int:
    """After the number's questions went (store/privacy.py's order): its posts."""
    deleted = affected(await conn.execute(DELETE_NUMBER_ONLY, msisdn))
    return deleted + affected(await conn.execute(FORGET_NUMBER, msisdn))


async def erase_address(conn: asyncpg.Connection, address: str) -> int:
    """After the address's questions went (store/privacy.py's order): its posts."""
    deleted = affected(await conn.execute(DELETE_ADDRESS_ONLY, address))
    return deleted + affected(await conn.execute(FORGET_ADDRESS, address))
