"""`gateway run --workers N`: N gateway processes on one database, kept running.

Why processes: one Python process runs on one core at a time, and the
gateway already runs safely as several instances on one database
(docs/multi-instance.md: per-number advisory locks, outbox leases, the TPS
share, owners of background jobs). So a worker is a whole `gateway run` with
its own SMPP bind, pool and instance name (`<GATEWAY_INSTANCE_NAME>-w<n>`),
and this supervisor only starts them, restarts one that dies, forwards
SIGTERM and SIGHUP, and tells them each other's state (status.py).

Why worker 1 alone serves HTTP: the pages and API are a small share of the
load, every worker could serve them only with SO_REUSEPORT, and then a
/healthz answer would come from whichever worker the kernel picked, each
knowing only itself. One web worker answers for all: its /healthz names
every worker and fails while one stays down.

Restarts: a worker that exits while the supervisor is not stopping is started
again after a capped exponential backoff with full jitter (RESTART_MIN to
RESTART_MAX, the SMPP reconnect's policy), which starts over once a worker
has run UP_AFTER seconds. A worker not running for DOWN_AFTER seconds is
`down`: logged at error level, and worker 1's /healthz answers 503. A worker
that refuses its configuration (exit status 2) is not restarted: the
supervisor stops every worker and exits 2, since a restart cannot fix it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

from gateway.cli_errors import EXIT_OK, EXIT_USAGE
from gateway.config import Settings
from gateway.logs import get_logger
from gateway.smpp.throttle import backoff_delay
from gateway.workers.status import DOWN, READY, RESTARTING, RUNNING, STARTING, status_line

log = get_logger("gateway.workers")

RESTART_MIN = 0.5
RESTART_MAX = 30.0
UP_AFTER = 5.0  # seconds a restarted worker runs after it said `ready` before it counts as back
DOWN_AFTER = 10.0  # seconds not running before a worker is `down`
STOP_GRACE = 25.0  # SIGTERM, then SIGKILL after this (compose's stop_grace_period is 30 s)
TICK = 1.0  # how often states are checked and sent to the workers


def worker_name(instance_name: str, index: int) -> str:
    return f"{instance_name}-w{index}"


def worker_command(index: int, *, status_fd: int, config: Path | None) -> list[str]:
    """`gateway run` as worker `index`: no migrations (done once, before), one process."""
    command = [sys.executable, "-m", "gateway.cli", "run", "--no-migrate", "--workers", "1",
               "--worker-status-fd", str(status_fd)]
    if index > 1:
        command.append("--no-web")
    if config is not None:
        command += ["--config", str(config)]
    return command


@dataclass(slots=True)
class Worker:
    index: int
    name: str
    process: asyncio.subprocess.Process | None = None
    link: asyncio.StreamWriter | None = None  # our end of its socket pair
    started_at: float = 0.0
    ready_at: float | None = None  # when it said it had started
    down_since: float | None = None  # when it last exited, until it has run UP_AFTER
    attempt: int = 0  # exits since it last counted as back
    reported_down: bool = False

    def state(self, now: float, down_after: float = DOWN_AFTER) -> str:
        if self.down_since is None:
            return RUNNING if self.ready_at is not None else STARTING
        return DOWN if now - self.down_since >= down_after else RESTARTING


class WorkerPool:
    """The supervisor: `run()` until SIGTERM/SIGINT, then stop every worker; the exit status."""

    def __init__(self, settings: Settings, count: int, *, config: Path | None,
                 down_after: float = DOWN_AFTER) -> None:
        self._config = config
        self._down_after = down_after
        self._env = dict(os.environ)
        self.workers = [Worker(n, worker_name(settings.instance_name, n))
                        for n in range(1, count + 1)]
        self._stop = asyncio.Event()
        self._stopping = False
        self._exit = EXIT_OK
        self._rng = random.Random()
        self._listeners: set[asyncio.Task[None]] = set()

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self._stop.set)
        loop.add_signal_handler(signal.SIGHUP, self._forward_reload)
        log.info("workers_starting", workers=len(self.workers))
        keepers = [asyncio.create_task(self._keep(worker)) for worker in self.workers]
        watcher = asyncio.create_task(self._watch())
        try:
            await self._stop.wait()
        finally:
            self._stopping = True
            watcher.cancel()
            await self._terminate_all()
            for keeper in keepers:
                keeper.cancel()
            await asyncio.gather(watcher, *keepers, return_exceptions=True)
            for worker in self.workers:
                self._close_link(worker)
            for listener in list(self._listeners):
                listener.cancel()
            for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                loop.remove_signal_handler(signum)
        log.info("workers_stopped", status=self._exit)
        return self._exit

    async def _keep(self, worker: Worker) -> None:
        """Start the worker, and again each time it exits, until the supervisor stops."""
        loop = asyncio.get_running_loop()
        while not self._stopping:
            process = await self._start(worker)
            status = await process.wait()
            self._close_link(worker)
            if self._stopping:
                return
            now = loop.time()
            ran = now - worker.started_at
            worker.ready_at = None
            if worker.down_since is None:
                worker.down_since = now
            if status == EXIT_USAGE:
                log.error("worker_refused_configuration", worker=worker.name)
                self._exit = EXIT_USAGE
                self._stop.set()
                return
            worker.attempt += 1
            delay = backoff_delay(worker.attempt - 1, RESTART_MIN, RESTART_MAX, self._rng)
            log.warning("worker_exited", worker=worker.name, pid=process.pid, status=status,
                        ran_s=round(ran, 1), restart_in_s=round(delay, 2))
            self._publish()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), delay)

    async def _start(self, worker: Worker) -> asyncio.subprocess.Process:
        ours, theirs = socket.socketpair()
        try:
            process = await asyncio.create_subprocess_exec(
                *worker_command(worker.index, status_fd=theirs.fileno(), config=self._config),
                env=self._env | {"GATEWAY_INSTANCE_NAME": worker.name},
                pass_fds=(theirs.fileno(),))
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        reader, worker.link = await asyncio.open_connection(sock=ours)
        worker.process, worker.ready_at = process, None
        worker.started_at = asyncio.get_running_loop().time()
        log.info("worker_started", worker=worker.name, pid=process.pid)
        self._publish()
        self._listen(worker, reader)
        return process

    def _listen(self, worker: Worker, reader: asyncio.StreamReader) -> None:
        """Note when the worker says it is ready (a task that ends with its connection)."""

        async def listen() -> None:
            with contextlib.suppress(ConnectionError):
                while line := await reader.readline():
                    if line == READY:
                        worker.ready_at = asyncio.get_running_loop().time()

        task = asyncio.create_task(listen())
        self._listeners.add(task)
        task.add_done_callback(self._listeners.discard)

    async def _watch(self) -> None:
        """Once a TICK: who is back, who is down; every worker hears every state."""
        loop = asyncio.get_running_loop()
        while True:
            now = loop.time()
            for worker in self.workers:
                alive = worker.process is not None and worker.process.returncode is None
                ready_at = worker.ready_at
                if (alive and worker.down_since is not None and ready_at is not None
                        and now - ready_at >= UP_AFTER):
                    if worker.reported_down:
                        log.warning("worker_back", worker=worker.name,
                                    down_s=round(now - worker.down_since, 1))
                    worker.down_since, worker.attempt, worker.reported_down = None, 0, False
                if worker.state(now, self._down_after) == DOWN and not worker.reported_down:
                    worker.reported_down = True
                    log.error("worker_down", worker=worker.name, exits=worker.attempt,
                              down_s=round(now - (worker.down_since or now), 1))
            self._publish()
            await asyncio.sleep(TICK)

    def states(self) -> dict[str, str]:
        """Instance name -> running, restarting or down (what the workers are told)."""
        now = asyncio.get_running_loop().time()
        return {worker.name: worker.state(now, self._down_after) for worker in self.workers}

    def stop(self) -> None:
        """What SIGTERM does: stop every worker, then return from `run()`."""
        self._stop.set()

    def _publish(self) -> None:
        line = status_line(self.states())
        for worker in self.workers:
            if worker.link is not None and not worker.link.is_closing():
                worker.link.write(line)

    def _forward_reload(self) -> None:
        """SIGHUP: worker 1 reloads and announces the reload to every other instance."""
        first = self.workers[0].process
        if first is not None and first.returncode is None:
            first.send_signal(signal.SIGHUP)

    async def _terminate_all(self) -> None:
        live = [w.process for w in self.workers
                if w.process is not None and w.process.returncode is None]
        log.info("workers_stopping", workers=len(live))
        for process in live:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
        waits = [asyncio.ensure_future(process.wait()) for process in live]
        if not waits:
            return
        _, late = await asyncio.wait(waits, timeout=STOP_GRACE)
        for process in live:
            if process.returncode is None:
                log.error("worker_killed", pid=process.pid, after_s=STOP_GRACE)
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
        if late:
            await asyncio.gather(*late, return_exceptions=True)

    @staticmethod
    def _close_link(worker: Worker) -> None:
        if worker.link is not None:
            worker.link.close()
            worker.link = None


def supervise(settings: Settings, count: int, *, config: Path | None) -> int:
    """Run `count` workers until SIGTERM or SIGINT; the exit status for `gateway run`."""
    return asyncio.run(WorkerPool(settings, count, config=config).run())
