"""The supervisor and its workers talk on a socket pair: states one way, "ready" the other.

Why a socket pair rather than a table: only the supervisor knows that a
worker crashed and when it is back, and it needs no database connection of
its own to say so. Down: every worker's state once a second (worker 1's
/healthz reports them). Up: a worker writes `ready` once it has started, so
a worker that takes long to start (imports on a busy box) and then dies is
never counted as back. And the connection's end says something too: when a
worker reads EOF, its supervisor is gone (killed, or crashed), and the
worker stops rather than run on as an orphan beside the workers a new
supervisor starts under the same instance names (two processes holding one
name take each other's leases).
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
from collections.abc import Callable, Mapping

from gateway.logs import get_logger

log = get_logger("gateway.workers")

STARTING = "starting"  # started, not yet ready
RUNNING = "running"  # ready
RESTARTING = "restarting"  # it exited; started again after a backoff
DOWN = "down"  # not running for DOWN_AFTER seconds: /healthz fails (web/health.py)
READY = b"ready\n"
ORPHAN_GRACE = 30.0  # seconds an orphaned worker may take to stop before it exits anyway


def status_line(states: Mapping[str, str]) -> bytes:
    """One message to the workers: instance name -> state, as a JSON line."""
    return json.dumps(dict(states), separators=(",", ":")).encode() + b"\n"


class SupervisorLink:
    """A worker's end: the states heard last, `ready()` to say so, and the supervisor's going."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._writer: asyncio.StreamWriter | None = None
        self.states: dict[str, str] = {}

    def ready(self) -> None:
        if self._writer is not None:
            self._writer.write(READY)

    async def run(self, on_gone: Callable[[], None]) -> None:
        """Read lines until EOF, then call `on_gone` (the worker's stop).

        The caller cancels this task once the worker has stopped; a stop that takes
        more than ORPHAN_GRACE seconds ends the process.
        """
        reader, self._writer = await asyncio.open_connection(sock=socket.socket(fileno=self._fd))
        try:
            while line := await reader.readline():
                try:
                    states = json.loads(line)
                except ValueError:
                    log.warning("worker_status_unreadable", length=len(line))
                    continue
                if isinstance(states, dict):
                    self.states = {str(k): str(v) for k, v in states.items()}
        except ConnectionError:
            pass
        finally:
            self._writer.close()
            self._writer = None
        log.warning("supervisor_gone")
        on_gone()
        # No one will send SIGKILL: a stop stuck on a database that is gone too (the
        # supervisor's host going down) must not leave a process behind holding our name.
        await asyncio.sleep(ORPHAN_GRACE)
        log.error("worker_stop_overdue", after_s=ORPHAN_GRACE)
        os._exit(1)
