"""Each contact search field finds the right contacts and leaves out the others, page and API.

Why: the search became real controls (name, zip, keyword, program, status)
over every short code, one rule in services/contact_filters.py for both
doors. Each field is checked alone against a small crowd that differs in
exactly that field, through the API and through the page; a value the
keywords file does not offer is refused naming its field, and the page
keeps what was typed.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import asyncpg

from gateway.store import consent as consent_store
from gateway.store import inbound as inbound_store
from gateway.store.consent import NewConsentEvent
from gateway.store.inbound import NewInbound
from tests.support.webapi import WebApi

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
ANA = "+12125550101"      # rise, subscribed by JOIN, zip 10001
BOB = "+13125550199"      # rise, opted out (STOP), zip 60601
CLEO = "+12125550155"     # texted 12345, never joined, zip 10002
DENIS = "+33612345678"    # ensemble (38200), subscribed by ADHERER, postal code 75011
EMMA = "+33698765432"     # ensemble, asked to join, not confirmed
EVERYONE = sorted([ANA, BOB, CLEO, DENIS, EMMA])


async def _contact(conn: asyncpg.Connection, msisdn: str, code: str, subs: dict[str, Any],
                   profile: dict[str, str], zip_code: str, *, opted_out: bool = False) -> None:
    state = json.dumps({"v": 1, "subs": subs, "profile": profile})
    await conn.execute(
        "INSERT INTO contacts (msisdn, shortcode, state, zip, opted_out)"
        " VALUES ($1, $2, $3::jsonb, $4, $5)", msisdn, code, state, zip_code, opted_out)


async def _joined(conn: asyncpg.Connection, msisdn: str, code: str, program: str,
                  keyword: str) -> None:
    ids = await inbound_store.IdReserve("inbound_id_seq", block=1).take(conn, 1)
    await inbound_store.insert_batch(conn, [NewInbound(msisdn, code, keyword, 0, 1, NOW)], ids)
    await consent_store.insert_batch(conn, [NewConsentEvent(
        msisdn=msisdn, shortcode=code, program=program, program_name=program.title(),
        kind="opt_in_confirmed", inbound_id=ids[0], mo_text=keyword, keyword=keyword,
        disclosure_text="Thanks for joining", disclosure_version="v1", privacy_url="https://p",
        privacy_version="1", reply_index=None, occurred_at=NOW)])


async def seed(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await _contact(conn, ANA, "12345", {"rise": {"status": "subscribed", "keyword": "JOIN"}},
                       {"first_name": "Ana"}, "10001")
        await _contact(conn, BOB, "12345", {"rise": {"status": "opted_out"}},
                       {"first_name": "Bob"}, "60601", opted_out=True)
        await _contact(conn, CLEO, "12345", {}, {}, "10002")
        await _contact(conn, DENIS, "38200",
                       {"ensemble": {"status": "subscribed", "keyword": "ADHERER"}},
                       {"first_name": "Denis"}, "75011")
        await _contact(conn, EMMA, "38200", {"ensemble": {"status": "pending"}},
                       {"first_name": "Emmanuelle"}, "75012")
        await _joined(conn, ANA, "12345", "rise", "JOIN")
        await _joined(conn, BOB, "12345", "rise", "JOIN")
        await _joined(conn, DENIS, "38200", "ensemble", "ADHERER")


CASES: list[tuple[dict[str, str], list[str]]] = [
    ({}, EVERYONE),
    ({"q": "212555"}, [ANA, CLEO]),
    ({"q": "+3361"}, [DENIS]),
    ({"name": "ana"}, [ANA]),                  # any case
    ({"name": "emma"}, [EMMA]),                # some of the letters
    ({"zip": "100"}, [ANA, CLEO]),             # the code's start
    ({"zip": "75011"}, [DENIS]),
    ({"keyword": "JOIN"}, [ANA, BOB]),         # opted out since, still joined by JOIN
    ({"keyword": "adherer"}, [DENIS]),
    ({"program": "ensemble"}, [DENIS, EMMA]),
    ({"program": "rise", "status": "subscribed"}, [ANA]),
    ({"program": "rise", "status": "opted_out"}, [BOB]),
    ({"program": "rise", "status": "never"}, [CLEO]),   # on rise's code, never joined it
    ({"program": "ensemble", "status": "pending"}, [EMMA]),
    ({"status": "subscribed"}, [ANA, DENIS]),
    ({"status": "opted_out"}, [BOB]),
    ({"status": "never"}, [CLEO]),
    ({"program": "rise", "zip": "1"}, [ANA]),   # filters add up
]


async def test_each_field_finds_and_excludes_the_right_contacts_page_and_api(
    pool: asyncpg.Pool, site: WebApi,
) -> None:
    await seed(pool)
    organizer = await site.staff("organizer")
    await site.login("organizer@example.org")
    for params, expected in CASES:
        api = await site.client.get("/api/v1/contacts", params=params,
                                    headers=organizer.bearer)
        assert api.status == 200, (params, await api.text())
        assert [c["msisdn"] for c in (await api.json())["contacts"]] == expected, params
        page = await site.client.get("/contacts", params=params)
        html = await page.text()
        assert page.status == 200, params
        assert [n for n in EVERYONE if f'href="/contacts/{n}"' in html] == expected, params


async def test_a_contact_lists_its_programs_by_name_and_both_codes_in_one_row(
    pool: asyncpg.Pool, site: WebApi,
) -> None:
    await seed(pool)
    async with pool.acquire() as conn:  # Ana also texted the French code
        await _contact(conn, ANA, "38200", {"ensemble": {"status": "opted_out"}}, {}, "10001")
    organizer = await site.staff("organizer")
    body = await (await site.client.get("/api/v1/contacts", params={"q": ANA},
                                        headers=organizer.bearer)).json()
    [ana] = body["contacts"]
    assert ana["shortcodes"] == ["12345", "38200"]
    assert {p: s["status"] for p, s in ana["programs"].items()} == {
        "rise": "subscribed", "ensemble": "opted_out"}
    # found by the French program's status, shown with both
    found = await (await site.client.get(
        "/api/v1/contacts", params={"program": "ensemble", "status": "opted_out"},
        headers=organizer.bearer)).json()
    assert [c["msisdn"] for c in found["contacts"]] == [ANA]
    assert found["contacts"][0]["shortcodes"] == ["12345", "38200"]
    await site.login("organizer@example.org")
    html = await (await site.client.get("/contacts", params={"q": ANA})).text()
    row = html.split(f'href="/contacts/{ANA}"', 1)[1].split("</tr>", 1)[0]
    assert "Rise Up Alerts: subscribed" in row and "Ensemble Citoyen: opted out" in row
    assert "12345, 38200" in row


async def test_results_are_paged_with_every_filter_kept(
    pool: asyncpg.Pool, site: WebApi,
) -> None:
    await seed(pool)
    organizer = await site.staff("organizer")
    seen: list[str] = []
    after = None
    while True:
        params = {"limit": "2", **({"after": after} if after else {})}
        body = await (await site.client.get("/api/v1/contacts", params=params,
                                            headers=organizer.bearer)).json()
        seen += [c["msisdn"] for c in body["contacts"]]
        after = body["next_after"]
        if after is None:
            break
    assert seen == EVERYONE
    await site.login("organizer@example.org")
    first = await (await site.client.get("/contacts", params={"program": "rise"})).text()
    assert 'rel="next"' not in first  # three contacts: one page of 50
    # the page's link to the next page keeps the filters (50 a page: make 51)
    extra = [f"+1646555{n:04d}" for n in range(51)]
    async with pool.acquire() as conn:
        for number in extra:
            await _contact(conn, number, "12345", {"rise": {"status": "subscribed"}}, {},
                           "10003")
    in_rise = sorted([ANA, BOB, *extra])
    page = await (await site.client.get("/contacts", params={"program": "rise"})).text()
    link = page.split('rel="next"', 1)[0].rsplit('href="', 1)[1].split('"', 1)[0]
    link = link.replace("&amp;", "&")
    assert link == f"/contacts?program=rise&after=%2B{in_rise[49][1:]}"
    second = await (await site.client.get(link)).text()
    assert [n for n in in_rise if f'href="/contacts/{n}"' in second] == in_rise[50:]
    assert "First page" in second


async def test_a_value_not_offered_is_refused_naming_its_field_and_the_form_kept(
    pool: asyncpg.Pool, site: WebApi,
) -> None:
    await seed(pool)
    organizer = await site.staff("organizer")
    for params, field in (({"program": "Rise Up Alerts"}, "program"),  # a name, not the id
                          ({"keyword": "VOLUNTEER"}, "keyword"),       # not an opt-in keyword
                          ({"zip": "10001;"}, "zip"),
                          ({"q": "ana@", "program": "rise"}, "program")):
        api = await site.client.get("/api/v1/contacts", params=params,
                                    headers=organizer.bearer)
        body = await api.json()
        assert api.status == 400 and body["error"]["field"] == field, (params, body)
    status = await site.client.get("/api/v1/contacts", params={"status": "gone"},
                                   headers=organizer.bearer)
    assert status.status == 400 and (await status.json())["error"]["field"] == "status"
    await site.login("organizer@example.org")
    page = await site.client.get("/contacts", params={"program": "Rise Up Alerts",
                                                      "name": "Ana"})
    html = await page.text()
    assert page.status == 400
    assert 'id="program-error"' in html and "is not one of this campaign" in html
    assert 'value="Ana"' in html and 'aria-invalid="true"' in html
    assert '<option value="rise">Rise Up Alerts (12345)</option>' in html
