"""The gateway's background tasks, kept alive through database and network faults.

Why a supervisor: a bare `asyncio` task that raises simply ends, its
exception kept until someone awaits it, which nobody does while the gateway
runs. The reply sender died that way on a PostgreSQL restart: no log, no
failing health check, MOs stored but never answered.

The rule, one for every task:
- A database or network error (`TRANSIENT`) is logged, one line per failure,
  and the task is started again after a capped exponential backoff with full
  jitter (`backoff_delay`, the same policy as the SMPP reconnects). It is
  retried for as long as it takes: a database that is down for an hour is an
  outage, not a reason to stop trying.
- Anything else is a bug the code cannot recover from by itself: the task is
  `dead`, logged with its traceback, `/healthz` names it (503), and
  `app.serve` stops the gateway and raises `BackgroundTaskDied`, so
  `gateway run` exits non-zero and the process supervisor (systemd, Docker,
  Kubernetes) starts a fresh one.
- A task that returns while the gateway is not stopping is dead too: every
  task here is meant to run until `stop()`.

The attempt count (and so the delay) starts over once a periodic job
succeeds, or once a long-running task has run `RESET_AFTER` seconds.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import asyncpg

from gateway.logs import get_logger
from gateway.smpp.throttle import backoff_delay

log = get_logger("gateway.tasks")

# What a task survives: the driver's and the network's errors. PostgresError
# includes a closed connection (ConnectionDoesNotExistError), a server that is
# starting or shutting down (CannotConnectNowError, AdminShutdownError) and a
# serialization failure; InterfaceError a pool that lost its connection;
# OSError a refused or reset socket; TimeoutError a pool or connect timeout;
# InternalClientError ("cannot switch to state ...") a connection the server
# closed while it was idle, found out by the next query.
TRANSIENT: tuple[type[BaseException], ...] = (
    OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError,
    asyncpg.exceptions.InternalClientError)
BACKOFF_MIN = 0.1
BACKOFF_MAX = 5.0  # a database back after a restart is used again within seconds
RESET_AFTER = 30.0

RUNNING = "running"
RETRYING = "retrying"
DEAD = "dead"
STOPPED = "stopped"


class BackgroundTaskDied(RuntimeError):
    """A background task hit an error it cannot survive; the gateway must be restarted."""

    def __init__(self, name: str, error: str) -> None:
        super().__init__(f"background task {name!r} died: {error}")
        self.name = name
        self.error = error


@dataclass(slots=True)
class TaskState:
    name: str
    state: str = RUNNING
    attempt: int = 0  # consecutive failures
    failures: int = 0  # in total
    last_error: str | None = None
    task: asyncio.Task[None] | None = None


class Supervisor:
    """Runs named background tasks under the rule above; `status()` feeds /healthz."""

    def __init__(self, *, backoff_min: float = BACKOFF_MIN, backoff_max: float = BACKOFF_MAX,
                 reset_after: float = RESET_AFTER, rng: random.Random | None = None) -> None:
        self._min = backoff_min
        self._max = backoff_max
        self._reset_after = reset_after
        self._rng = rng or random.Random()
        self._tasks: dict[str, TaskState] = {}
        self._stopping = False
        self.died = asyncio.Event()  # set when the first task dies

    def run(self, name: str, factory: Callable[[], Awaitable[object]]) -> None:
        """Run `factory()` until stop(); start it again after a transient error."""
        if name in self._tasks:
            raise ValueError(f"a background task named {name!r} already runs")
        state = TaskState(name)
        self._tasks[name] = state
        state.task = asyncio.create_task(self._keep(state, factory), name=name)

    def every(self, name: str, seconds: float, job: Callable[[], Awaitable[object]]) -> None:
        """Run `job()` every `seconds` (first after one interval); a success resets the backoff."""

        async def periodic() -> None:
            while True:
                await asyncio.sleep(seconds)
                await job()
                self._tasks[name].attempt = 0

        self.run(name, periodic)

    def status(self) -> dict[str, str]:
        return {name: state.state for name, state in self._tasks.items()}

    def dead(self) -> list[TaskState]:
        return [state for state in self._tasks.values() if state.state == DEAD]

    def raise_if_dead(self) -> None:
        for state in self.dead():
            raise BackgroundTaskDied(state.name, state.last_error or "unknown error")

    async def stop(self) -> None:
        """Cancel every task and wait for them; nothing is restarted from here on."""
        self._stopping = True
        tasks = [s.task for s in self._tasks.values() if s.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for state in self._tasks.values():
            if state.state != DEAD:
                state.state = STOPPED

    def stopping(self) -> None:
        """The gateway is stopping: a task that returns now ends normally."""
        self._stopping = True

    async def _keep(self, state: TaskState, factory: Callable[[], Awaitable[object]]) -> None:
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            state.state = RUNNING
            try:
                await factory()
            except asyncio.CancelledError:
                state.state = STOPPED
                raise
            except TRANSIENT as err:
                if self._stopping:
                    state.state = STOPPED
                    return
                if loop.time() - started >= self._reset_after:
                    state.attempt = 0
                delay = backoff_delay(state.attempt, self._min, self._max, self._rng)
                state.attempt += 1
                state.failures += 1
                state.last_error = f"{type(err).__name__}: {err}"
                state.state = RETRYING
                log.warning("task_failed", task=state.name, error=type(err).__name__,
                            detail=str(err), attempt=state.attempt, retry_in=round(delay, 3))
                await asyncio.sleep(delay)
                continue
            except Exception as err:
                self._die(state, f"{type(err).__name__}: {err}", exc_info=True)
                return
            if self._stopping:
                state.state = STOPPED
            else:
                self._die(state, "it returned while the gateway was running", exc_info=False)
            return

    def _die(self, state: TaskState, error: str, *, exc_info: bool) -> None:
        state.state = DEAD
        state.failures += 1
        state.last_error = error
        log.error("task_died", task=state.name, error=error, exc_info=exc_info)
        self.died.set()
