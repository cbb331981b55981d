"""A search by name finds a contact by part of a name or a misspelt one, through a trigram index.

Why: staff type what they heard on the phone ("jon smth"); the search used to
need an exact run of letters and read every contact. Migration 411 indexes the
contact's names (pg_trgm); gateway/store/lookups.py asks the longest word of the
index and checks every word is part of a name or close to one.
"""

from __future__ import annotations

import json
from typing import Any

import asyncpg

from gateway.store.lookups import NAME_SEARCH, SEARCH_CONTACTS, ContactFilter, search_contacts

JOHN, JOAN, MARIE, PAT = "+12125550101", "+12125550102", "+33612345678", "+12125550104"


async def people(conn: asyncpg.Connection) -> None:
    for msisdn, profile in ((JOHN, {"first_name": "John", "last_name": "Smith"}),
                            (JOAN, {"first_name": "Joan", "last_name": "Smythe"}),
                            (MARIE, {"first_name": "Marie-Claire", "last_name": "Dupont"}),
                            (PAT, {"first_name": "Pat", "city": "Smithville"})):
        await conn.execute(
            "INSERT INTO contacts (msisdn, shortcode, state) VALUES ($1, '12345', $2::jsonb)",
            msisdn, json.dumps({"v": 1, "subs": {}, "profile": profile}))


async def found(conn: asyncpg.Connection, name: str) -> list[str]:
    return [r["msisdn"] for r in await search_contacts(conn, ContactFilter(name=name))]


async def test_part_of_a_name_or_a_misspelling_finds_the_person(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await people(conn)
        assert await found(conn, "jon smth") == [JOHN, JOAN]  # both misspelt: both close
        assert await found(conn, "john smith") == [JOHN]
        assert await found(conn, "SMITH john") == [JOHN]  # any order, any case
        assert await found(conn, "dupond") == [MARIE]  # a misspelt last name
        assert await found(conn, "claire") == [MARIE]  # part of a name
        assert await found(conn, "sm") == [JOHN, JOAN]  # letters of both last names
        # only the name fields: Pat's city is Smithville, not a name
        assert PAT not in await found(conn, "smithville")
        assert await found(conn, "xavier") == []
        assert await found(conn, "50%") == []  # LIKE's wildcards are letters here


CROWD = """
INSERT INTO contacts (msisdn, shortcode, state)
SELECT '+1555' || lpad(i::text, 7, '0'), '12345', jsonb_build_object('v', 1, 'subs', '{}'::jsonb,
       'profile', jsonb_build_object('first_name', 'Member' || i, 'last_name', md5(i::text)))
FROM generate_series(1, 20000) AS i
"""


async def test_a_search_by_name_reads_the_trigram_index(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await people(conn)
        await conn.execute(CROWD)
        await conn.execute("ANALYZE contacts")
        args: list[Any] = [None, None, "%dupond%", "dupond", None, None, None, None, [], None,
                           None, None, 50, ["dupond"], ["%dupond%"], None]
        async with conn.transaction():
            await conn.execute(NAME_SEARCH)
            plan = await conn.fetchval(f"EXPLAIN (FORMAT JSON) {SEARCH_CONTACTS}", *args)
        assert await found(conn, "dupond") == [MARIE]
    assert "contacts_names_trgm_idx" in plan
