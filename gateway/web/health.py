"""/healthz and /metrics: what a load balancer, Docker and Prometheus ask.

Why the health function is passed in: the web layer must not know how the
pool or the SMPP session are built. `app.py` composes one from them with
`gateway_health_check`, and tests pass a plain coroutine. A check that hangs
or raises is itself an answer: 503, never a stuck or crashed endpoint.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import asyncpg
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from gateway.logs import get_logger
from gateway.metrics import Metrics
from gateway.store.db import ping

HealthCheck = Callable[[], Awaitable[Mapping[str, Any]]]
CHECK_DEADLINE_S = 2.0

log = get_logger(__name__)


def failing_parts(result: Mapping[str, Any]) -> list[str]:
    """Healthy means: the database answered, the SMPP session is bound, no task died, no
    worker stays down.

    `tasks` (name -> state, gateway/tasks.py) is optional; a task retrying
    after a database or network error is not failing by itself (the database
    check says whether it is down), a dead one is, named "task:<name>".
    """
    failing = []
    if result.get("database") is not True:
        failing.append("database")
    if result.get("smpp") != "bound":
        failing.append("smpp")
    tasks: Mapping[str, str] = result.get("tasks") or {}
    failing.extend(f"task:{name}" for name, state in tasks.items() if state == "dead")
    # `workers` (gateway run --workers N): each worker's state as its supervisor says it
    workers: Mapping[str, str] = result.get("workers") or {}
    failing.extend(f"worker:{name}" for name, state in workers.items() if state == "down")
    return failing


def make_web_app(*, metrics: Metrics, health_check: HealthCheck) -> web.Application:
    app = web.Application()
    add_health_routes(app, metrics=metrics, health_check=health_check)
    return app


def add_health_routes(app: web.Application, *, metrics: Metrics, health_check: HealthCheck) -> None:
    """For an app that also serves other routes (the admin API)."""

    async def healthz(_: web.Request) -> web.Response:
        try:
            async with asyncio.timeout(CHECK_DEADLINE_S):
                result = dict(await health_check())
        except Exception as err:  # any failure of the check is an unhealthy answer
            log.warning("health_check_failed", error=type(err).__name__)
            body = {"status": "fail", "error": f"health check failed: {type(err).__name__}"}
            return web.json_response(body, status=503)
        failing = failing_parts(result)
        if failing:
            return web.json_response({"status": "fail", **result, "failing": failing}, status=503)
        return web.json_response({"status": "ok", **result})

    async def metrics_text(_: web.Request) -> web.Response:
        return web.Response(body=metrics.render(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics_text)


def gateway_health_check(
    *, pool: asyncpg.Pool, smpp_state: Callable[[], str], within: float = 1.0
) -> HealthCheck:
    """{"database": bool, "smpp": state}; `smpp_state()` returns e.g. "bound" or "connecting"."""

    async def check() -> Mapping[str, Any]:
        return {"database": await ping(pool, within=within), "smpp": smpp_state()}

    return check
