"""Contacts of every short code: listed, opened, searched (page and API alike).

Why a test: the contacts page and API read only the gateway's own short code
(GATEWAY_SHORTCODE), so a supporter of the second program (the French one, on
38200) was missing from Contacts and their contact page was a 404, while the
expert inbox showed their questions. A contact is a number on any short code.
"""

from __future__ import annotations

import json
from typing import Any

import asyncpg

from tests.support.webapi import WebApi

FIRST = "+12125550101"   # on 12345 (rise), the gateway's own short code
SECOND = "+33612345678"  # on 38200 (ensemble), the second short code


async def seed_two_codes(pool: asyncpg.Pool) -> None:
    rows: list[tuple[str, str, dict[str, Any], str | None]] = [
        (FIRST, "12345", {"rise": {"status": "subscribed", "keyword": "JOIN"}}, "10001"),
        (SECOND, "38200", {"ensemble": {"status": "subscribed", "keyword": "ENSEMBLE"}},
         "75011"),
    ]
    for msisdn, code, subs, zip_code in rows:
        state = json.dumps({"v": 1, "subs": subs, "profile": {"first_name": "Ana"}})
        await pool.execute(
            "INSERT INTO contacts (msisdn, shortcode, state, zip) VALUES ($1, $2, $3::jsonb, $4)",
            msisdn, code, state, zip_code)


async def test_the_second_short_codes_contact_is_listed_and_opened_page_and_api(
    pool: asyncpg.Pool, site: WebApi,
) -> None:
    await seed_two_codes(pool)
    organizer = await site.staff("organizer")
    await site.login("organizer@example.org")

    listed = await site.client.get("/api/v1/contacts", headers=organizer.bearer)
    assert listed.status == 200
    assert [c["msisdn"] for c in (await listed.json())["contacts"]] == [FIRST, SECOND]
    page = await (await site.client.get("/contacts")).text()
    assert f'href="/contacts/{FIRST}"' in page and f'href="/contacts/{SECOND}"' in page

    opened = await site.client.get(f"/contacts/{SECOND}")
    assert opened.status == 200, await opened.text()
    profile = await site.client.get(f"/api/v1/contacts/{SECOND}", headers=organizer.bearer)
    assert profile.status == 200
    body = await profile.json()
    assert body["programs"]["ensemble"]["status"] == "subscribed"
    for view in ("timeline", "consent"):
        response = await site.client.get(f"/api/v1/contacts/{SECOND}/{view}",
                                         headers=organizer.bearer)
        assert response.status == 200, view
