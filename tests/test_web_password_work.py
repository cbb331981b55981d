"""argon2 in a small bounded thread pool: the loop keeps serving, a flood gets 429 at once.

No timing thresholds: the checks are about what happens while hashes are
being computed (the pool's own `running` count, read on the event loop) and
about who is refused.
"""

from __future__ import annotations

import asyncio

import asyncpg
from aiohttp.test_utils import TestServer

from gateway.config import Settings
from gateway.web.password_work import PASSWORD_WORK, PasswordWork
from tests.support.webapi import WebApi, start_web_api


def work_of(web: WebApi) -> PasswordWork:
    server = web.client.server
    assert isinstance(server, TestServer)
    return server.app[PASSWORD_WORK]


def guesses(count: int) -> list[dict[str, str]]:
    """Wrong passwords for different e-mails, so the throttle refuses none of them."""
    return [{"email": f"user{n}@example.org", "password": "a wrong guess"} for n in range(count)]


async def test_health_and_other_requests_are_answered_while_passwords_are_hashed(
    pool: asyncpg.Pool, settings: Settings,
) -> None:
    web = await start_web_api(pool, settings, web_password_workers=2, web_password_queue=30)
    work = work_of(web)
    try:
        logins = [asyncio.ensure_future(web.client.post("/login", json=body))
                  for body in guesses(24)]
        batch = asyncio.gather(*logins)
        seen_running: list[int] = []
        health_statuses: list[int] = []
        first_before_batch: bool | None = None
        while not batch.done():
            health = await web.client.get("/healthz")
            health_statuses.append(health.status)
            # On the event loop, right as the answer arrives: is a hash being computed?
            seen_running.append(work.running)
            if first_before_batch is None:
                first_before_batch = not batch.done()
        responses = await batch
        assert {r.status for r in responses} == {401}
        assert work.verifications == 24
        assert set(health_statuses) == {200}
        assert first_before_batch is True  # the first health answer did not wait for the batch
        # The loop answered while argon2 ran: impossible if argon2 ran on the loop.
        assert max(seen_running) > 0
    finally:
        await web.client.close()


async def test_logins_beyond_the_pool_and_its_queue_get_429_at_once_and_count_for_nothing(
    pool: asyncpg.Pool, settings: Settings,
) -> None:
    web = await start_web_api(pool, settings, web_password_workers=1, web_password_queue=1)
    work = work_of(web)
    try:
        responses = await asyncio.gather(*(web.client.post("/login", json=body)
                                           for body in guesses(12)))
        busy = [r for r in responses if r.status == 429]
        checked = [r for r in responses if r.status == 401]
        assert len(busy) + len(checked) == 12
        assert busy and checked
        assert work.verifications == len(checked)
        assert work.refused == len(busy)
        for response in busy:
            assert response.headers["Retry-After"] == "1"
            assert (await response.json())["error"]["code"] == "busy"
        async with web.pool.acquire() as conn:
            counted = await conn.fetchval(
                "SELECT failures FROM login_throttle WHERE scope = 'address'")
        assert counted == len(checked)  # a "busy" refusal is not a failed login
        assert work.admitted == 0  # every slot was given back
    finally:
        await web.client.close()

