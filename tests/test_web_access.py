"""The allow/deny matrix walked: every route, every role, and nobody logged in.

The expectations are read from `gateway.web.access.ACCESS` (the one place
the matrix lives), so the test checks that the code enforces the table, and
a route missing from the table fails the completeness check.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from gateway.services.actor import may_see_theme, require_theme
from gateway.services.errors import ServiceError
from gateway.web.access import ACCESS, PUBLIC, ROLES, allows
from gateway.web.api import all_routes
from gateway.web.auth import Principal
from gateway.web.pages import all_pages  # pages share the matrix: tests/test_pages_access.py
from tests.support.webapi import WebApi

SAMPLE_PATH_VALUES = {"msisdn": "+12025550123"}



def concrete(path: str) -> str:
    """Ids that do not exist: an allowed call changes nothing (no token of the walk revoked)."""
    return re.sub(r"\{(\w+)\}", lambda m: SAMPLE_PATH_VALUES.get(m[1], "999999"), path)


def test_every_route_has_a_rule_and_every_rule_a_route() -> None:
    names = [route.name for route in all_routes()] + [page.name for page in all_pages()]
    assert len(names) == len(set(names))
    assert set(names) == set(ACCESS)


async def test_every_route_for_every_role_follows_the_matrix(web: WebApi) -> None:
    staff = {role: await web.staff(role, themes=("health",) if role == "expert" else ())
             for role in ROLES}
    wrong: list[str] = []
    for route in all_routes():
        rule = ACCESS[route.name]
        path = concrete(route.path)
        for role in (None, *ROLES):
            headers = staff[role].bearer if role else {}
            json: dict[str, Any] | None = {} if route.method in {"POST", "PATCH"} else None
            response = await web.client.request(route.method, path, headers=headers, json=json)
            body = await response.json() if response.content_type == "application/json" \
                else None  # a CSV download
            code = body.get("error", {}).get("code") if isinstance(body, dict) else None
            who = role or "anonymous"
            if response.status >= 500 and response.status != 503:
                wrong.append(f"{route.name} as {who}: {response.status} {body}")
            elif role is None and rule != PUBLIC:
                if response.status != 401:
                    wrong.append(f"{route.name} as anonymous: {response.status}, wanted 401")
            elif allows(rule, role):
                if response.status == 401 or code == "forbidden":
                    wrong.append(f"{route.name} as {who}: {response.status} {code}, wanted in")
            elif response.status != 403 or code != "forbidden":
                wrong.append(f"{route.name} as {who}: {response.status} {code}, wanted 403")
    assert wrong == []


async def test_a_disabled_users_token_and_a_revoked_token_are_refused(web: WebApi) -> None:
    admin = await web.staff("admin")
    organizer = await web.staff("organizer")
    response = await web.client.get("/api/v1/me", headers=organizer.bearer)
    assert response.status == 200
    patch = await web.client.patch(f"/api/v1/users/{organizer.user.id}",
                                   json={"disabled": True}, headers=admin.bearer)
    assert patch.status == 200
    response = await web.client.get("/api/v1/me", headers=organizer.bearer)
    assert response.status == 401
    bad = await web.client.get("/api/v1/me", headers={"Authorization": "Bearer gwt_nope"})
    assert bad.status == 401
    assert (await bad.json())["error"]["code"] == "unauthenticated"


def principal(role: str, themes: tuple[str, ...] = ()) -> Principal:
    return Principal(1, f"{role}@example.org", role, themes, "token")


def test_experts_see_only_their_themes() -> None:
    expert = principal("expert", ("health", "housing"))
    assert may_see_theme(expert, "health")
    assert not may_see_theme(expert, "jobs")
    assert not may_see_theme(expert, None)
    assert may_see_theme(principal("admin"), "jobs")
    with pytest.raises(ServiceError) as refused:
        require_theme(expert, "jobs")
    assert refused.value.status == 403
    assert refused.value.code == "theme_forbidden"
