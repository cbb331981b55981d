"""Privacy rights over the web: export and erasure through the API and the contact page,
the retention dry run, and that a later broadcast skips the erased, opted-out number.

The work itself (what is exported, erased, kept) is tested in tests/test_privacy.py;
here: the E.164 path rule, the retyped confirmation, the missing key, admin only,
the audit rows, and the whole chain through the running gateway's own HTTP server.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import asyncpg
import pytest
from pydantic import SecretStr

from gateway.app import Gateway
from gateway.broadcast import control, service
from gateway.config import Settings
from gateway.engine import load_rules
from gateway.privacy import rights
from gateway.privacy.pseudonym import number_hash, pseudonym_of
from gateway.smpp.simulator import SmscSimulator
from gateway.store import broadcasts as broadcast_store
from gateway.store import users as user_store
from gateway.web.credentials import hash_password, new_api_token
from tests.support.broadcasts import afternoon_zone
from tests.support.e2e import Phone, gateway_settings, running_gateway, stop_gateway
from tests.support.pages_site import form_token, start_site
from tests.support.privacy import opted_out_when_back, traces
from tests.support.webapi import PASSWORD, WebApi, start_web_api

KEY = "test-privacy-key"
SUPPORTER = "+15551230001"
BYSTANDER = "+15551230002"
ENCODED = "%2B15551230001"


async def opted_out_contact(pool: asyncpg.Pool, msisdn: str = SUPPORTER,
                            updated_at: datetime | None = None) -> None:
    async with pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO contacts (msisdn, shortcode, opted_out, updated_at)"
            " VALUES ($1, '12345', true, coalesce($2, now()))", msisdn, updated_at)


@pytest.fixture
async def web(pool: asyncpg.Pool, settings: Settings) -> AsyncIterator[WebApi]:
    api = await start_web_api(pool, settings, privacy_hash_secret=SecretStr(KEY))
    try:
        yield api
    finally:
        await api.client.close()


async def test_the_number_in_the_path_must_be_e164(web: WebApi) -> None:
    admin = await web.staff("admin")
    for raw in ("15551230001", "%2B1555", "%2B1555123000x", "%2B15551230001%2B",
                "%2B0015551230001"):
        for method, path in (("GET", f"/api/v1/contacts/{raw}/export"),
                             ("POST", f"/api/v1/contacts/{raw}/erase")):
            response = await web.client.request(method, path, headers=admin.bearer,
                                                json={"confirm": SUPPORTER}
                                                if method == "POST" else None)
            body = await response.json()
            assert (response.status, body["error"]["field"]) == (400, "msisdn"), (raw, body)
            assert "E.164" in body["error"]["message"]


async def test_export_is_a_json_download_audited_twice(web: WebApi) -> None:
    await opted_out_contact(web.pool)
    admin = await web.staff("admin", email="dpo@example.org")
    response = await web.client.get(f"/api/v1/contacts/{ENCODED}/export", headers=admin.bearer)
    assert response.status == 200
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="privacy-export-15551230001.json"')
    document = json.loads(await response.text())
    assert (document["format"], document["number"]) == (rights.EXPORT_FORMAT, SUPPORTER)
    assert [c["opted_out"] for c in document["contacts"]] == [True]
    async with web.pool.acquire() as conn:
        rows = await conn.fetch("SELECT actor, actor_id, action, target FROM audit_log"
                                " ORDER BY id")
    assert [(r["actor"], r["action"], r["target"]) for r in rows] == [
        ("dpo@example.org", rights.ACTION_EXPORTED, f"contact:{SUPPORTER}"),
        ("dpo@example.org", "export.downloaded", f"contact:{SUPPORTER}")]
    assert rows[1]["actor_id"] == admin.user.id
    organizer = await web.staff("organizer")
    refused = await web.client.get(f"/api/v1/contacts/{ENCODED}/export",
                                   headers=organizer.bearer)
    assert refused.status == 403


async def test_erase_needs_the_number_retyped(web: WebApi) -> None:
    await opted_out_contact(web.pool)
    admin = await web.staff("admin", email="dpo@example.org")
    url = f"/api/v1/contacts/{ENCODED}/erase"
    for body in ({}, {"confirm": "+15551230002"}, {"confirm": "yes"}):
        response = await web.client.post(url, headers=admin.bearer, json=body)
        refused = await response.json()
        assert (response.status, refused["error"]["field"]) == (400, "confirm"), body
    async with web.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM contacts") == 1

    response = await web.client.post(url, headers=admin.bearer, json={"confirm": SUPPORTER})
    assert response.status == 200
    done = await response.json()
    pseudonym = pseudonym_of(number_hash(KEY.encode(), SUPPORTER))
    assert (done["erased"], done["pseudonym"], done["kept_opt_out_for"]) == (
        True, pseudonym, ["12345"])
    async with web.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM contacts") == 0
        assert await traces(conn, SUPPORTER) == []
    again = await web.client.post(url, headers=admin.bearer, json={"confirm": SUPPORTER})
    assert (again.status, sum((await again.json())["rows"].values())) == (200, 0)


async def test_erase_without_the_hash_key_refuses_and_keeps_everything(
    pool: asyncpg.Pool, settings: Settings,
) -> None:
    web = await start_web_api(pool, settings)  # GATEWAY_PRIVACY_HASH_SECRET unset
    try:
        await opted_out_contact(pool)
        admin = await web.staff("admin")
        response = await web.client.post(f"/api/v1/contacts/{ENCODED}/erase",
                                         headers=admin.bearer, json={"confirm": SUPPORTER})
        body = await response.json()
    finally:
        await web.client.close()
    assert (response.status, body["error"]["code"]) == (503, "privacy_key_missing")
    assert "GATEWAY_PRIVACY_HASH_SECRET" in body["error"]["message"]
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM contacts") == 1


async def test_retention_lists_idle_contacts_and_erases_nothing(web: WebApi) -> None:
    now = datetime.now(UTC)
    days = web.settings.privacy_retention_days
    await opted_out_contact(web.pool, SUPPORTER, now - timedelta(days=days + 1))
    await opted_out_contact(web.pool, BYSTANDER, now - timedelta(days=2))
    async with web.pool.acquire() as conn:
        # one who only wrote through the web form, even longer ago; a withheld caller
        await conn.execute(
            "INSERT INTO web_messages (email, body, received_at, program, language, theme,"
            " campaign_box, form_nonce) VALUES ('ana@example.org', 'a question', $1,"
            " 'rise', 'en', 'other', false, 'n1')",
            now - timedelta(days=days + 5))
        await conn.execute(
            "INSERT INTO calls (call_sid, program, shortcode, msisdn, language, started_at)"
            " VALUES ('CA-hidden', 'rise', '12345', NULL, 'en', $1)",
            now - timedelta(days=days + 1))
    admin = await web.staff("admin")
    response = await web.client.get("/api/v1/privacy/retention", headers=admin.bearer)
    body = await response.json()
    assert response.status == 200
    assert (body["dry_run"], body["retention_days"], body["count"]) == (True, days, 2)
    assert [(c["channel"], c.get("email") or c.get("msisdn")) for c in body["contacts"]] == [
        ("email", "ana@example.org"), ("sms", SUPPORTER)]
    assert body["withheld_calls"] == 1
    async with web.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM contacts") == 2
        assert await conn.fetchval("SELECT count(*) FROM web_messages") == 1
    refused = await web.client.get("/api/v1/privacy/retention",
                                   headers=(await web.staff("organizer")).bearer)
    assert refused.status == 403


async def test_the_contact_page_privacy_box_is_for_admins_and_erases_on_retyping(
    pool: asyncpg.Pool, settings: Settings,
) -> None:
    site = await start_site(pool, settings, privacy_hash_secret=SecretStr(KEY))
    try:
        await opted_out_contact(pool)
        organizer = await site.staff("organizer")
        response = await site.client.get(f"/contacts/{ENCODED}", headers=organizer.bearer)
        assert response.status == 200 and 'id="privacy"' not in await response.text()

        await site.staff("admin", email="dpo@example.org")
        await site.login("dpo@example.org")
        page = await (await site.client.get(f"/contacts/{ENCODED}")).text()
        assert 'href="/api/v1/contacts/+15551230001/export"' in page
        assert 'action="/contacts/+15551230001/erase"' in page
        token = form_token(page)
        export = await site.client.get("/api/v1/contacts/+15551230001/export")
        assert export.status == 200  # the link works with the session cookie

        wrong = await site.client.post(f"/contacts/{ENCODED}/erase", allow_redirects=False,
                                       data={"csrf_token": token, "confirm": "+15551230009"})
        assert wrong.status == 303
        shown = await (await site.client.get(wrong.headers["Location"])).text()
        assert 'id="confirm-error"' in shown and 'aria-invalid="true"' in shown
        forged = await site.client.post(f"/contacts/{ENCODED}/erase",
                                        data={"confirm": SUPPORTER})
        assert forged.status == 403  # no CSRF token
        async with pool.acquire() as conn:
            assert await conn.fetchval("SELECT count(*) FROM contacts") == 1

        erased = await site.client.post(f"/contacts/{ENCODED}/erase",
                                        data={"csrf_token": token, "confirm": SUPPORTER})
        text = await erased.text()
        assert erased.status == 200 and "Contact erased" in text
        assert pseudonym_of(number_hash(KEY.encode(), SUPPORTER)) in text
        assert "keyed hash on 12345" in text
    finally:
        await site.client.close()
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM contacts") == 0


# -- the whole chain on a running gateway ------------------------------------------------

@pytest.fixture
async def gateway(settings: Settings, smsc: SmscSimulator) -> AsyncIterator[Gateway]:
    private = settings.model_copy(update={"privacy_hash_secret": SecretStr(KEY)})
    gw = await running_gateway(gateway_settings(private, smsc), smsc)
    try:
        yield gw
    finally:
        await stop_gateway(gw)


async def admin_token(pool: asyncpg.Pool) -> str:
    made = new_api_token()
    async with pool.acquire() as conn:
        user = await user_store.insert_user(conn, email="dpo@example.org", role="admin",
                                            themes=(), password_hash=hash_password(PASSWORD))
        await user_store.insert_token(conn, user_id=user.id, name="e2e", prefix=made.prefix,
                                      secret_hash=made.secret_hash,
                                      expires_at=datetime.now(UTC) + timedelta(days=30))
    return made.token


async def test_export_and_erase_over_the_api_then_a_broadcast_skips_the_erased_number(
    gateway: Gateway, smsc: SmscSimulator,
) -> None:
    supporter, bystander = Phone(smsc, SUPPORTER), Phone(smsc, BYSTANDER)
    for phone in (supporter, bystander):
        await phone.text("JOIN", expect=1)
        await phone.text("Y", expect=2)
    await supporter.text("STOP", expect=1)
    token = {"Authorization": f"Bearer {await admin_token(gateway.pool)}"}
    base = f"http://127.0.0.1:{gateway.http_port}/api/v1/contacts/{ENCODED}"

    async with aiohttp.ClientSession() as session:
        async with session.get(f"{base}/export", headers=token) as response:
            assert response.status == 200
            document: dict[str, Any] = json.loads(await response.text())
        assert {"JOIN", "Y", "STOP"} <= {m["body"] for m in document["messages_received"]}
        assert [c["kind"] for c in document["consent"]][-1] == "opted_out"
        async with session.post(f"{base}/erase", headers=token,
                                json={"confirm": SUPPORTER}) as response:
            assert response.status == 200, await response.text()
            assert (await response.json())["kept_opt_out_for"] == ["12345"]
    async with gateway.pool.acquire() as conn:
        assert await traces(conn, SUPPORTER) == []  # the API's own audit rows included
        program = await conn.fetchval(
            "SELECT program FROM consent_events WHERE msisdn = $1 LIMIT 1", BYSTANDER)

    assert await supporter.text("hello again", expect=0) == []
    assert await opted_out_when_back(gateway.pool, SUPPORTER) is True  # the hash kept the STOP

    async with gateway.pool.acquire() as conn:
        await conn.execute(
            "UPDATE contacts SET timezones = $1, region = 'NY', country = 'US',"
            " geo_source = 'zip'", [afternoon_zone(datetime.now(UTC))])
        broadcast_id = await service.create(
            conn, rules=load_rules(gateway.settings.keywords), program=program,
            shortcode=gateway.settings.shortcode, where="", text="Rally on Saturday.",
            created_by="privacy-api-test", now=datetime.now(UTC))
        await control.start(conn, broadcast_id)
    async with asyncio.timeout(20):
        while True:
            async with gateway.pool.acquire() as conn:
                if await broadcast_store.get_status(conn, broadcast_id) == "done":
                    break
            await asyncio.sleep(0.05)
    assert "Rally on Saturday." in bystander.received
    assert "Rally on Saturday." not in supporter.received
