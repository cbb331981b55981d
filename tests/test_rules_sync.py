"""A keyword reload served by one instance reaches every instance; a bad file changes none."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

from gateway.app import Gateway
from gateway.config import Settings
from gateway.smpp.simulator import SmscSimulator
from gateway.store import users as user_store
from gateway.web.credentials import new_api_token
from tests.support.e2e import gateway_settings, keywords_file, running_gateway, stop_gateway

NEW_REPLY = "{program}: thanks for pitching in! Reply STOP to cancel."


async def organizer_token(gw: Gateway) -> str:
    made = new_api_token()
    async with gw.pool.acquire() as conn:
        user = await user_store.insert_user(conn, email="organizer@example.org",
                                            role="organizer", themes=(), password_hash=None)
        await user_store.insert_token(conn, user_id=user.id, name="test", prefix=made.prefix,
                                      secret_hash=made.secret_hash,
                                      expires_at=datetime.now(UTC) + timedelta(days=1))
    return made.token


async def reload_on(gw: Gateway, token: str) -> int:
    url = f"http://127.0.0.1:{gw.http_port}/api/v1/keywords/reload"
    async with aiohttp.ClientSession() as session, session.post(
            url, headers={"Authorization": f"Bearer {token}"}) as response:
        return response.status


def with_keyword(doc: dict[str, Any]) -> None:
    doc["keywords"].append(
        {"word": "PITCHIN", "program": "rise", "action": "reply", "reply": NEW_REPLY})


async def test_a_reload_on_one_instance_reaches_the_other(
    settings: Settings, smsc: SmscSimulator, tmp_path: Path
) -> None:
    path = keywords_file(tmp_path, lambda doc: None)
    one = await running_gateway(gateway_settings(
        settings, smsc, keywords=path, instance_name="gateway-1"), smsc)
    two = await running_gateway(gateway_settings(
        settings, smsc, keywords=path, instance_name="gateway-2"), smsc)
    try:
        async with asyncio.timeout(10):
            await two.rules_sync.listening.wait()
        token = await organizer_token(one)
        before = two.rules.current
        path.write_text("version: 1\nprograms: [", encoding="utf-8")  # a bad file
        assert await reload_on(one, token) == 422
        keywords_file(tmp_path, with_keyword)
        assert await reload_on(one, token) == 200
        async with asyncio.timeout(10):
            while two.rules.current is before:  # noqa: ASYNC110 - set by a notification
                await asyncio.sleep(0.02)
        assert "PITCHIN" in two.rules.current.shortcodes["12345"].exact
        assert "PITCHIN" in one.rules.current.shortcodes["12345"].exact
        assert await reload_on(one, token) == 200  # a second reload, with the announcement
        async with asyncio.timeout(10):  # of the first one done by now
            while one._errands:  # noqa: ASYNC110 - the announcement's task ends by itself
                await asyncio.sleep(0.02)
        # a reload is not a background task that died: both gateways still run, healthy
        assert one.supervisor.dead() == [] and two.supervisor.dead() == []
        assert not one.supervisor.died.is_set()
    finally:
        await stop_gateway(two)
        await stop_gateway(one)
