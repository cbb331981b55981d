"""The public form /write on aiohttp's test server, on the test's database, with a clock the
test moves (the form's minimum fill time is a statement, not a wait)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from gateway.config import Settings
from gateway.web.pages import STATIC_DIR
from gateway.web.write_form import add_write_form_routes
from tests.support.clock import ManualClock
from tests.support.questions import RULES
from tests.support.written_mail import CONTACT

SHOWN_AT = datetime(2024, 12, 3, 9, 0, tzinfo=UTC)
STAMP = re.compile(r'name="stamp" value="([^"]+)"')


def form_settings(settings: Settings, **changes: Any) -> Settings:
    return settings.model_copy(update={
        "write_form_enabled": True, "write_form_secret": SecretStr("form test key"),
        "mail_contact_addresses": [CONTACT], **changes})


@dataclass
class WriteSite:
    client: TestClient[Any, Any]
    pool: asyncpg.Pool
    clock: ManualClock

    async def shown(self, query: str = "", headers: Mapping[str, str] | None = None
                    ) -> tuple[str, str]:
        """GET the form: (its HTML, its stamp); the clock then moves past the fill time."""
        response = await self.client.get("/write" + query, headers=headers)
        assert response.status == 200, await response.text()
        page = await response.text()
        found = STAMP.search(page)
        assert found is not None
        self.clock.advance(20)
        return page, found.group(1)

    async def post(self, fields: Mapping[str, str], *, stamp: str | None = None
                   ) -> tuple[int, str]:
        if stamp is None:
            _, stamp = await self.shown()
        response = await self.client.post("/write", data={"stamp": stamp, **fields})
        return response.status, await response.text()


@asynccontextmanager
async def write_site(pool: asyncpg.Pool, settings: Settings) -> AsyncIterator[WriteSite]:
    clock = ManualClock(SHOWN_AT)
    app = web.Application()
    add_write_form_routes(app, pool=pool, rules=lambda: RULES, settings=settings, clock=clock)
    app.router.add_static("/static/", STATIC_DIR)
    client: TestClient[Any, Any] = TestClient(TestServer(app))
    await client.start_server()
    try:
        yield WriteSite(client, pool, clock)
    finally:
        await client.close()
