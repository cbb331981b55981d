"""The admin API on the real gateway: a supporter texts in, staff find them and broadcast.

Real PostgreSQL, the SMSC simulator, the gateway's own web server (app.py
wiring), and HTTP from outside, as a script with an API token would do it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp

from gateway.app import Gateway
from gateway.smpp.simulator import SmscSimulator
from gateway.store import users as user_store
from gateway.web.credentials import new_api_token
from tests.support.e2e import Phone

NUMBER = "+12125550101"


async def token_for(gateway: Gateway, role: str) -> dict[str, str]:
    made = new_api_token()
    async with gateway.pool.acquire() as conn:
        user = await user_store.insert_user(conn, email=f"{role}@example.org", role=role,
                                            themes=(), password_hash=None)
        await user_store.insert_token(conn, user_id=user.id, name="e2e", prefix=made.prefix,
                                      secret_hash=made.secret_hash,
                                      expires_at=datetime.now(UTC) + timedelta(days=30))
    return {"Authorization": f"Bearer {made.token}"}


async def test_find_a_new_supporter_then_control_a_broadcast(
    gateway: Gateway, smsc: SmscSimulator,
) -> None:
    phone = Phone(smsc, NUMBER)
    await phone.text("JOIN", expect=1)
    await phone.text("Y", expect=2)
    await phone.text("60601", expect=1)
    organizer = await token_for(gateway, "organizer")
    base = f"http://127.0.0.1:{gateway.http_port}"
    async with aiohttp.ClientSession(base, headers=organizer) as http:

        async def call(method: str, path: str, status: int = 200, **kw: Any) -> Any:
            async with http.request(method, path, **kw) as response:
                body = await response.json()
                assert response.status == status, body
                return body

        assert (await call("GET", "/healthz"))["status"] == "ok"
        by_digits = await call("GET", "/api/v1/contacts", params={"q": "212555"})
        assert [c["msisdn"] for c in by_digits["contacts"]] == [NUMBER]
        by_zip = await call("GET", "/api/v1/contacts", params={"field": "zip", "value": "60601"})
        assert [c["msisdn"] for c in by_zip["contacts"]] == [NUMBER]
        profile = await call("GET", "/api/v1/contacts/(212) 555-0101")
        assert profile["programs"]["rise"]["status"] == "subscribed"
        assert profile["profile"]["zip"] == "60601"
        timeline = (await call("GET", f"/api/v1/contacts/{NUMBER}/timeline"))["timeline"]
        assert [i["body"] for i in timeline if i["kind"] == "mo"] == ["JOIN", "Y", "60601"]
        assert {i["status"] for i in timeline if i["kind"] == "mt"} <= {
            "queued", "sending", "submitted", "delivered"}
        consent = (await call("GET", f"/api/v1/contacts/{NUMBER}/consent"))["consent"]
        assert [c["kind"] for c in consent] == ["opt_in_requested", "opt_in_confirmed"]
        ledger = (await call("GET", "/api/v1/consent", params={"kind": "opt_in_confirmed"}))
        assert [c["msisdn"] for c in ledger["consent"]] == [NUMBER]

        draft = {"program": "rise", "text": "Hi {first_name|friend}, rally at noon!"}
        preview = await call("POST", "/api/v1/broadcasts/preview", json=draft)
        assert preview["recipients"] == 1 and preview["segments"] == 1
        bad = await call("POST", "/api/v1/broadcasts/preview", 400,
                         json={**draft, "where": "zip startswith 60"})
        assert bad["error"]["field"] == "where"
        created = (await call("POST", "/api/v1/broadcasts", 201, json=draft))["broadcast"]
        path = f"/api/v1/broadcasts/{created['id']}"
        assert created["status"] == "draft" and created["created_by"] == "organizer@example.org"
        assert (await call("POST", f"{path}/start"))["status"] == "running"
        assert (await call("POST", f"{path}/pause"))["status"] == "paused"
        assert (await call("POST", f"{path}/pause", 409))["error"]["code"] == "conflict"
        assert (await call("POST", f"{path}/resume"))["status"] == "running"
        progress = await call("GET", f"{path}/progress")
        assert progress["status"] in {"running", "done"}
        cancelled = await call("POST", f"{path}/cancel", 409 if progress["status"] == "done"
                               else 200)
        await call("POST", "/api/v1/broadcasts/999/start", 404)
        listed = await call("GET", "/api/v1/broadcasts")
        assert [b["id"] for b in listed["broadcasts"]] == [created["id"]]
        if "status" in cancelled:
            assert cancelled["status"] == "cancelled"

        reloaded = await call("POST", "/api/v1/keywords/reload")
        assert reloaded["reloaded"] is True
        view = await call("GET", "/api/v1/keywords")
        assert "programs:" in view["text"]

    admin = await token_for(gateway, "admin")
    async with aiohttp.ClientSession(base, headers=admin) as http, \
            http.get("/api/v1/audit", params={"limit": "100"}) as response:
        actions = [e["action"] for e in (await response.json())["entries"]]
    assert {"broadcast.created", "broadcast.started", "broadcast.paused", "broadcast.resumed",
            "keywords.reloaded", "contact.viewed"} <= set(actions)
