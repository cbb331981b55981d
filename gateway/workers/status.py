"""What the supervisor tells its workers: every worker's state, a line a second, on a pipe.

Why a pipe rather than a table: only the supervisor knows that a worker
crashed and when it is back, and it needs no database connection of its own
to say so. The pipe's end says something too: when a worker reads EOF, its
supervisor is gone (killed, or crashed), and the worker stops rather than run
on as an orphan beside the workers a new supervisor starts under the same
instance names (two processes holding one name take each other's leases).
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable, Mapping

from gateway.logs import get_logger

log = get_logger("gateway.workers")

RUNNING = "running"  # its process is alive
RESTARTING = "restarting"  # it exited; started again after a backoff
DOWN = "down"  # not running for DOWN_AFTER seconds: /healthz fails (web/health.py)
ORPHAN_GRACE = 30.0  # seconds an orphaned worker may take to stop before it exits anyway


def status_line(states: Mapping[str, str]) -> bytes:
    """One message: instance name -> state, as a JSON line."""
    return json.dumps(dict(states), separators=(",", ":")).encode() + b"\n"


class SupervisorLink:
    """A worker's end of the pipe: the states heard last, and the supervisor's going."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self.states: dict[str, str] = {}

    async def run(self, on_gone: Callable[[], None]) -> None:
        """Read lines until EOF, then call `on_gone` (the worker's stop).

        The caller cancels this task once the worker has stopped; a stop that takes
        more than ORPHAN_GRACE seconds ends the process.
        """
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        pipe = os.fdopen(self._fd, "rb", buffering=0)
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), pipe)
        try:
            while line := await reader.readline():
                try:
                    states = json.loads(line)
                except ValueError:
                    log.warning("worker_status_unreadable", length=len(line))
                    continue
                if isinstance(states, dict):
                    self.states = {str(k): str(v) for k, v in states.items()}
        finally:
            transport.close()
        log.warning("supervisor_gone")
        on_gone()
        # No one will send SIGKILL: a stop stuck on a database that is gone too (the
        # supervisor's host going down) must not leave a process behind holding our name.
        await asyncio.sleep(ORPHAN_GRACE)
        log.error("worker_stop_overdue", after_s=ORPHAN_GRACE)
        os._exit(1)
