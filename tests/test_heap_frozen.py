"""`gateway run` puts its start-up heap out of the cyclic collector's reach before it binds.

Why: every full collection of CPython's cyclic garbage collector walks every object it
tracks. The gateway's start-up leaves about 140,000 long-lived objects (modules, the
rules, the web app, asyncpg's codecs), and walking them paused the event loop for
104-171 ms in the MO benchmark, which every MO and reply in flight waited out.
`gc.freeze()` after start-up (gateway/app.py `freeze_heap`) leaves a full collection
only the objects made since (docs/performance.md, "The garbage collector, and
start-up's heap frozen").
"""

from __future__ import annotations

import gc
import json
import os
import signal
import socket
import subprocess
import sys
import threading

from gateway.app import freeze_heap
from tests.support.e2e import ROOT


def test_freezing_puts_every_object_alive_now_out_of_the_collections_reach() -> None:
    kept = [[n] for n in range(1000)]  # containers the collector tracks

    def walked() -> set[int]:  # what a full collection walks (the frozen are left out)
        return {id(o) for o in gc.get_objects()}

    assert id(kept[0]) in walked()
    try:
        frozen = freeze_heap()
        assert frozen >= len(kept) and gc.get_freeze_count() == frozen
        fresh = [[n] for n in range(10)]
        now = walked()
        assert not {id(x) for x in kept} & now
        assert id(fresh[0]) in now  # what is made later is collected as before
    finally:
        gc.unfreeze()  # this test process goes on making and dropping gateways


def unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_gateway_run_freezes_its_heap_before_it_binds(db_url: str) -> None:
    env = os.environ | {
        "DATABASE_URL": db_url,
        "GATEWAY_KEYWORDS": str(ROOT / "keywords.yaml"),
        "GATEWAY_SMPP_PORT": str(unused_port()),  # nobody listens: the client keeps trying
        "GATEWAY_HTTP_PORT": "0",
        "GATEWAY_LOG_LEVEL": "info",
    }
    events: list[dict[str, object]] = []
    with subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "run", "--no-migrate"],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    ) as gateway:
        watchdog = threading.Timer(180, gateway.kill)  # a start that hangs ends the reading
        watchdog.start()
        try:
            assert gateway.stderr is not None
            for line in gateway.stderr:  # one JSON event a line
                if line.startswith("{"):
                    events.append(json.loads(line))
                if events and events[-1]["event"] == "heap_frozen":
                    break
        finally:
            watchdog.cancel()
            gateway.send_signal(signal.SIGTERM)
            gateway.communicate(timeout=60)  # what it logs while stopping is read, not kept
    names = [str(e["event"]) for e in events]
    assert "heap_frozen" in names, names
    frozen = events[names.index("heap_frozen")]
    assert isinstance(frozen["objects"], int) and frozen["objects"] > 50_000
    binding = [n for n in names if n.startswith("smpp")]
    assert not binding, f"the SMPP client started before the heap was frozen: {binding}"
