"""API token scopes: every route has one, a token without it gets 403 naming it, a session
is limited by its role only, and a token never holds more than its owner's role allows."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from gateway.store import users as user_store
from gateway.web.access import ACCESS, API_SCOPES, PUBLIC, ROLES, SCOPES, SELF, scopes_for_role
from gateway.web.api import all_routes
from gateway.web.credentials import new_api_token
from tests.support.webapi import WebApi, assert_error_shape


def concrete(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: "+12025550123" if m[1] == "msisdn" else "999999",
                  path)


async def token_with(web: WebApi, user_id: int, scopes: Sequence[str] | None
                     ) -> dict[str, str]:
    made = new_api_token()
    async with web.pool.acquire() as conn:
        await user_store.insert_token(conn, user_id=user_id, name="scoped", prefix=made.prefix,
                                      secret_hash=made.secret_hash, scopes=scopes,
                                      expires_at=datetime.now(UTC) + timedelta(days=1))
    return {"Authorization": f"Bearer {made.token}"}


def test_every_api_route_that_needs_a_login_needs_a_scope() -> None:
    routes = all_routes()
    missing = [r.name for r in routes if ACCESS[r.name] != PUBLIC and r.name not in API_SCOPES]
    assert missing == []
    assert set(API_SCOPES) <= {r.name for r in routes}
    assert set(API_SCOPES.values()) <= {*SCOPES, SELF}


def test_a_role_holds_only_scopes_of_routes_it_may_use() -> None:
    assert scopes_for_role("admin") == frozenset(SCOPES)
    assert "admin" not in scopes_for_role("organizer")
    assert "webhooks:manage" not in scopes_for_role("organizer")
    assert scopes_for_role("finance") >= {"donations:read", "donations:write"}
    assert "donations:write" not in scopes_for_role("organizer")
    assert "messages:send" not in scopes_for_role("finance")
    assert "admin" not in scopes_for_role("finance")  # staff accounts and erasure: admins
    assert scopes_for_role("expert") <= {"messages:read", "messages:send"}
    for role in ROLES:  # and a token can be made for whatever the role may do
        for name, scope in API_SCOPES.items():
            if scope not in (SELF, "admin") and role in ACCESS[name]:
                assert scope in scopes_for_role(role), (role, name)


async def test_every_route_refuses_a_token_without_its_scope_and_admits_one_with_it(
        web: WebApi) -> None:
    admin = await web.staff("admin")
    wrong: list[str] = []
    for route in all_routes():
        scope = API_SCOPES.get(route.name)
        if ACCESS[route.name] == PUBLIC or scope is None:
            continue
        others = [s for s in SCOPES if s != scope]
        without = await token_with(web, admin.user.id, others)
        only = await token_with(web, admin.user.id, [] if scope == SELF else [scope])
        json: dict[str, Any] | None = {} if route.method in {"POST", "PATCH"} else None
        path = concrete(route.path)
        refused = await web.client.request(route.method, path, headers=without, json=json)
        body = await refused.json() if refused.content_type == "application/json" else None
        code = body["error"]["code"] if isinstance(body, dict) and "error" in body else None
        if scope == SELF:
            if code == "missing_scope":
                wrong.append(f"{route.name}: self route refused a token without scopes")
        elif refused.status != 403 or code != "missing_scope":
            wrong.append(f"{route.name} without {scope}: {refused.status} {code}")
        elif not isinstance(body, dict) or scope not in body["error"]["message"] \
                or body.get("scope") != scope:
            wrong.append(f"{route.name}: the 403 does not name {scope}: {body}")
        admitted = await web.client.request(route.method, path, headers=only, json=json)
        body = await admitted.json() if admitted.content_type == "application/json" else None
        code = body["error"]["code"] if isinstance(body, dict) and "error" in body else None
        if admitted.status in (401, 403) and code in ("missing_scope", "forbidden"):
            wrong.append(f"{route.name} with {scope}: {admitted.status} {code}")
    assert wrong == []


async def test_a_token_without_messages_send_gets_403_naming_it(web: WebApi) -> None:
    organizer = await web.staff("organizer")
    reader = await token_with(web, organizer.user.id, ["messages:read", "contacts:read"])
    response = await web.client.post("/api/v1/messages", headers=reader,
                                     json={"program": "news", "to": "+12025550123",
                                           "text": "hi"})
    assert response.status == 403
    body = await response.json()
    error = assert_error_shape(body)
    assert error["code"] == "missing_scope"
    assert "messages:send" in error["message"]
    assert body["scope"] == "messages:send"


async def test_a_scope_is_never_more_than_the_role(web: WebApi) -> None:
    organizer = await web.staff("organizer")
    # even stored with every scope, an organizer's token is refused admin routes
    everything = await token_with(web, organizer.user.id, list(SCOPES))
    response = await web.client.get("/api/v1/users", headers=everything)
    assert response.status == 403
    assert (await response.json())["error"]["code"] == "forbidden"
    csrf = await web.login("organizer@example.org")
    refused = await web.client.post("/api/v1/me/tokens", headers={"X-CSRF-Token": csrf},
                                    json={"name": "too much", "scopes": ["admin"]})
    assert refused.status == 400
    error = assert_error_shape(await refused.json())
    assert error["field"] == "scopes" and "admin" in error["message"]
    made = await web.client.post("/api/v1/me/tokens", headers={"X-CSRF-Token": csrf},
                                 json={"name": "reader", "scopes": ["contacts:read"]})
    assert made.status == 201
    answer = await made.json()
    assert answer["scopes"] == ["contacts:read"]
    bearer = {"Authorization": f"Bearer {answer['token']}"}
    web.client.session.cookie_jar.clear()
    assert (await web.client.get("/api/v1/consent", headers=bearer)).status != 403
    refused = await web.client.get("/api/v1/broadcasts", headers=bearer)
    assert refused.status == 403
    assert (await refused.json())["error"]["code"] == "missing_scope"


async def test_a_session_is_limited_by_its_role_only(web: WebApi) -> None:
    await web.staff("organizer")
    await web.login("organizer@example.org")
    assert (await web.client.get("/api/v1/broadcasts")).status == 200


async def test_a_token_made_before_scopes_holds_what_its_role_allows(web: WebApi) -> None:
    finance = await web.staff("finance")  # stored with scopes NULL, as migration 420 leaves
    assert (await web.client.get("/api/v1/donations", headers=finance.bearer)).status == 200
    listed = await web.client.get("/api/v1/me/tokens", headers=finance.bearer)
    assert (await listed.json())["tokens"][0]["all_role_scopes"] is True
