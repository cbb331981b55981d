"""Shared pieces of the admin web tests: the API on aiohttp's test server, and staff users.

Why the real app on a real socket: the checks live in middleware, the
route wrapper and PostgreSQL (sessions, tokens, audit triggers), so the
tests go through all of them the way a browser or a script would. Cookies
are not Secure here (the test server speaks http); the flag itself is
checked on the Set-Cookie header.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from aiohttp.test_utils import TestClient, TestServer

from gateway.config import Settings
from gateway.metrics import Metrics
from gateway.store import users as user_store
from gateway.store.users import User
from gateway.web.api import add_api_routes
from gateway.web.context import WebContext
from gateway.web.credentials import hash_password, new_api_token
from gateway.web.health import make_web_app

PASSWORD = "correct horse battery"


@dataclass
class Staff:
    user: User
    token: str

    @property
    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class WebApi:
    client: TestClient[Any, Any]
    pool: asyncpg.Pool
    settings: Settings
    reloads: list[datetime] = field(default_factory=list)

    async def staff(self, role: str, *, email: str | None = None,
                    themes: tuple[str, ...] = ()) -> Staff:
        """A user with PASSWORD and one API token."""
        made = new_api_token()
        async with self.pool.acquire() as conn:
            user = await user_store.insert_user(
                conn, email=email or f"{role}@example.org", role=role, themes=themes,
                password_hash=hash_password(PASSWORD))
            await user_store.insert_token(conn, user_id=user.id, name="test",
                                          prefix=made.prefix, secret_hash=made.secret_hash,
                                          expires_at=datetime.now(UTC) + timedelta(days=30))
        return Staff(user, made.token)

    async def login(self, email: str, password: str = PASSWORD) -> str:
        """Log the client in (cookie jar); returns the session's CSRF token."""
        response = await self.client.post("/login", json={"email": email, "password": password})
        assert response.status == 200, await response.text()
        body: Mapping[str, Any] = await response.json()
        return str(body["csrf_token"])


async def _healthy() -> Mapping[str, Any]:
    return {"database": True, "smpp": "bound"}


async def start_web_api(pool: asyncpg.Pool, settings: Settings, *,
                        clock: Callable[[], datetime] | None = None, **changes: Any) -> WebApi:
    """`clock`: the web layer's "now" (sessions, tokens, the login throttle)."""
    settings = settings.model_copy(update={"web_cookie_secure": False, **changes})
    reloads: list[datetime] = []

    def reload_rules() -> bool:
        reloads.append(datetime.now(UTC))
        return True

    app = make_web_app(metrics=Metrics(), health_check=_healthy)
    context = WebContext(pool, settings, reload_rules=reload_rules)
    if clock is not None:
        context = replace(context, clock=clock)
    add_api_routes(app, context)
    client = TestClient(TestServer(app))
    await client.start_server()
    return WebApi(client, pool, settings, reloads)


def assert_error_shape(body: Any) -> dict[str, Any]:
    """Every API error is `{"error": {"code", "message", "field"}}`; returns the inner one."""
    assert set(body) >= {"error"}
    error = body["error"]
    assert set(error) == {"code", "message", "field"}
    assert isinstance(error["code"], str) and isinstance(error["message"], str)
    return dict(error)
