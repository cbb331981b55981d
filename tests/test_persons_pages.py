"""The person on the contact page, its forms, and the public link page, over HTTP.

aiohttp's test client against the real pages on PostgreSQL, forms posted as a
browser posts them (urlencoded, with the page's CSRF token). The same flow in
Chromium is in tests/test_persons_browser.py.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from gateway.config import Settings
from gateway.outgoing_mail import OutgoingMail
from gateway.store import mail_outbox
from tests.support.pages_site import form_token, start_site
from tests.support.persons import citizen_mail, sms_at, store_mail, token_in
from tests.support.webapi import WebApi

NUMBER = "+12125550101"
EMAIL = "ana@example.org"


@pytest.fixture
async def mail_site(pool: asyncpg.Pool, settings: Settings) -> AsyncIterator[WebApi]:
    """The pages of a gateway that may send mail."""
    web = await start_site(pool, settings, mail_from_address="contact@campagne.example")
    try:
        yield web
    finally:
        await web.client.close()


async def seed(pool: asyncpg.Pool) -> None:
    """A contact who texted, then wrote by e-mail, was answered by e-mail, then by SMS."""
    now = datetime.now(UTC)
    async with pool.acquire() as conn:
        await conn.execute("INSERT INTO contacts (msisdn, shortcode) VALUES ($1, '12345')",
                           NUMBER)
        await sms_at(conn, NUMBER, "Where is the rally?", now - timedelta(hours=3))
        await store_mail(conn, citizen_mail("Ana@Example.org", "About the rally",
                                            "A longer question, with details."),
                         envelope_from=EMAIL)
    async with pool.acquire() as conn:
        await mail_outbox.enqueue(conn, OutgoingMail(
            purpose="answer", from_address="contact@campagne.example", to_address=EMAIL,
            subject="Re: About the rally", text_body="Here is the answer."),
            message_id="<answer-1@campagne.example>")
        await sms_at(conn, NUMBER, "Rally at noon, Main St.", now + timedelta(hours=1),
                     out=True)


def kinds(html: str) -> list[str]:
    """The kinds of every row of the page's conversations (sorted: the conversations are
    listed newest first; the API test below checks the one history's order)."""
    timeline = html.split('id="timeline"', 1)[1].split("</section>", 1)[0]
    return sorted(re.findall(r'<li class="kind-(\w+)"', timeline))


async def test_a_merge_is_refused_with_its_reason_then_done_audited_and_one_history(
    pool: asyncpg.Pool, site: WebApi,
) -> None:
    await seed(pool)
    await site.staff("organizer")
    await site.login("organizer@example.org")
    page = await site.client.get(f"/contacts/{NUMBER}")
    html = await page.text()
    assert 'id="person-none"' in html and kinds(html) == ["mo", "mt"]  # one number only
    token = form_token(html)
    action = f"/contacts/{NUMBER}/person/merge"

    refused = await site.client.post(action, data={
        "csrf_token": token, "other": "Ana@Example.org", "reason": "same", "confirm": "yes"})
    kept = await refused.text()
    assert refused.status == 400 and 'id="reason-error"' in kept
    assert 'value="Ana@Example.org"' in kept  # what was typed stays
    unknown = await site.client.post(action, data={
        "csrf_token": token, "other": "ana@exmaple.org", "reason": "she told us on the phone",
        "confirm": "yes"})
    assert unknown.status == 400 and "send a confirmation link instead" in await unknown.text()

    done = await site.client.post(action, allow_redirects=False, data={
        "csrf_token": token, "other": "Ana@Example.org", "reason": "she told us on the phone",
        "confirm": "yes"})
    assert done.status == 303
    assert done.headers["Location"] == f"/contacts/{NUMBER}?person=merged"
    merged = await (await site.client.get(done.headers["Location"])).text()
    assert 'id="person-done"' in merged
    addresses = merged.split('id="person-addresses"', 1)[1].split("</table>", 1)[0]
    assert NUMBER in addresses and EMAIL in addresses and "merged by staff" in addresses
    assert "she told us on the phone" in addresses
    assert kinds(merged) == ["mail_in", "mail_out", "mo", "mt"]  # one history
    assert "About the rally" in merged and "A longer question" not in merged  # subject only
    api = await site.client.get(f"/api/v1/contacts/{NUMBER}/timeline",
                                headers=(await site.staff("organizer", email="o2@example.org"))
                                .bearer)
    assert [i["kind"] for i in (await api.json())["timeline"]] == [
        "mo", "mail_in", "mail_out", "mt"]  # the API shows the same one history

    async with pool.acquire() as conn:
        entry = await conn.fetchrow(
            "SELECT actor, target, detail FROM audit_log WHERE action = 'person.merged'")
        link_id = await conn.fetchval("SELECT id FROM person_links")
    assert entry["actor"] == "organizer@example.org"
    assert json.loads(entry["detail"])["addresses"] == [NUMBER, EMAIL]

    undo = f"/contacts/{NUMBER}/person/links/{link_id}/undo"
    no_reason = await site.client.post(undo, data={"csrf_token": token, "link": str(link_id),
                                                   "reason": " "})
    assert no_reason.status == 400 and 'id="reason-error"' in await no_reason.text()
    undone = await site.client.post(undo, data={"csrf_token": token, "link": str(link_id),
                                                "reason": "her sister's address"})
    after = await undone.text()
    assert 'id="person-none"' in after and kinds(after) == ["mo", "mt"]
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM person_addresses") == 0
        assert await conn.fetchval(
            "SELECT count(*) FROM audit_log WHERE action = 'person.unmerged'") == 1


async def test_an_expert_may_not_merge(pool: asyncpg.Pool, site: WebApi) -> None:
    await seed(pool)
    expert = await site.staff("expert", themes=("sante",))
    refused = await site.client.post(f"/contacts/{NUMBER}/person/merge", headers=expert.bearer,
                                     data={"other": EMAIL, "reason": "she told us so",
                                           "confirm": "yes"})
    assert refused.status == 403
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM person_links") == 0


async def test_no_link_is_promised_when_no_mail_can_be_sent(
    pool: asyncpg.Pool, site: WebApi,
) -> None:
    await seed(pool)
    await site.staff("organizer")
    await site.login("organizer@example.org")
    token = form_token(await (await site.client.get(f"/contacts/{NUMBER}")).text())
    refused = await site.client.post(f"/contacts/{NUMBER}/person/link",
                                     data={"csrf_token": token, "claimed": EMAIL})
    assert refused.status == 503 and "GATEWAY_MAIL_FROM_ADDRESS" in await refused.text()
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM person_link_tokens") == 0


async def test_the_link_page_shows_a_button_and_only_its_post_links(
    pool: asyncpg.Pool, mail_site: WebApi,
) -> None:
    await seed(pool)
    await mail_site.staff("organizer")
    await mail_site.login("organizer@example.org")
    token = form_token(await (await mail_site.client.get(f"/contacts/{NUMBER}")).text())
    sent = await mail_site.client.post(f"/contacts/{NUMBER}/person/link",
                                       allow_redirects=False,
                                       data={"csrf_token": token, "claimed": EMAIL})
    assert sent.headers["Location"] == f"/contacts/{NUMBER}?person=link_sent"
    async with pool.acquire() as conn:
        body = await conn.fetchval(
            "SELECT text_body FROM mail_outbox WHERE purpose = 'confirmation'")
    link = f"/link/{token_in(body)}"
    await mail_site.client.post("/logout", data={"csrf_token": token})

    shown = await mail_site.client.get(link)
    html = await shown.text()
    assert shown.status == 200 and "Yes, they are both mine" in html
    assert 'lang="en"' in html and "*******0101" in html and NUMBER not in html
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM person_addresses") == 0
    confirmed = await mail_site.client.post(link, data={})
    assert confirmed.status == 200 and "now recognised as yours" in await confirmed.text()
    again = await mail_site.client.get(link)
    assert again.status == 410 and "already been used" in await again.text()
    unknown = await mail_site.client.get("/link/not-a-token")
    assert unknown.status == 404 and "not valid" in await unknown.text()
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM person_addresses") == 2
