"""Journeys: a supporter of each program texts through everything, then staff walk every page.

Why one long test rather than many short ones: the defects a new user meets
in the first hour live between features. The dashboard broke only once a gift
had been confirmed that day; a contact page broke only for the second short
code. So a real gateway (SMPP simulator, PostgreSQL, the fake Stripe behind
the real `stripe` library) takes one supporter per program through joining,
the profile questions, a gift by phone bill and one by card, a question to
the experts, STOP and START, and every text must get an answer. Then, on the
database that journey filled, every page and every GET route of the API is
asked by every role and by nobody: each answers as `access.ACCESS` says, and
none answers 5xx.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import asyncpg
import pytest
from pydantic import SecretStr

from gateway.app import Gateway
from gateway.broadcast import newsletters
from gateway.config import Settings
from gateway.email_consent import request_opt_in
from gateway.services import export_jobs, persons
from gateway.smpp.constants import CommandStatus
from gateway.smpp.simulator import SmscSimulator
from gateway.store import contact_imports
from gateway.store import segments as segment_store
from gateway.store import users as user_store
from gateway.web.access import ACCESS, PUBLIC, ROLES, allows
from gateway.web.api import all_routes
from gateway.web.credentials import hash_password, new_api_token
from gateway.web.pages import all_pages
from tests.support.e2e import gateway_settings, running_gateway, stop_gateway, wait_for
from tests.support.fake_stripe import FakeStripe, send_webhook
from tests.support.persons import token_in

RISE = "+12125550161"  # a New York number, on the US program's short code
RISE_CODE = "12345"
ENSEMBLE = "+33612345678"  # a French mobile, on the French program's short code
ENSEMBLE_CODE = "38200"
PASSWORD = "a long journey passphrase"


@dataclass
class Handset:
    """One supporter's phone: text a short code, wait for the answers."""

    smsc: SmscSimulator
    msisdn: str
    shortcode: str

    @property
    def received(self) -> list[str]:
        return self.smsc.texts_to(self.msisdn)

    async def text(self, body: str, *, answers: int = 1) -> list[str]:
        """Send `body` and wait for at least `answers` more MTs: nobody is left unanswered."""
        before = len(self.received)
        status = await self.smsc.inject_mo(self.msisdn, self.shortcode, body)
        assert status == CommandStatus.ESME_ROK
        try:
            async with asyncio.timeout(15):
                await self.smsc.wait_until(lambda: len(self.received) >= before + answers)
        except TimeoutError:
            raise AssertionError(
                f"{self.msisdn} texted {body!r} to {self.shortcode} and got "
                f"{self.received[before:]!r}, wanted {answers} answer(s)") from None
        return self.received[before:]


@pytest.fixture
async def journey_gateway(
    settings: Settings, smsc: SmscSimulator, fake: FakeStripe, tmp_path: Path
) -> AsyncIterator[Gateway]:
    """A gateway with cards on (the fake Stripe); the test ticks billing itself."""
    gw = await running_gateway(gateway_settings(
        settings, smsc, billing_interval=3600.0, web_cookie_secure=False,
        stripe_secret_key=SecretStr(fake.api_key),
        stripe_webhook_secret=SecretStr(fake.webhook_secret),
        stripe_api_base=fake.base_url), smsc)
    try:
        yield gw
    finally:
        await stop_gateway(gw)


async def exists(pool: asyncpg.Pool, sql: str, *args: object) -> bool:
    async with pool.acquire() as conn:
        return bool(await conn.fetchval(f"SELECT EXISTS ({sql})", *args))


async def pay_by_card(gw: Gateway, stripe: FakeStripe, phone: Handset) -> None:
    """The checkout link the gift was answered with, paid, and Stripe's webhooks delivered."""
    sessions_before = set(stripe.sessions)
    for _ in range(3):
        await gw.billing.tick()
    [session_id] = set(stripe.sessions) - sessions_before
    link = stripe.sessions[session_id]["url"]
    await phone.smsc.wait_until(lambda: any(link in text for text in phone.received))
    completed = stripe.complete_checkout(session_id, card="pm_card_visa")
    url = f"http://127.0.0.1:{gw.http_port}/webhooks/stripe"
    async with aiohttp.ClientSession() as http:
        for event in (*stripe.events_of_type("payment_intent.succeeded"), completed):
            status, _ = await send_webhook(http, url, event, stripe.webhook_secret)
            assert status == 200
    await gw.billing.tick()


async def fill_donor_details(gw: Gateway, text: str) -> None:
    """The donor-details form the held gift's text links to, filled in as a donor would."""
    found = re.search(r"https?://\S+?(/give/details/\S+)", text)
    assert found is not None, text
    url = f"http://127.0.0.1:{gw.http_port}{found[1]}"
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.get(url) as form:
            assert form.status == 200
            csrf = re.search(r'name="csrf" value="([^"]+)"', await form.text())
        assert csrf is not None
        fields = {"name": "Marianne Dupont", "street": "1 rue de la Paix", "city": "Paris",
                  "postal_code": "75002", "csrf": csrf[1]}
        async with http.post(url, data=fields,
                             headers={"Origin": f"http://127.0.0.1:{gw.http_port}"}) as sent:
            assert sent.status == 200, await sent.text()


async def rise_supporter(gw: Gateway, smsc: SmscSimulator, stripe: FakeStripe) -> None:
    phone = Handset(smsc, RISE, RISE_CODE)
    [ask] = await phone.text("JOIN")
    assert "reply Y" in ask
    welcome = await phone.text("Y", answers=2)
    assert "you're in" in welcome[0] and "ZIP" in welcome[1]
    assert "identify" in (await phone.text("10001"))[0]
    assert "Thanks" in (await phone.text("F"))[0]

    [confirm] = await phone.text("GIVE 10")  # a carrier price point: the phone bill
    assert "billed to your mobile account" in confirm
    await phone.text("YES", answers=0)
    await wait_for(lambda: exists(gw.pool, "SELECT FROM donations "
                                 "WHERE msisdn = $1 AND status <> 'awaiting_confirmation'", RISE))
    for _ in range(3):
        await gw.billing.tick()
    await phone.smsc.wait_until(lambda: any("thank you for your gift" in t for t in phone.received))

    await phone.text("GIVE 25", answers=0)  # not a price point: a card, on Stripe's page
    await pay_by_card(gw, stripe, phone)
    await wait_for(lambda: exists(gw.pool, "SELECT FROM donations "
                                 "WHERE msisdn = $1 AND status = 'charged'", RISE))

    assert (await phone.text("WHERE"))  # the knowledge base answers
    assert "unsubscribed" in (await phone.text("STOP"))[0]
    assert "you're in" in (await phone.text("START"))[0]  # a new opt-in, fully confirmed


async def ensemble_supporter(gw: Gateway, smsc: SmscSimulator, stripe: FakeStripe) -> None:
    phone = Handset(smsc, ENSEMBLE, ENSEMBLE_CODE)
    welcome = await phone.text("ADHERER", answers=2)
    assert "bienvenue" in welcome[0] and "code postal" in welcome[1]
    assert "Merci" in (await phone.text("75011"))[0]
    await phone.text("DON 20", answers=0)  # card only; French law wants the donor's identity
    before = len(phone.received)
    await gw.billing.tick()  # the billing service answers the gift (the test ticks it)
    await phone.smsc.wait_until(lambda: len(phone.received) > before)
    held = phone.received[-1]
    await fill_donor_details(gw, held)
    await pay_by_card(gw, stripe, phone)
    await wait_for(lambda: exists(gw.pool, "SELECT FROM donations "
                                 "WHERE msisdn = $1 AND status = 'charged'", ENSEMBLE))
    [ack] = await phone.text("EDUCATION Pourquoi les classes sont-elles si chargées cette année ?")
    assert ack
    assert "ne recevrez plus" in (await phone.text("STOP"))[0]
    assert "bienvenue" in (await phone.text("START"))[0]


# -- the walk ------------------------------------------------------------------------------


async def staff_tokens(pool: asyncpg.Pool) -> dict[str, str]:
    """One user and one API token per role; the expert answers the education theme."""
    tokens: dict[str, str] = {}
    async with pool.acquire() as conn:
        for role in ROLES:
            made = new_api_token()
            user = await user_store.insert_user(
                conn, email=f"{role}@journey.example.org", role=role,
                themes=("education",) if role == "expert" else (),
                password_hash=hash_password(PASSWORD))
            await user_store.insert_token(conn, user_id=user.id, name="journey",
                                          prefix=made.prefix, secret_hash=made.secret_hash,
                                          expires_at=datetime.now(UTC) + timedelta(days=1))
            tokens[role] = made.token
    return tokens


async def real_ids(pool: asyncpg.Pool) -> dict[str, str]:
    """The journey's own rows, so every page shows something rather than a 404."""
    async with pool.acquire() as conn:
        ids = {
            "msisdn": RISE,
            "donation_id": await conn.fetchval("SELECT min(id) FROM donations"),
            "question_id": await conn.fetchval("SELECT min(id) FROM questions"),
            "broadcast_id": await conn.fetchval(
                "SELECT min(id) FROM broadcasts WHERE channel = 'sms'"),
            "newsletter_id": await conn.fetchval(
                "SELECT min(id) FROM broadcasts WHERE channel = 'email'"),
            "address": await conn.fetchval("SELECT min(address) FROM address_consent_events"),
            "user_id": await conn.fetchval("SELECT min(id) FROM users"),
            "document_id": await conn.fetchval("SELECT min(id) FROM knowledge_documents"),
            "webhook_id": await conn.fetchval("SELECT min(id) FROM webhook_subscriptions"),
            "segment_id": await conn.fetchval("SELECT min(id) FROM segments"),
            "export_id": await conn.fetchval(
                "SELECT min(id) FROM contact_exports WHERE via = 'api'"),
            "message_id": await conn.fetchval("SELECT min(id) FROM api_messages"),
            "import_id": await contact_imports.create(
                conn, created_by="organizer@journey.example.org", filename="list.csv",
                file_format="csv", content=b"phone\r\n+12125550190\r\n", headers=["phone"],
                total_rows=1, program="rise", country="US", mapping=None,
                now=datetime.now(UTC)),
        }
    missing = [name for name, value in ids.items() if value is None]
    assert missing == [], f"the journey left no rows for {missing}"
    return {name: str(value) for name, value in ids.items()}


async def link_token(gw: Gateway) -> str:
    """A confirmation link texted to the rise supporter, for the public link page (looking
    at it, as the walk does, links nothing)."""
    async with gw.pool.acquire() as conn:
        sent = await persons.request_link(
            conn, gw.settings, known="rise@journey.example.org", claimed=RISE,
            requested_by="journey", evidence={}, language="en", program="Rise Up Alerts",
            shortcode=RISE_CODE, now=datetime.now(UTC))
        body = await conn.fetchval("SELECT body FROM outbound WHERE id = $1",
                                   sent.outbound_id)
    return token_in(body)


def concrete(path: str, ids: Mapping[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: ids[m[1]], path)


async def create_broadcast(http: aiohttp.ClientSession, base: str, token: str) -> None:
    body = {"program": "rise", "text": "Rise Up rallies Saturday at noon. See you there!"}
    async with http.post(f"{base}/api/v1/broadcasts", json=body,
                         headers={"Authorization": f"Bearer {token}"}) as response:
        assert response.status in (200, 201), await response.text()


async def email_subscriber_and_newsletter(gw: Gateway) -> None:
    """A ticked box on the form, and a newsletter (their pages need a row each)."""
    async with gw.pool.acquire() as conn:
        await request_opt_in(conn, gw.settings, gw.rules.current, address="ana@example.org",
                             program="rise", source="web_form", wording="Send me news",
                             version="v1", now=datetime.now(UTC))
        await newsletters.create(conn, gw.rules.current, program="rise", subject="News",
                                 text="Saturday at noon.", created_by="organizer@example.org",
                                 now=datetime.now(UTC))


async def create_webhook(http: aiohttp.ClientSession, base: str, token: str) -> None:
    """A subscription (to a receiver that never answers: nothing is emitted for it here)."""
    body = {"url": "https://crm.journey.invalid/hooks", "event_types": ["gift.refunded"]}
    async with http.post(f"{base}/api/v1/webhooks", json=body,
                         headers={"Authorization": f"Bearer {token}"}) as response:
        assert response.status == 201, await response.text()


async def send_by_api(http: aiohttp.ClientSession, base: str, token: str) -> None:
    """One text through the send API (docs/send-api.md), so its status page has a row."""
    body = {"program": "rise", "to": RISE, "text": "Doors open at 6."}
    async with http.post(f"{base}/api/v1/messages", json=body,
                         headers={"Authorization": f"Bearer {token}"}) as response:
        assert response.status == 201, await response.text()


async def create_segment_and_export(http: aiohttp.ClientSession, base: str,
                                    token: str, pool: asyncpg.Pool) -> None:
    """A saved segment, and an export job of it (docs/segments-and-export.md)."""
    async with pool.acquire() as conn:
        segment = await segment_store.insert(conn, name="Volunteers", program="rise",
                                             filter="tag = volunteer", by="journey")
    body = {"segment_id": segment.id, "fields": ["msisdn", "zip"]}
    async with http.post(f"{base}/api/v1/exports", json=body,
                         headers={"Authorization": f"Bearer {token}"}) as response:
        assert response.status == 202, await response.text()
    await export_jobs.drain()


async def create_document(http: aiohttp.ClientSession, base: str, token: str) -> None:
    body = {"program": "ensemble", "theme": "education", "title": "Programme : école",
            "filename": "ecole.md", "text": "# École\n\nDes classes de vingt élèves."}
    async with http.post(f"{base}/api/v1/knowledge/documents", json=body,
                         headers={"Authorization": f"Bearer {token}"}) as response:
        assert response.status == 201, await response.text()


def error_line(body: str) -> str:
    """The one line of an error page or JSON error that says what broke."""
    found = re.search(r'"message":\s*"([^"]*)"|<p[^>]*>([^<]*)</p>', body)
    return (found[1] or found[2]) if found else body[:80]


async def walk(http: aiohttp.ClientSession, base: str, tokens: Mapping[str, str],
               ids: Mapping[str, str], *, strict: bool = True) -> list[str]:
    """Every GET page and API route, as every role and as nobody: what broke the matrix.

    `strict`: a role the matrix lets in must find the row (no 404) as well.
    """
    wrong: list[str] = []
    routes = [(r.name, r.path, False) for r in all_routes() if r.method == "GET"]
    routes += [(p.name, p.path, p.json) for p in all_pages() if p.method == "GET"]
    for name, template, is_json in routes:
        rule = ACCESS[name]
        path = concrete(template, ids)
        api = path.startswith("/api/")
        for role in (None, *ROLES):
            headers = {"Authorization": f"Bearer {tokens[role]}"} if role else {}
            async with http.get(base + path, headers=headers, allow_redirects=False) as got:
                status, location = got.status, got.headers.get("Location", "")
                text = await got.text()
            who = role or "anonymous"
            if status >= 500:
                wrong.append(f"{name} {path} as {who}: {status} {error_line(text)}")
            elif role is None and rule != PUBLIC:
                wanted = 401 if api or is_json else 303
                if status != wanted:
                    wrong.append(f"{name} as anonymous: {status} {location}, wanted {wanted}")
            elif role is None:
                continue
            elif allows(rule, role):
                refused = status in (401, 403) or (rule != PUBLIC and location.startswith("/login"))
                # the demo's simulators are off here; a texted question has no recording
                missing = strict and status == 404 and not name.startswith(
                    ("page.phone", "page.mailbox", "page.voice.simulator",
                     "page.inbox.recording"))
                if refused or missing:
                    wrong.append(f"{name} {path} as {who}: {status}, wanted the page")
            elif status != 403:
                wrong.append(f"{name} {path} as {who}: {status}, wanted 403")
    return wrong


async def test_a_supporter_of_each_program_then_every_page_for_every_role(
    journey_gateway: Gateway, smsc: SmscSimulator, fake: FakeStripe
) -> None:
    stripe = fake  # the local Stripe the real library talks to (tests/support/fake_stripe.py)
    gw = journey_gateway
    await rise_supporter(gw, smsc, stripe)
    await ensemble_supporter(gw, smsc, stripe)

    tokens = await staff_tokens(gw.pool)
    base = f"http://127.0.0.1:{gw.http_port}"
    async with aiohttp.ClientSession() as http:
        await create_broadcast(http, base, tokens["organizer"])
        await create_document(http, base, tokens["organizer"])
        await create_webhook(http, base, tokens["admin"])
        await create_segment_and_export(http, base, tokens["organizer"], gw.pool)
        await send_by_api(http, base, tokens["organizer"])
        await email_subscriber_and_newsletter(gw)
        ids = {**await real_ids(gw.pool), "token": await link_token(gw)}
        wrong = await walk(http, base, tokens, ids)
        assert wrong == [], "\n".join(wrong)
        # the second short code's supporter: no page or route breaks on them either (their
        # contact page is still looked up on the gateway's own short code, hence lenient)
        wrong = await walk(http, base, tokens, {**ids, "msisdn": ENSEMBLE}, strict=False)
        assert wrong == [], "\n".join(wrong)
