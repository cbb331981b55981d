"""The supervisor of `gateway run --workers N` when workers cannot run.

Real worker processes that fail for real reasons (a keywords file that is
not there, a short code no program runs): one that keeps dying is restarted
with a backoff and then reported `down` (what worker 1's /healthz fails on);
one that refuses its configuration stops the whole supervisor with status 2.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest

from gateway.config import load_settings
from gateway.web.health import failing_parts
from gateway.workers.status import DOWN, RESTARTING, RUNNING, STARTING
from gateway.workers.supervisor import Worker, WorkerPool
from tests.support.e2e import ROOT

UNREACHABLE_DB = "postgresql://gateway@127.0.0.1:1/gateway"


async def test_a_worker_that_keeps_dying_is_restarted_then_down(
    monkeypatch: pytest.MonkeyPatch, tmp_path: os.PathLike[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", UNREACHABLE_DB)
    monkeypatch.setenv("GATEWAY_KEYWORDS", f"{tmp_path}/missing.yaml")
    monkeypatch.setenv("GATEWAY_LOG_LEVEL", "error")
    settings = load_settings(os.environ | {"GATEWAY_INSTANCE_NAME": "crashy"})
    pool = WorkerPool(settings, 1, config=None, down_after=0.5)
    running = asyncio.create_task(pool.run())
    try:
        async with asyncio.timeout(180):  # each start imports the gateway: slow on a busy box
            while pool.states() != {"crashy-w1": DOWN}:  # noqa: ASYNC110 - a process's state
                await asyncio.sleep(0.1)
            while pool.workers[0].attempt < 2:  # noqa: ASYNC110 - started again, died again
                await asyncio.sleep(0.1)
        assert pool.states() == {"crashy-w1": DOWN}  # a start that never got ready is not up
    finally:
        pool.stop()
        assert await running == 0


def test_a_state_is_down_only_after_the_worker_stayed_down() -> None:
    worker = Worker(1, "gw-w1")
    assert worker.state(100.0) == STARTING
    worker.ready_at = 100.0
    assert worker.state(100.0) == RUNNING
    worker.down_since = 100.0
    assert worker.state(105.0, down_after=10.0) == RESTARTING
    assert worker.state(110.0, down_after=10.0) == DOWN
    health = {"database": True, "smpp": "bound", "workers": {"gw-w1": RUNNING,
                                                              "gw-w2": RESTARTING}}
    assert failing_parts(health) == []
    health["workers"] = {"gw-w1": RUNNING, "gw-w2": DOWN}
    assert failing_parts(health) == ["worker:gw-w2"]


def test_a_refused_configuration_stops_every_worker_with_status_2() -> None:
    env = os.environ | {
        "DATABASE_URL": UNREACHABLE_DB,
        "GATEWAY_KEYWORDS": str(ROOT / "keywords.yaml"),
        "GATEWAY_SHORTCODE": "99999",  # no program of keywords.yaml runs it
        "GATEWAY_LOG_LEVEL": "error",
    }
    done = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "run", "--no-migrate", "--workers", "2"],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=240, check=False)
    assert done.returncode == 2, done.stderr
    assert "worker_refused_configuration" in done.stderr
    assert "99999" in done.stderr  # the worker's own message says what is wrong
