"""The login throttle: atomic per (e-mail, address), growing waits, never a lock of the account.

Real HTTP to the real app on a real socket, real PostgreSQL, real argon2;
the web layer's clock is injected, so "after the wait" is a step of the
clock, not a sleep. A second client binds 127.0.0.2 to be "another address".
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiohttp.test_utils import TestServer

from gateway.config import Settings
from gateway.web.password_work import PASSWORD_WORK, PasswordWork
from tests.support.clock import ManualClock
from tests.support.webapi import PASSWORD, WebApi, start_web_api

EMAIL = "finance@example.org"
WRONG = {"email": EMAIL, "password": "not the password"}
RIGHT = {"email": EMAIL, "password": PASSWORD}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))


@pytest.fixture
async def web(pool: asyncpg.Pool, settings: Settings, clock: ManualClock) -> AsyncIterator[WebApi]:
    # A queue long enough that the hashing pool never says "busy" here: these
    # tests are about the throttle (tests/test_web_password_work.py is about the pool).
    api = await start_web_api(pool, settings, clock=clock, web_login_max_failures=5,
                              web_login_max_delay=8, web_password_queue=100)
    try:
        yield api
    finally:
        await api.client.close()


def work_of(web: WebApi) -> PasswordWork:
    server = web.client.server
    assert isinstance(server, TestServer)
    return server.app[PASSWORD_WORK]


async def checked_in_audit(web: WebApi) -> int:
    """Password checks the app logged (failed or not): the audit log's own count."""
    async with web.pool.acquire() as conn:
        count: int = await conn.fetchval(
            "SELECT count(*) FROM audit_log WHERE action LIKE 'session.login_%'")
    return count


async def post_all(web: WebApi, bodies: list[dict[str, str]]) -> list[tuple[int, Any]]:
    async def one(body: dict[str, str]) -> tuple[int, Any]:
        response = await web.client.post("/login", json=body)
        return response.status, (response.headers.get("Retry-After"), await response.json())

    return list(await asyncio.gather(*(one(body) for body in bodies)))


async def login_from(web: WebApi, address: str, body: dict[str, str]) -> aiohttp.ClientResponse:
    """POST /login from another loopback address (Linux routes all of 127/8 to lo)."""
    connector = aiohttp.TCPConnector(local_addr=(address, 0))
    async with aiohttp.ClientSession(connector=connector) as session:
        response = await session.post(web.client.make_url("/login"), json=body)
        await response.read()
        return response


async def test_thirty_concurrent_guesses_reach_argon2_only_as_often_as_allowed(
    web: WebApi, clock: ManualClock,
) -> None:
    await web.staff("finance")
    answers = await post_all(web, [WRONG] * 30)
    statuses = sorted(status for status, _ in answers)
    assert statuses == [401] * 5 + [429] * 25
    assert work_of(web).verifications == 5
    assert await checked_in_audit(web) == 5
    for status, (retry_after, body) in answers:
        if status == 429:
            assert retry_after == "1" and body["error"]["code"] == "too_many_attempts"
    # The right password now, from the same address, within the wait: not even checked.
    assert (await web.client.post("/login", json=RIGHT)).status == 429
    assert work_of(web).verifications == 5
    # Knocking during the wait did not make it longer: one second on, it works.
    clock.advance(1)
    assert (await web.client.post("/login", json=RIGHT)).status == 200


async def test_the_right_password_inside_a_burst_beyond_the_allowance_gets_nothing(
    web: WebApi,
) -> None:
    await web.staff("finance")
    assert [s for s, _ in await post_all(web, [WRONG] * 5)] == [401] * 5
    burst = [WRONG] * 12 + [RIGHT] + [WRONG] * 12
    assert {s for s, _ in await post_all(web, burst)} == {429}
    assert work_of(web).verifications == 5


async def test_the_owner_from_another_address_is_not_locked_out(web: WebApi) -> None:
    await web.staff("finance")
    await post_all(web, [WRONG] * 30)
    assert (await web.client.post("/login", json=RIGHT)).status == 429
    elsewhere = await login_from(web, "127.0.0.2", RIGHT)
    assert elsewhere.status == 200


async def test_waits_double_and_stop_growing_at_the_cap(web: WebApi, clock: ManualClock) -> None:
    await web.staff("finance")
    await post_all(web, [WRONG] * 5)
    waits = []
    for _ in range(6):
        refused = await web.client.post("/login", json=WRONG)
        assert refused.status == 429
        wait = int(refused.headers["Retry-After"])
        waits.append(wait)
        clock.advance(wait)
        assert (await web.client.post("/login", json=WRONG)).status == 401
    assert waits == [1, 2, 4, 8, 8, 8]  # web_login_max_delay=8 in this test
    clock.advance(8)
    assert (await web.client.post("/login", json=RIGHT)).status == 200
    # A good password forgets the failures: five free tries again.
    assert [s for s, _ in await post_all(web, [WRONG] * 5)] == [401] * 5


async def test_a_key_left_idle_for_a_window_after_its_wait_starts_afresh(
    web: WebApi, clock: ManualClock,
) -> None:
    await web.staff("finance")
    await post_all(web, [WRONG] * 5)
    clock.advance(1)
    assert (await web.client.post("/login", json=WRONG)).status == 401  # wait now 2 s
    clock.advance(2 + web.settings.web_login_window + 1)
    assert [s for s, _ in await post_all(web, [WRONG] * 5)] == [401] * 5


async def test_one_address_spraying_many_accounts_is_slowed_with_bounded_waits(
    pool: asyncpg.Pool, settings: Settings, clock: ManualClock,
) -> None:
    api = await start_web_api(pool, settings, clock=clock, web_login_max_failures_per_client=4,
                              web_login_client_max_delay=3, web_password_queue=100)
    try:
        await api.staff("organizer")
        for _ in range(6):  # good logins do not count against the address
            await api.login("organizer@example.org")
        sprayed = [{"email": f"user{n}@example.org", "password": "guess"} for n in range(4)]
        assert [s for s, _ in await post_all(api, sprayed)] == [401] * 4
        waits = []
        for n in range(4, 8):
            refused = await api.client.post("/login", json={"email": f"user{n}@example.org",
                                                            "password": "guess"})
            assert refused.status == 429
            waits.append(int(refused.headers["Retry-After"]))
            clock.advance(waits[-1])
            again = await api.client.post("/login", json={"email": f"user{n}@example.org",
                                                          "password": "guess"})
            assert again.status == 401
        assert waits == [1, 2, 3, 3]  # never longer than web_login_client_max_delay
        # Another address is not slowed by this one at all.
        assert (await login_from(api, "127.0.0.2", {"email": "organizer@example.org",
                                                    "password": PASSWORD})).status == 200
        # Behind the sprayer's address, the owner waits at most the cap, then gets in.
        clock.advance(3)
        await api.login("organizer@example.org")
    finally:
        await api.client.close()
