"""E-mail addresses as contacts: found by the search box, with a page and an API of their own.

On a real PostgreSQL, through the real pages and API (aiohttp's test server): an
address that wrote by mail, one that only posted the form, one that only asked to
join a list are found, on the page and in the API alike; a bounce, an auto-reply and a
staff member who only got our notices are nobody's contact. The e-mail contact page
shows the address's consent in plain words, and merges it with a number the way a
number's page does. The whole path from the form to the citizen's reply is
tests/test_email_contact_path.py.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import asyncpg
from hypothesis import given
from hypothesis import strategies as st

from gateway.config import Settings
from gateway.email_address import EmailAddressError, normalize_email
from gateway.email_consent import request_opt_in
from gateway.outgoing_mail import OutgoingMail
from gateway.services.contacts import NO_PROFILE, SEARCH_HINT, address_part
from gateway.store import mail_outbox, web_messages
from gateway.store.web_messages import NewWebMessage
from tests.support.pages_site import form_token, start_site
from tests.support.persons import sms_at
from tests.support.questions import RULES
from tests.support.webapi import WebApi
from tests.support.written_mail import RECEIVED, citizen_mail, route_all, router, store_mail

RENEE = "renee@example.fr"
PAUL = "paul@example.org"  # only the form
ZOE = "zoe@example.net"  # only a ticked box
NUMBER = "+12125550101"
FOUND = [PAUL, RENEE, ZOE]


def page_of(address: str) -> str:
    """The page's path as the templates write it ('@' as %40)."""
    return "/contacts/email/" + quote(address, safe="+")


async def seed(pool: asyncpg.Pool, settings: Settings) -> None:
    """Three people known by e-mail, and three addresses that are nobody's contact."""
    now = datetime.now(UTC)
    await store_mail(pool, citizen_mail("Fermeture des urgences", "Pourquoi ?",
                                        sender="Renée Dupré <Renee@Example.FR>"),
                     envelope_from="Renee@Example.FR")
    await store_mail(pool, citizen_mail("Absence", "Je suis absent.",
                                        sender="Max <max@example.net>",
                                        message_id="<auto@example.net>",
                                        headers={"Auto-Submitted": "auto-replied"}),
                     envelope_from="max@example.net")
    await store_mail(pool, citizen_mail("Undelivered", "...", message_id="<d@example.net>",
                                        sender="mailer-daemon@example.net"),
                     envelope_from="")
    async with pool.acquire() as conn:
        await web_messages.insert(conn, NewWebMessage(
            received_at=now, program="ensemble", language="fr", theme="sante",
            body="Une question", name="Paul", email=PAUL, msisdn=None, campaign_box=False,
            box_wording=None, box_version=None, form_nonce="n1"))
        await request_opt_in(conn, settings, RULES, address=ZOE, program="ensemble",
                             source="web_form", wording="Recevoir les nouvelles",
                             version="v1", now=now)
        await mail_outbox.enqueue(conn, OutgoingMail(
            purpose="notification", from_address="contact@campagne.example",
            to_address="lead@example.org", subject="Question en retard", text_body="..."),
            message_id="<n1@campagne.example>")


async def api_search(site: WebApi, headers: dict[str, str], **params: Any) -> Any:
    response = await site.client.get("/api/v1/contacts", params=params, headers=headers)
    return response.status, await response.json()


async def test_the_search_box_finds_addresses_that_wrote_posted_or_asked_to_join(
    pool: asyncpg.Pool, site: WebApi, settings: Settings,
) -> None:
    await seed(pool, settings)
    organizer = await site.staff("organizer")
    await site.login("organizer@example.org")
    for q, expected in (("example", FOUND), ("RENEE@", [RENEE]), (" Renee@Example.FR ", [RENEE]),
                        ("@example.org", [PAUL]), ("renee_example", []),
                        ("renee%fr", [])):  # typed, not wildcards
        status, body = await api_search(site, organizer.bearer, q=q)
        assert status == 200 and body["searched"] == "emails", q
        assert [e["address"] for e in body["emails"]] == expected, q
        assert body["contacts"] == []
        page = await (await site.client.get("/contacts", params={"q": q})).text()
        assert [a for a in FOUND if f'href="{page_of(a)}"' in page] \
            == expected, q
    _, body = await api_search(site, organizer.bearer, q="renee")
    [renee] = body["emails"]
    assert renee["via"] == ["email"] and renee["numbers"] == []
    _, body = await api_search(site, organizer.bearer, q="example", limit=2)
    assert [e["address"] for e in body["emails"]] == FOUND[:2] and body["next_after"] == RENEE
    _, body = await api_search(site, organizer.bearer, q="example", limit=2, after=RENEE)
    assert [e["address"] for e in body["emails"]] == [ZOE] and body["next_after"] is None

    status, body = await api_search(site, organizer.bearer, q="zoe", field="zip", value="1")
    assert status == 400
    assert (body["error"]["field"], body["error"]["message"]) == ("field", NO_PROFILE)
    status, body = await api_search(site, organizer.bearer, q="zoe <z")
    assert status == 400 and body["error"]["message"] == SEARCH_HINT
    async with pool.acquire() as conn:
        audited = await conn.fetch("SELECT detail::text AS d FROM audit_log WHERE action = "
                                   "'contact.viewed' ORDER BY id LIMIT 2")
    assert [json.loads(r["d"])["search"]["q"] for r in audited] == ["example", "example"]


async def test_the_email_contact_page_shows_consent_in_words_and_is_audited(
    pool: asyncpg.Pool, site: WebApi, settings: Settings,
) -> None:
    await seed(pool, settings)
    expert = await site.staff("expert", themes=("sante",))
    organizer = await site.staff("organizer")
    await site.login("organizer@example.org")
    page = await site.client.get(page_of(ZOE))
    html = await page.text()
    assert page.status == 200
    consent = html.split('id="email-consent"', 1)[1].split("</section>", 1)[0]
    assert "Waiting for confirmation" in consent
    assert "Asked to subscribe by ticking the box on the web form" in consent
    assert "Recevoir les nouvelles" in consent and f'href="/subscribers/{quote(ZOE)}"' in consent
    assert 'id="person-none"' in html and 'action="/contacts/email/zoe%40example.net/person/' \
        in html
    renee = await (await site.client.get(page_of(RENEE))).text()
    assert "No consent step recorded" in renee  # writing to us subscribes no one
    assert "Fermeture des urgences" in renee and "Pourquoi ?" not in renee  # subject only

    assert (await site.client.get(page_of("lead@example.org"))).status == 404  # staff
    assert (await site.client.get(page_of("mailer-daemon@example.net"))).status == 404
    bad = await site.client.get("/contacts/email/not-an-address")
    assert bad.status == 400 and "not an e-mail address" in await bad.text()
    for path in (page_of(ZOE), "/api/v1/contacts/email/" + ZOE):
        assert (await site.client.get(path, headers=expert.bearer)).status == 403

    api = await site.client.get(f"/api/v1/contacts/email/{ZOE}/consent",
                                headers=organizer.bearer)
    body = await api.json()
    assert [s["state"] for s in body["subscriptions"]] == ["pending"]
    assert [h["kind"] for h in body["history"]] == ["opt_in_requested"]
    profile = await (await site.client.get(f"/api/v1/contacts/email/{PAUL}",
                                           headers=organizer.bearer)).json()
    assert (profile["address"], profile["via"], profile["person"]) == (PAUL, ["form"], None)
    async with pool.acquire() as conn:
        views = await conn.fetch("SELECT target, detail::text AS d FROM audit_log WHERE "
                                 "action = 'contact.viewed' ORDER BY id")
    assert [(v["target"], json.loads(v["d"])["view"]) for v in views] == [
        (f"contact:{ZOE}", "page"), (f"contact:{RENEE}", "page"),
        (f"contact:{ZOE}", "consent"), (f"contact:{PAUL}", "profile")]


async def test_an_address_is_merged_with_a_number_from_its_own_page(
    pool: asyncpg.Pool, site: WebApi, settings: Settings,
) -> None:
    await seed(pool, settings)
    async with pool.acquire() as conn:
        await conn.execute("INSERT INTO contacts (msisdn, shortcode) VALUES ($1, '12345')",
                           NUMBER)
        await sms_at(conn, NUMBER, "Where is the rally?", RECEIVED - timedelta(days=1))
    await site.staff("organizer")
    await site.login("organizer@example.org")
    token = form_token(await (await site.client.get(page_of(RENEE))).text())
    action = page_of(RENEE) + "/person/merge"
    refused = await site.client.post(action, data={"csrf_token": token, "other": NUMBER,
                                                   "reason": "same", "confirm": "yes"})
    kept = await refused.text()
    assert refused.status == 400 and 'id="reason-error"' in kept
    assert f'value="{NUMBER}"' in kept and 'id="email-summary"' in kept  # its own page again

    done = await site.client.post(action, allow_redirects=False, data={
        "csrf_token": token, "other": NUMBER, "reason": "she said so on the phone",
        "confirm": "yes"})
    assert done.status == 303
    assert done.headers["Location"] == "/contacts/email/renee%40example.fr?person=merged"
    merged = await (await site.client.get(done.headers["Location"])).text()
    addresses = merged.split('id="person-addresses"', 1)[1].split("</table>", 1)[0]
    assert f'<a href="/contacts/{NUMBER}">{NUMBER}</a>' in addresses
    assert "merged by staff" in addresses
    timeline = merged.split('id="timeline"', 1)[1]
    # two conversations, the newest (the e-mail) first
    assert timeline.index("Fermeture des urgences") < timeline.index("Where is the rally?")
    number_page = await (await site.client.get(f"/contacts/{NUMBER}")).text()
    assert f'href="{page_of(RENEE)}"' in number_page  # and back
    _, body = await api_search(site, (await site.staff("organizer", email="o2@example.org"))
                               .bearer, q="renee")
    assert body["emails"][0]["numbers"] == [NUMBER]
    assert sorted(body["emails"][0]["via"]) == ["email", "person"]


async def test_the_inbox_links_an_admin_to_the_askers_contact_page_not_an_expert(
    pool: asyncpg.Pool, settings: Settings,
) -> None:
    site = await start_site(pool, settings)
    try:
        await site.staff("admin")
        expert = await site.staff("expert", email="sante@example.org", themes=("sante",))
        await store_mail(pool, citizen_mail("Fermeture des urgences de l'hôpital",
                                            "Pourquoi ?"))
        await route_all(router(pool))
        question_id = await pool.fetchval("SELECT id FROM questions")
        await site.login("admin@example.org")
        html = await (await site.client.get(f"/inbox/questions/{question_id}")).text()
        assert '<a href="/contacts/email/renee%40example.fr" id="question-contact">' in html
        shown = await site.client.get(f"/inbox/questions/{question_id}", headers=expert.bearer)
        assert shown.status == 200 and 'id="question-contact"' not in await shown.text()
    finally:
        await site.client.close()


async def test_the_subscribers_pages_link_to_the_contact_page(
    pool: asyncpg.Pool, site: WebApi, settings: Settings,
) -> None:
    await seed(pool, settings)
    await site.staff("organizer")
    await site.login("organizer@example.org")
    listing = await (await site.client.get("/subscribers", params={"program": "ensemble"}))\
        .text()
    assert 'href="/contacts/email/zoe%40example.net"' in listing
    one = await (await site.client.get(f"/subscribers/{ZOE}")).text()
    assert 'id="contact-link"' in one and 'href="/contacts/email/zoe%40example.net"' in one


@given(st.emails())
def test_every_address_the_gateway_accepts_is_searched_as_an_address(address: str) -> None:
    try:
        normal = normalize_email(address)
    except EmailAddressError:
        return  # e.g. a domain without a dot: not a contact's address
    assert address_part(normal) == normal
    assert address_part(normal.upper()) == normal


@given(st.text(alphabet="0123456789 +().-", min_size=1, max_size=20))
def test_digits_and_their_separators_are_never_an_address(typed: str) -> None:
    assert address_part(typed) is None  # a number's search (or the one refusal)
