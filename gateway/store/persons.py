"""Persons: the addresses verified to be one citizen, the links that joined them, and the
one-time link tokens (migration 240). SQL only; the one writer of the four tables.

Why membership and links are separate tables: `person_addresses` answers the
question other features ask ("whose is this address?", "has this SMS asker a
verified e-mail?") with one index lookup, and `person_links` keeps how each join
was verified, by whom and why, also after an unmerge. The rules (who may join
what, how a person splits) are in gateway/services/persons/; every change runs
in the caller's transaction after `lock` (one lock for all persons: joins are
rare, and a join that moves a whole person must not race another).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import asyncpg

from gateway.store.db import affected

Channel = Literal["sms", "email"]
LinkMethod = Literal["confirmed_link", "both_channels", "expert_merge"]

LOCK = "SELECT pg_advisory_xact_lock(hashtextextended('persons', 0))"

PERSON_OF = "SELECT person_id FROM person_addresses WHERE address = $1"

ADDRESSES_OF = """
SELECT address, channel, person_id, added_at FROM person_addresses
WHERE person_id = $1 ORDER BY channel DESC, added_at, address
"""

# The address and every other address of its person, numbers first.
LINKED = """
SELECT b.address FROM person_addresses a
JOIN person_addresses b ON b.person_id = a.person_id
WHERE a.address = $1 ORDER BY b.channel DESC, b.added_at, b.address
"""

# Every link that ever touched these addresses, active ones first, oldest first.
LINKS_OF = """
SELECT id, address_a, address_b, method, evidence::text AS evidence, linked_by, reason,
       linked_at, unlinked_at, unlinked_by, unlink_reason
FROM person_links
WHERE address_a = ANY($1::text[]) OR address_b = ANY($1::text[])
ORDER BY unlinked_at IS NOT NULL, linked_at, id
"""

GET_LINK = """
SELECT id, address_a, address_b, method, evidence::text AS evidence, linked_by, reason,
       linked_at, unlinked_at, unlinked_by, unlink_reason
FROM person_links WHERE id = $1
"""

INSERT_PERSON = "INSERT INTO persons (created_at) VALUES ($1) RETURNING id"

INSERT_LINK = """
INSERT INTO person_links (address_a, address_b, method, evidence, linked_by, reason, linked_at)
VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7)
RETURNING id
"""

ADD_ADDRESSES = """
INSERT INTO person_addresses (address, channel, person_id, added_at)
SELECT a.address, a.channel, $3, $4 FROM unnest($1::text[], $2::text[]) AS a(address, channel)
"""

MOVE_ADDRESSES = "UPDATE person_addresses SET person_id = $2 WHERE address = ANY($1::text[])"

REMOVE_ADDRESSES = "DELETE FROM person_addresses WHERE address = ANY($1::text[])"

DELETE_EMPTY_PERSON = """
DELETE FROM persons p WHERE p.id = $1
  AND NOT EXISTS (SELECT 1 FROM person_addresses a WHERE a.person_id = p.id)
"""

UNLINK = """
UPDATE person_links SET unlinked_at = $2, unlinked_by = $3, unlink_reason = $4
WHERE id = $1 AND unlinked_at IS NULL
"""

# -- link tokens -------------------------------------------------------------------------

INSERT_TOKEN = """
INSERT INTO person_link_tokens (token_hash, known_address, claimed_address, language,
                                requested_by, evidence, created_at, expires_at)
VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8)
RETURNING id
"""

SET_TOKEN_MESSAGE = """
UPDATE person_link_tokens SET mail_id = $2, outbound_id = $3 WHERE id = $1
"""

FIND_TOKEN = """
SELECT id, known_address, claimed_address, language, requested_by, evidence::text AS evidence,
       created_at, expires_at, used_at, link_id
FROM person_link_tokens WHERE token_hash = $1
"""

LOCK_TOKEN = FIND_TOKEN + " FOR UPDATE"

USE_TOKEN = """
UPDATE person_link_tokens SET used_at = $2, link_id = $3 WHERE id = $1 AND used_at IS NULL
"""

PENDING_TOKENS = """
SELECT id, known_address, claimed_address, requested_by, created_at, expires_at, used_at
FROM person_link_tokens
WHERE known_address = ANY($1::text[]) OR claimed_address = ANY($1::text[])
ORDER BY id DESC LIMIT $2
"""

# -- what exists about an address (a merge joins only addresses we have heard of) ------

NUMBER_KNOWN = """
SELECT EXISTS (SELECT 1 FROM contacts WHERE msisdn = $1)
    OR EXISTS (SELECT 1 FROM inbound WHERE msisdn = $1)
    OR EXISTS (SELECT 1 FROM person_addresses WHERE address = $1)
"""

EMAIL_KNOWN = """
SELECT EXISTS (SELECT 1 FROM mail_inbound WHERE lower(from_address) = $1)
    OR EXISTS (SELECT 1 FROM mail_outbox WHERE lower(to_address) = $1)
    OR EXISTS (SELECT 1 FROM person_addresses WHERE address = $1)
"""

INBOUND_FROM = "SELECT msisdn FROM inbound WHERE id = $1"

# -- erasure (store/privacy.py runs these in its one transaction) ------------------------

DELETE_TOKENS_OF = """
DELETE FROM person_link_tokens
WHERE known_address = ANY($1::text[]) OR claimed_address = ANY($1::text[])
"""

DELETE_LINKS_OF = """
DELETE FROM person_links WHERE address_a = ANY($1::text[]) OR address_b = ANY($1::text[])
"""

DELETE_PERSONS = """
DELETE FROM persons p WHERE p.id = ANY($1::bigint[])
  AND NOT EXISTS (SELECT 1 FROM person_addresses a WHERE a.person_id = p.id)
"""

PERSONS_OF = "SELECT DISTINCT person_id FROM person_addresses WHERE address = ANY($1::text[])"


@dataclass(frozen=True, slots=True)
class PersonAddress:
    address: str
    channel: Channel
    person_id: int
    added_at: datetime


@dataclass(frozen=True, slots=True)
class Link:
    id: int
    address_a: str
    address_b: str
    method: LinkMethod
    evidence: Mapping[str, Any]
    linked_by: str
    reason: str | None
    linked_at: datetime
    unlinked_at: datetime | None
    unlinked_by: str | None
    unlink_reason: str | None

    @property
    def active(self) -> bool:
        return self.unlinked_at is None

    def other_end(self, address: str) -> str:
        return self.address_b if address == self.address_a else self.address_a


@dataclass(frozen=True, slots=True)
class LinkToken:
    id: int
    known_address: str
    claimed_address: str
    language: str
    requested_by: str
    evidence: Mapping[str, Any]
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None
    link_id: int | None


def _link(row: asyncpg.Record) -> Link:
    return Link(**{**dict(row), "evidence": json.loads(row["evidence"])})


def _token(row: asyncpg.Record) -> LinkToken:
    return LinkToken(**{**dict(row), "evidence": json.loads(row["evidence"])})


def _json(value: Mapping[str, Any]) -> str:
    return json.dumps(dict(value), separators=(",", ":"), default=str)


async def lock(conn: asyncpg.Connection) -> None:
    """The persons lock, to the end of the caller's transaction."""
    await conn.execute(LOCK)


async def person_of(conn: asyncpg.Connection, address: str) -> int | None:
    found: int | None = await conn.fetchval(PERSON_OF, address)
    return found


async def addresses_of(conn: asyncpg.Connection, person_id: int) -> list[PersonAddress]:
    return [PersonAddress(**dict(r)) for r in await conn.fetch(ADDRESSES_OF, person_id)]


async def linked(conn: asyncpg.Connection, address: str) -> list[str]:
    """The address and the others verified to be the same person (just it, when none)."""
    found = [r["address"] for r in await conn.fetch(LINKED, address)]
    return found or [address]


async def links_of(conn: asyncpg.Connection, addresses: Sequence[str]) -> list[Link]:
    return [_link(r) for r in await conn.fetch(LINKS_OF, list(addresses))]


async def get_link(conn: asyncpg.Connection, link_id: int) -> Link | None:
    row = await conn.fetchrow(GET_LINK, link_id)
    return _link(row) if row else None


async def new_person(conn: asyncpg.Connection, *, now: datetime) -> int:
    person_id: int = await conn.fetchval(INSERT_PERSON, now)
    return person_id


async def insert_link(conn: asyncpg.Connection, address_a: str, address_b: str, *,
                      method: LinkMethod, evidence: Mapping[str, Any], linked_by: str,
                      reason: str | None, now: datetime) -> int:
    link_id: int = await conn.fetchval(INSERT_LINK, address_a, address_b, method,
                                       _json(evidence), linked_by, reason, now)
    return link_id


async def add_addresses(conn: asyncpg.Connection, person_id: int,
                        addresses: Sequence[tuple[str, Channel]], *, now: datetime) -> None:
    if addresses:
        await conn.execute(ADD_ADDRESSES, [a for a, _ in addresses],
                           [c for _, c in addresses], person_id, now)


async def move_addresses(conn: asyncpg.Connection, addresses: Sequence[str],
                         person_id: int) -> int:
    return affected(await conn.execute(MOVE_ADDRESSES, list(addresses), person_id))


async def remove_addresses(conn: asyncpg.Connection, addresses: Sequence[str]) -> int:
    return affected(await conn.execute(REMOVE_ADDRESSES, list(addresses)))


async def delete_if_empty(conn: asyncpg.Connection, person_id: int) -> bool:
    return affected(await conn.execute(DELETE_EMPTY_PERSON, person_id)) == 1


async def unlink(conn: asyncpg.Connection, link_id: int, *, by: str, reason: str,
                 now: datetime) -> bool:
    """Mark an active link undone; False when it was not active."""
    return affected(await conn.execute(UNLINK, link_id, now, by, reason)) == 1


async def insert_token(conn: asyncpg.Connection, *, token_hash: bytes, known: str,
                       claimed: str, language: str, requested_by: str,
                       evidence: Mapping[str, Any], now: datetime,
                       expires_at: datetime) -> int:
    token_id: int = await conn.fetchval(INSERT_TOKEN, token_hash, known, claimed, language,
                                        requested_by, _json(evidence), now, expires_at)
    return token_id


async def set_token_message(conn: asyncpg.Connection, token_id: int, *,
                            mail_id: int | None, outbound_id: int | None) -> None:
    await conn.execute(SET_TOKEN_MESSAGE, token_id, mail_id, outbound_id)


async def find_token(conn: asyncpg.Connection, token_hash: bytes, *,
                     for_update: bool = False) -> LinkToken | None:
    row = await conn.fetchrow(LOCK_TOKEN if for_update else FIND_TOKEN, token_hash)
    return _token(row) if row else None


async def use_token(conn: asyncpg.Connection, token_id: int, *, link_id: int | None,
                    now: datetime) -> bool:
    return affected(await conn.execute(USE_TOKEN, token_id, now, link_id)) == 1


async def recent_tokens(conn: asyncpg.Connection, addresses: Sequence[str],
                        limit: int = 20) -> list[asyncpg.Record]:
    return list(await conn.fetch(PENDING_TOKENS, list(addresses), limit))


async def address_known(conn: asyncpg.Connection, address: str, channel: Channel) -> bool:
    """Whether anything was ever received from, sent to, or recorded about the address."""
    return bool(await conn.fetchval(NUMBER_KNOWN if channel == "sms" else EMAIL_KNOWN, address))


async def inbound_sender(conn: asyncpg.Connection, inbound_id: int) -> str | None:
    """The number an MO came from (the SMS proof of a both-channels link)."""
    found: str | None = await conn.fetchval(INBOUND_FROM, inbound_id)
    return found


async def forget(conn: asyncpg.Connection, addresses: Sequence[str]) -> int:
    """Erasure: the addresses' tokens, links and memberships, and persons left empty.

    What stays of the person, if any (another address erased on its own), keeps
    its row; a person left with a single address is no person and goes too.
    """
    listed = list(addresses)
    persons = [r["person_id"] for r in await conn.fetch(PERSONS_OF, listed)]
    rows = affected(await conn.execute(DELETE_TOKENS_OF, listed))
    rows += affected(await conn.execute(DELETE_LINKS_OF, listed))
    rows += affected(await conn.execute(REMOVE_ADDRESSES, listed))
    for person_id in persons:
        left = await addresses_of(conn, person_id)
        if len(left) == 1:
            rows += affected(await conn.execute(REMOVE_ADDRESSES, [left[0].address]))
    rows += affected(await conn.execute(DELETE_PERSONS, persons))
    return rows
