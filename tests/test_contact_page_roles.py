"""The contact page with a real history: consent in words, the ledger page, gifts by role.

Why: the contact page is where staff see what a supporter agreed to and
gave. Consent must read as sentences with the exact wording shown at the
time (a carrier audit asks for it), gifts must show their receipts, and the
donor's identity (name, address, employer, occupation) must reach only the
roles services/fences.py allows: admins and finance staff, never an
organizer or an expert. Each role is walked through the same pages.
"""

from __future__ import annotations

import json
import re
from html import unescape

import asyncpg

from tests.support.contact_history import (
    ANA,
    ASK,
    BYE,
    IDENTITY,
    PROMPT,
    WELCOME,
    seed,
)
from tests.support.webapi import WebApi


async def test_roles_see_gifts_and_receipts_but_only_admin_and_finance_the_donor(
    pool: asyncpg.Pool, site: WebApi,
) -> None:
    mts = await seed(pool)
    staff = {role: await site.staff(role) for role in ("admin", "organizer", "finance",
                                                       "expert")}
    for role, person in staff.items():
        await site.login(person.user.email)
        page = await site.client.get(f"/contacts/{ANA}")
        gifts = await site.client.get(f"/contacts/{ANA}/donations")
        api = await site.client.get(f"/api/v1/contacts/{ANA}/donations",
                                    headers=person.bearer)
        sees_page, sees_gifts = role in ("admin", "organizer"), role != "expert"
        assert page.status == (200 if sees_page else 403), role
        assert gifts.status == (200 if sees_gifts else 403), role
        assert api.status == (200 if sees_gifts else 403), role
        if not sees_gifts:
            continue
        body = await api.json()
        shown = [await gifts.text()] + ([await page.text()] if sees_page else [])
        identity = role in ("admin", "finance")
        assert ("donor_details" in body) is identity, role
        for html in shown:
            for fact in IDENTITY:
                assert (fact in html) is identity, (role, fact)
            assert "paid on the phone bill" in html and "paid by card" in html
            # no Stripe key here: the id, no dashboard link (tests/test_gift_links_and_phone.py)
            assert "card payment pi_test_123" in html and "dashboard.stripe.com" not in html
        if identity:
            [details] = body["donor_details"]
            assert (details["name"], details["employer"]) == (IDENTITY[0], IDENTITY[2])
        assert [g["receipt_mt_id"] for g in body["donations"]] == [mts["thanks"], mts["billed"]]
        if sees_page:
            html = await page.text()
            # the receipt links to the thank-you text, which is in the timeline
            assert f'href="#mt-{mts["billed"]}"' in html and f'id="mt-{mts["billed"]}"' in html
            assert f'href="#mt-{mts["thanks"]}"' in html and f'id="mt-{mts["thanks"]}"' in html
    audit = await pool.fetch("SELECT detail::text AS d FROM audit_log"
                             " WHERE action = 'contact.viewed' AND target = $1",
                             f"contact:{ANA}")
    views = [json.loads(r["d"]).get("view") for r in audit]
    assert views.count("page") == 2 and views.count("donations") == 6


async def test_consent_reads_as_sentences_and_the_ledger_page_shows_each_wording(
    pool: asyncpg.Pool, site: WebApi,
) -> None:
    await seed(pool)
    await site.staff("organizer")
    await site.login("organizer@example.org")
    html = await (await site.client.get(f"/contacts/{ANA}")).text()
    summary = html.split('id="consent-words"', 1)[1].split("</ol>", 1)[0]
    assert "Asked to join Rise Up Alerts by texting <q>JOIN</q> to 12345" in summary
    assert "Joined Rise Up Alerts by texting <q>Y</q> to 12345 (confirming the keyword JOIN)" \
        in summary
    assert "Stopped Rise Up Alerts by texting <q>STOP</q> to 12345" in summary
    assert "Joined Rise Up Alerts again by pressing 1 on a call to the voice line" in summary
    assert f"With the disclosure <q>{WELCOME}</q> (version us-optin-v3)" in unescape(summary)
    for code in ("opt_in_confirmed", "opted_out", "keyword_matched", "opt_in_requested"):
        assert code not in re.sub(r'class="[^"]*"', "", html), code  # words, not codes
    assert f'href="/contacts/{ANA}/consent"' in html

    ledger = await site.client.get(f"/contacts/{ANA}/consent")
    text = unescape(await ledger.text())
    assert ledger.status == 200
    rows = text.split('id="consent-ledger"', 1)[1].split("</table>", 1)[0].split("<tr id=")[1:]
    assert len(rows) == 4
    for row, (wording, version) in zip(rows, ((ASK, "us-optin-v3"), (WELCOME, "us-optin-v3"),
                                              (BYE, "us-optout-v1"), (WELCOME, "us-optin-v3")),
                                       strict=True):
        assert f"<q>{wording}</q> (version {version})" in row
        assert ANA in row and "2024-05" in row
    assert "SMS" in rows[0] and "call keypress" in rows[3] and "CA0001" in rows[3]
    assert f"They heard: <q>{PROMPT}</q> (prompt version voice-optin-v2)" in rows[3]
    views = await pool.fetch("SELECT detail->>'view' AS v FROM audit_log"
                             " WHERE action = 'contact.viewed' AND target = $1", f"contact:{ANA}")
    assert [r["v"] for r in views] == ["page", "consent_ledger"]


async def test_finance_find_a_donors_gifts_by_number_and_the_contact_page_links_them(
    pool: asyncpg.Pool, site: WebApi,
) -> None:
    """Finance staff open no contact page: the Donations page's form leads to the gifts."""
    await seed(pool)
    finance = await site.staff("finance")
    organizer = await site.staff("organizer")
    donations = await (await site.client.get("/donations", headers=finance.bearer)).text()
    assert 'action="/donations/donor"' in donations
    found = await site.client.get("/donations/donor", params={"number": "(212) 555-0101"},
                                  headers=finance.bearer, allow_redirects=False)
    assert (found.status, found.headers["Location"]) == (303, f"/contacts/{ANA}/donations")
    gifts = await site.client.get(found.headers["Location"], headers=finance.bearer)
    assert gifts.status == 200 and IDENTITY[0] in await gifts.text()
    wrong = await site.client.get("/donations/donor", params={"number": "call Ana"},
                                  headers=finance.bearer)
    assert wrong.status == 400 and "is not a phone number" in unescape(await wrong.text())
    nothing = await site.client.get("/contacts/+12125550199/donations", headers=finance.bearer)
    assert nothing.status == 200 and "No gift from this number." in await nothing.text()
    refused = await site.client.get("/donations/donor", params={"number": ANA},
                                    headers=organizer.bearer, allow_redirects=False)
    assert refused.status == 403
    page = await (await site.client.get(f"/contacts/{ANA}", headers=organizer.bearer)).text()
    assert f'href="/contacts/{ANA}/donations" id="gifts-page-link"' in page
