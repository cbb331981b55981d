"""/healthz and /metrics over real HTTP (aiohttp's TestServer on a free port)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from gateway.metrics import Metrics
from gateway.store.db import create_pool
from gateway.web.health import gateway_health_check, make_web_app

Check = Callable[[], Awaitable[Mapping[str, Any]]]
ClientFor = Callable[..., Awaitable[TestClient[Any, Any]]]


def answering(result: Mapping[str, Any]) -> Check:
    async def check() -> Mapping[str, Any]:
        return result

    return check


@pytest.fixture
async def client_for() -> AsyncIterator[ClientFor]:
    clients: list[TestClient[Any, Any]] = []

    async def start(check: Check, metrics: Metrics | None = None) -> TestClient[Any, Any]:
        app = make_web_app(metrics=metrics or Metrics(), health_check=check)
        client = TestClient(TestServer(app))
        await client.start_server()
        clients.append(client)
        return client

    yield start
    for client in clients:
        await client.close()


async def test_healthy_when_database_answers_and_smpp_is_bound(client_for: ClientFor) -> None:
    client = await client_for(answering({"database": True, "smpp": "bound"}))
    response = await client.get("/healthz")
    assert response.status == 200
    assert await response.json() == {"status": "ok", "database": True, "smpp": "bound"}


@pytest.mark.parametrize(
    ("result", "failing"),
    [
        ({"database": False, "smpp": "bound"}, ["database"]),
        ({"database": True, "smpp": "connecting"}, ["smpp"]),
        ({"database": False, "smpp": "unbound"}, ["database", "smpp"]),
    ],
)
async def test_unhealthy_names_the_failing_part(
    client_for: ClientFor, result: dict[str, Any], failing: list[str]
) -> None:
    client = await client_for(answering(result))
    response = await client.get("/healthz")
    body = await response.json()
    assert response.status == 503
    assert body["status"] == "fail" and body["failing"] == failing


async def test_a_dead_background_task_is_failing_a_retrying_one_is_not(
    client_for: ClientFor,
) -> None:
    tasks = {"outbox": "retrying", "billing": "running", "broadcasts": "dead"}
    client = await client_for(answering({"database": True, "smpp": "bound", "tasks": tasks}))
    response = await client.get("/healthz")
    body = await response.json()
    assert response.status == 503
    assert body["failing"] == ["task:broadcasts"] and body["tasks"] == tasks
    tasks["broadcasts"] = "running"
    response = await client.get("/healthz")
    assert response.status == 200


async def test_a_check_that_raises_is_a_503_not_a_crash(client_for: ClientFor) -> None:
    async def broken() -> Mapping[str, Any]:
        raise ConnectionResetError("pool went away")

    client = await client_for(broken)
    response = await client.get("/healthz")
    assert response.status == 503
    assert await response.json() == {
        "status": "fail",
        "error": "health check failed: ConnectionResetError",
    }


async def test_metrics_render_this_apps_registry(client_for: ClientFor) -> None:
    metrics = Metrics()
    Metrics().mo_received.inc(100)  # another app's registry must not leak in
    metrics.mo_received.inc(3)
    metrics.mt_failed.inc()
    metrics.smpp_bound.set(1)
    metrics.mo_to_mt_seconds.observe(0.004)
    metrics.mo_to_mt_seconds.observe(0.3)
    client = await client_for(answering({"database": True, "smpp": "bound"}), metrics)
    response = await client.get("/metrics")
    text = await response.text()
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    assert "gateway_mo_received_total 3.0" in text
    assert "gateway_mt_failed_total 1.0" in text
    assert "gateway_mo_committed_total 0.0" in text
    assert "gateway_smpp_bound 1.0" in text
    assert "gateway_smpp_window_in_use 0.0" in text
    assert 'gateway_mo_to_mt_seconds_bucket{le="0.005"} 1.0' in text
    assert 'gateway_mo_to_mt_seconds_bucket{le="0.5"} 2.0' in text
    assert 'gateway_mo_to_mt_seconds_bucket{le="5.0"} 2.0' in text
    for name in ("mt_queued", "mt_submitted", "mt_suppressed", "dlr_received"):
        assert f"gateway_{name}_total 0.0" in text


async def test_gateway_check_pings_the_real_database(db_url: str) -> None:
    pool: asyncpg.Pool = await create_pool(db_url, min_size=1, max_size=2)
    state = "bound"
    check = gateway_health_check(pool=pool, smpp_state=lambda: state)
    try:
        assert await check() == {"database": True, "smpp": "bound"}
        state = "connecting"
        assert await check() == {"database": True, "smpp": "connecting"}
    finally:
        await pool.close()
    assert (await check())["database"] is False  # a closed pool does not answer


async def test_gateway_check_gives_up_after_its_deadline(db_url: str) -> None:
    pool: asyncpg.Pool = await create_pool(db_url, min_size=1, max_size=1)
    check = gateway_health_check(pool=pool, smpp_state=lambda: "bound", within=0.2)
    try:
        async with pool.acquire() as busy:  # the only connection is taken: ping must wait
            assert await check() == {"database": False, "smpp": "bound"}
            assert await busy.fetchval("SELECT 1") == 1
    finally:
        await asyncio.wait_for(pool.close(), 10)
