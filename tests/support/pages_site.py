"""The admin pages on aiohttp's test server, beside the API they post to.

Why not `tests.support.webapi.start_web_api`: that one starts the server before a
page could be added (aiohttp freezes the router on start). Same app
otherwise: health, the API and its context, then the pages; the `WebApi`
helpers (staff users, JSON login) work unchanged.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import asyncpg
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from gateway.clock import Clock, utc_now
from gateway.config import Settings
from gateway.engine import load_rules
from gateway.metrics import Metrics
from gateway.web.api import add_api_routes
from gateway.web.context import WebContext
from gateway.web.health import make_web_app
from gateway.web.pages import add_pages
from tests.support.clock import ManualClock
from tests.support.webapi import WebApi

CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


async def _healthy() -> Mapping[str, Any]:
    return {"database": True, "smpp": "bound"}


async def start_site(pool: asyncpg.Pool, settings: Settings, *, clock: Clock = utc_now,
                     reload_rules: Callable[[], bool] | None = None,
                     **changes: Any) -> WebApi:
    """`clock`: the web layer's "now" (sessions, tokens, the login throttle);
    `reload_rules`: the running gateway's keyword reload (none by default)."""
    if "finance_timezone" in changes:  # the setting's old name (now organization_timezone)
        changes["organization_timezone"] = changes.pop("finance_timezone")
    settings = settings.model_copy(update={"web_cookie_secure": False, **changes})
    rules = load_rules(settings.keywords)
    app = make_web_app(metrics=Metrics(), health_check=_healthy)
    add_api_routes(app, WebContext(pool, settings, clock=clock, reload_rules=reload_rules))
    add_pages(app, smpp_state=lambda: "bound", programs=lambda: list(rules.programs))
    client = TestClient(TestServer(app))
    await client.start_server()
    return WebApi(client, pool, settings)


def form_token(html: str) -> str:
    """The csrf_token hidden field of a rendered page."""
    found = CSRF_INPUT.search(html)
    assert found, "the page has no csrf_token field"
    return found[1]


@asynccontextmanager
async def export_site(pool: asyncpg.Pool, settings: Settings
                      ) -> AsyncIterator[tuple[WebApi, ManualClock]]:
    """The site with signed export links (valid an hour) on a clock the test moves."""
    clock = ManualClock(datetime.now(UTC).replace(microsecond=0))
    made = await start_site(pool, settings, clock=clock,
                            exports_link_secret=SecretStr("k" * 32), exports_link_seconds=3600)
    try:
        yield made, clock
    finally:
        await made.client.close()
