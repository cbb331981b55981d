"""The contacts page and the contacts API are two doors to one search: same meaning, same refusal.

Why a test: each used to parse the search box its own way (two patterns and
two error texts), so a search could mean one thing on the page and another
to a script. Both now call gateway/services/contacts.py; this checks they
agree on results, on the refusal's words and field, and on the audit row.
"""

from __future__ import annotations

import json
from typing import Any

import asyncpg

from gateway.services.contacts import SEARCH_HINT
from tests.support.webapi import WebApi

NUMBERS = ("+12125550101", "+13125550199")


async def _seed(pool: asyncpg.Pool) -> None:
    for number in NUMBERS:
        state = json.dumps({"v": 1, "subs": {}, "profile": {"zip": "10001"}})
        await pool.execute("INSERT INTO contacts (msisdn, shortcode, state) VALUES ($1, '12345',"
                           " $2::jsonb)", number, state)


async def _searches(pool: asyncpg.Pool) -> list[dict[str, Any]]:
    rows = await pool.fetch("SELECT detail::text AS d FROM audit_log"
                            " WHERE action = 'contact.viewed' ORDER BY id")
    return [json.loads(r["d"]) for r in rows]


async def test_page_and_api_find_the_same_contacts_and_refuse_in_the_same_words(
    pool: asyncpg.Pool, site: WebApi,
) -> None:
    await _seed(pool)
    organizer = await site.staff("organizer")
    await site.login("organizer@example.org")
    for q, expected in (("212555", [NUMBERS[0]]), ("(212) 555-0101", [NUMBERS[0]]),
                        ("+1", list(NUMBERS))):
        api = await site.client.get("/api/v1/contacts", params={"q": q},
                                    headers=organizer.bearer)
        assert [c["msisdn"] for c in (await api.json())["contacts"]] == expected, q
        page = await (await site.client.get("/contacts", params={"q": q})).text()
        assert [n for n in NUMBERS if n in page] == expected, q
    api_bad = await site.client.get("/api/v1/contacts", params={"q": "a b"},
                                    headers=organizer.bearer)
    body = await api_bad.json()
    assert api_bad.status == 400 and body["error"]["message"] == SEARCH_HINT
    assert body["error"]["field"] == "q"
    page_bad = await site.client.get("/contacts", params={"q": "a b"})
    assert page_bad.status == 400 and SEARCH_HINT in await page_bad.text()
    searches = await _searches(pool)
    assert [s["search"] for s in searches] == [
        {"q": q} for q in ("212555", "212555", "(212) 555-0101",
                                                 "(212) 555-0101", "+1", "+1")]
    assert [s.get("view") for s in searches] == [None, "page"] * 3
