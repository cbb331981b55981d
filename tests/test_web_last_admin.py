"""Two admins demoting each other at the same moment: one of them stays an admin.

The store-level test interleaves two transactions on two connections by hand:
the second demotion starts while the first is still uncommitted, and the test
waits until PostgreSQL reports the second one waiting on a lock (or finished,
which is what happened before the guard locked anything). The HTTP test fires
both demotions at once through the real API.
"""

from __future__ import annotations

import asyncio

import asyncpg

from gateway.store import users as user_store
from tests.support.webapi import WebApi


async def demote(conn: asyncpg.Connection, user_id: int) -> int:
    """What PATCH /api/v1/users/{id} {"role": "organizer"} does, up to its guard's count."""
    await user_store.lock_active_admins(conn)
    await user_store.update_user(conn, user_id, role="organizer")
    return await user_store.count_active_admins(conn)


async def wait_until_blocked_or_done(pool: asyncpg.Pool, pid: int, task: asyncio.Task[int]
                                     ) -> None:
    while not task.done():
        async with pool.acquire() as conn:
            waiting = await conn.fetchval(
                "SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = $1", pid)
        if waiting:
            return
        await asyncio.sleep(0.01)


async def test_concurrent_demotions_on_two_connections_leave_an_admin(
    web: WebApi, pool: asyncpg.Pool,
) -> None:
    first = await web.staff("admin", email="a@example.org")
    second = await web.staff("admin", email="b@example.org")
    async with pool.acquire() as one, pool.acquire() as two:
        tx_one, tx_two = one.transaction(), two.transaction()
        await tx_one.start()
        await tx_two.start()
        assert await demote(one, second.user.id) == 1  # a@ is still an admin, so far
        later = asyncio.ensure_future(demote(two, first.user.id))
        await wait_until_blocked_or_done(pool, two.get_server_pid(), later)
        await tx_one.commit()
        left = await later
        await (tx_two.rollback() if left == 0 else tx_two.commit())  # as the API's guard does
    assert left == 0  # the second saw the first's demotion, so its guard refuses
    async with pool.acquire() as conn:
        assert await user_store.count_active_admins(conn) == 1


async def test_two_admins_demoting_each_other_over_http_leave_one(web: WebApi) -> None:
    first = await web.staff("admin", email="a@example.org")
    second = await web.staff("admin", email="b@example.org")
    answers = await asyncio.gather(
        web.client.patch(f"/api/v1/users/{second.user.id}", json={"role": "organizer"},
                         headers=first.bearer),
        web.client.patch(f"/api/v1/users/{first.user.id}", json={"disabled": True},
                         headers=second.bearer))
    assert sorted(a.status for a in answers) in ([200, 401], [200, 403], [200, 409])
    async with web.pool.acquire() as conn:
        assert await user_store.count_active_admins(conn) == 1
