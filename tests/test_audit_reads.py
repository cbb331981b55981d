"""Reads of personal data leave an audit row: the consent ledger, donation lists, a donation,
and a broadcast preview's samples (API and page), like a profile or timeline view.

The real API and pages on PostgreSQL; each read is made as the role that may
make it, and the row must name who, what and (where it is one person) whom.
"""

from __future__ import annotations

import json
from typing import Any

import asyncpg

from tests.support.finance_ledger import gift
from tests.support.pages_site import form_token
from tests.support.webapi import WebApi

NUMBER = "+12125550101"


async def seed_contact(pool: asyncpg.Pool) -> None:
    state = json.dumps({"v": 1, "subs": {"rise": {"status": "subscribed"}},
                        "profile": {"first_name": "Sam", "zip": "10001"}})
    await pool.execute("INSERT INTO contacts (msisdn, shortcode, state, zip, region, country)"
                       " VALUES ($1, '12345', $2::jsonb, '10001', 'NY', 'US')", NUMBER, state)


async def audited(pool: asyncpg.Pool) -> list[tuple[str, str, str | None, dict[str, Any]]]:
    rows = await pool.fetch("SELECT actor, action, target, detail::text AS detail"
                            " FROM audit_log ORDER BY id")
    return [(r["actor"], r["action"], r["target"], json.loads(r["detail"])) for r in rows]


async def test_the_consent_ledger_and_a_contacts_consent_are_audited(
    pool: asyncpg.Pool, site: WebApi,
) -> None:
    await seed_contact(pool)
    organizer = await site.staff("organizer")
    ledger = await site.client.get("/api/v1/consent", headers=organizer.bearer,
                                   params={"kind": "opted_out"})
    assert ledger.status == 200, await ledger.text()
    one = await site.client.get(f"/api/v1/consent?msisdn={NUMBER[1:]}",
                                headers=organizer.bearer)
    assert one.status == 200
    mine = await site.client.get(f"/api/v1/contacts/{NUMBER}/consent",
                                 headers=organizer.bearer)
    assert mine.status == 200
    rows = await audited(pool)
    assert [(a, act, t, d["view"]) for a, act, t, d in rows] == [
        ("organizer@example.org", "contact.viewed", None, "consent_ledger"),
        ("organizer@example.org", "contact.viewed", f"contact:{NUMBER}", "consent_ledger"),
        ("organizer@example.org", "contact.viewed", f"contact:{NUMBER}", "consent")]
    assert rows[0][3]["search"] == {"kind": "opted_out"} and rows[0][3]["results"] == 0


async def test_donation_lists_and_a_donation_are_audited(
    pool: asyncpg.Pool, site: WebApi,
) -> None:
    async with pool.acquire() as conn:
        given = await gift(conn, msisdn=NUMBER)
    finance = await site.staff("finance")
    listed = await site.client.get("/api/v1/donations", headers=finance.bearer)
    assert listed.status == 200 and len((await listed.json())["donations"]) == 1
    theirs = await site.client.get("/api/v1/donations", headers=finance.bearer,
                                   params={"msisdn": NUMBER})
    assert theirs.status == 200
    one = await site.client.get(f"/api/v1/donations/{given.id}", headers=finance.bearer)
    assert one.status == 200
    missing = await site.client.get("/api/v1/donations/424242", headers=finance.bearer)
    assert missing.status == 404
    rows = await audited(pool)
    assert [(act, t, d["view"]) for _, act, t, d in rows] == [
        ("donations.viewed", None, "list"),
        ("donations.viewed", f"contact:{NUMBER}", "list"),
        ("donations.viewed", f"donation:{given.id}", "donation")]  # a 404 showed nothing
    assert rows[0][3]["results"] == 1


async def test_a_broadcast_previews_samples_are_audited_from_the_api_and_the_page(
    pool: asyncpg.Pool, site: WebApi,
) -> None:
    await seed_contact(pool)
    organizer = await site.staff("organizer")
    draft = {"program": "rise", "where": "", "text": "Hi {first_name|friend}"}
    preview = await site.client.post("/api/v1/broadcasts/preview", json=draft,
                                     headers=organizer.bearer)
    assert preview.status == 200, await preview.text()
    assert (await preview.json())["samples"] == [{"msisdn": NUMBER, "text": "Hi Sam"}]
    nobody = await site.client.post("/api/v1/broadcasts/preview", headers=organizer.bearer,
                                    json={**draft, "sample_size": 0})
    assert nobody.status == 200  # counts only: no one was shown
    await site.login("organizer@example.org")
    token = form_token(await (await site.client.get("/broadcasts/new")).text())
    page = await site.client.post("/broadcasts/new", data={
        "csrf_token": token, **draft, "action": "preview"})
    assert page.status == 200 and "Hi Sam" in await page.text()
    shown = [(act, d["view"], d["contacts"]) for _, act, _, d in await audited(pool)
             if d.get("view") == "broadcast_preview"]
    assert shown == [("contact.viewed", "broadcast_preview", [NUMBER])] * 2
