"""The background-task supervisor: database faults are survived, bugs are fatal and reported.

The faults are real: a connection killed by the server (pg_terminate_backend)
and a connection that is closed, on the test's own PostgreSQL.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import aiohttp
import asyncpg
import pytest
from structlog.testing import capture_logs

from gateway.app import Gateway, open_gateway, serve
from gateway.config import Settings
from gateway.smpp.simulator import SmscSimulator
from gateway.store.db import create_pool
from gateway.tasks import DEAD, RETRYING, RUNNING, STOPPED, BackgroundTaskDied, Supervisor
from tests.support.e2e import gateway_settings


def fast() -> Supervisor:
    return Supervisor(backoff_min=0.01, backoff_max=0.05)


@pytest.fixture
async def supervisor() -> AsyncIterator[Supervisor]:
    sup = fast()
    try:
        yield sup
    finally:
        await sup.stop()


async def until(predicate: Callable[[], bool], *, within: float = 10.0) -> None:
    async with asyncio.timeout(within):
        while not predicate():  # noqa: ASYNC110 - another task changes the state
            await asyncio.sleep(0.01)


async def test_a_task_whose_connection_is_killed_is_started_again(
    db_url: str, supervisor: Supervisor
) -> None:
    pool = await create_pool(db_url, min_size=1, max_size=1)
    admin = await asyncpg.connect(db_url)
    runs: list[int] = []
    answers: list[int] = []

    async def claim_loop() -> None:  # the shape of the outbox: a loop over one pool
        runs.append(len(runs) + 1)
        while True:
            async with pool.acquire() as conn:
                if len(runs) == 1 and not answers:
                    pid = conn.get_server_pid()
                    await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
                    while await admin.fetchval(  # noqa: ASYNC110 - gone before the next use
                            "SELECT count(*) FROM pg_stat_activity WHERE pid = $1", pid):
                        await asyncio.sleep(0.01)
                answers.append(await conn.fetchval("SELECT 1"))
            await asyncio.sleep(0.01)

    try:
        with capture_logs() as logs:
            supervisor.run("claims", claim_loop)
            await until(lambda: len(answers) >= 3)
        assert runs == [1, 2]  # the first run died with its connection, the second goes on
        assert supervisor.status() == {"claims": RUNNING}
        failed = [e for e in logs if e["event"] == "task_failed"]
        assert len(failed) == 1
        assert failed[0]["task"] == "claims" and failed[0]["attempt"] == 1
        # which one depends on when the client reads the server's goodbye
        assert failed[0]["error"] in {"AdminShutdownError", "ConnectionDoesNotExistError",
                                      "InternalClientError", "InterfaceError"}
    finally:
        await supervisor.stop()
        await admin.close()
        await pool.close()


async def test_a_periodic_job_retries_with_backoff_until_the_database_is_back(
    db_url: str, supervisor: Supervisor
) -> None:
    closed = await asyncpg.connect(db_url)
    await closed.close()
    conn = closed
    done: list[int] = []

    async def tick() -> int:
        done.append(await conn.fetchval("SELECT 1"))
        return 1

    with capture_logs() as logs:
        supervisor.every("sweep", 0.01, tick)
        await until(lambda: sum(e["event"] == "task_failed" for e in logs) >= 3)
        assert supervisor.status() == {"sweep": RETRYING}
        attempts = [e["attempt"] for e in logs if e["event"] == "task_failed"]
        assert attempts[:3] == [1, 2, 3]  # one line per failure, the delay growing
        conn = await asyncpg.connect(db_url)  # the database is back
        try:
            await until(lambda: len(done) >= 2)
            assert supervisor.status() == {"sweep": RUNNING}
            assert supervisor.dead() == []
        finally:
            await supervisor.stop()
            await conn.close()
    assert all(e["error"] == "InterfaceError" for e in logs if e["event"] == "task_failed")


async def test_a_bug_kills_the_task_and_says_which(supervisor: Supervisor) -> None:
    async def broken() -> None:
        raise KeyError("no such program")

    async def healthy() -> None:
        await asyncio.Event().wait()

    with capture_logs() as logs:
        supervisor.run("healthy", healthy)
        supervisor.every("billing", 0.01, broken)
        await asyncio.wait_for(supervisor.died.wait(), 10)
    assert supervisor.status() == {"healthy": RUNNING, "billing": DEAD}
    died = [e for e in logs if e["event"] == "task_died"]
    assert len(died) == 1 and died[0]["task"] == "billing" and died[0]["log_level"] == "error"
    with pytest.raises(BackgroundTaskDied, match="billing"):
        supervisor.raise_if_dead()


async def test_a_task_that_returns_while_running_is_dead_and_after_stop_is_not(
    supervisor: Supervisor,
) -> None:
    async def returns() -> None:
        return None

    supervisor.run("quits", returns)
    await asyncio.wait_for(supervisor.died.wait(), 10)
    assert supervisor.status() == {"quits": DEAD}

    other = fast()
    other.stopping()
    other.run("quits", returns)
    await other.stop()
    assert other.status() == {"quits": STOPPED}
    other.raise_if_dead()


async def test_a_dead_task_fails_healthz_naming_it(gateway: Gateway) -> None:
    async def doomed() -> None:
        raise RuntimeError("a bug")

    url = f"http://127.0.0.1:{gateway.http_port}/healthz"
    async with aiohttp.ClientSession() as http:
        async with http.get(url) as resp:
            body = await resp.json()
            assert resp.status == 200
            assert body["tasks"]["outbox"] == RUNNING and body["tasks"]["billing"] == RUNNING
        gateway.supervisor.run("doomed", doomed)
        await asyncio.wait_for(gateway.supervisor.died.wait(), 10)
        async with http.get(url) as resp:
            body = await resp.json()
            assert resp.status == 503
            assert body["failing"] == ["task:doomed"] and body["tasks"]["doomed"] == DEAD


async def test_a_dead_task_stops_the_gateway_with_an_error(
    settings: Settings, smsc: SmscSimulator
) -> None:
    gateway = await open_gateway(gateway_settings(settings, smsc), migrate=False)
    release = asyncio.Event()

    async def doomed() -> None:
        await release.wait()
        raise RuntimeError("a bug")

    gateway.supervisor.run("doomed", doomed)
    stop = asyncio.Event()
    served = asyncio.create_task(serve(gateway, stop))
    await until(lambda: gateway.client.bound)
    release.set()
    with pytest.raises(BackgroundTaskDied, match="doomed"):
        await asyncio.wait_for(served, 30)  # stopped on its own, without `stop`
    assert not stop.is_set() and not gateway.client.bound
    assert gateway.supervisor.status()["outbox"] == STOPPED
