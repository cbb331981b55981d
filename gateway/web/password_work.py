"""argon2 off the event loop: a few threads, a short queue, and 429 for the rest.

Why: one argon2id verification is tens of milliseconds of CPU on purpose. On
the event loop that also runs SMPP, intake and the outbox, a burst of failed
logins stalled every supporter's reply and made /healthz fail. argon2-cffi
releases the GIL while it hashes, so a `ThreadPoolExecutor` lets the loop go
on serving. The pool is small (hashing is CPU-bound; more threads than cores
only queue in the kernel instead of here) and admission is bounded: when
`workers + queue` hashes are already admitted, `admit()` raises `Busy` at
once, so a flood of logins costs a 429 each, not a growing backlog.

Admission is counted on the event loop (no lock needed); the `running` and
`verifications` counters are the pool's own account of the work it did (for
tests and for an operator reading /metrics-like numbers in a debugger).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import partial
from typing import TypeVar

from aiohttp import web

from gateway.web.credentials import hash_password, verify_password

T = TypeVar("T")


class Busy(Exception):
    """Every hashing slot is taken: answer 429 now rather than wait."""


class PasswordWork:
    def __init__(self, *, workers: int, queue: int) -> None:
        self.capacity = workers + queue
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="argon2")
        self._admitted = 0
        self._lock = threading.Lock()
        self.running = 0  # hashes being computed right now (in the threads)
        self.verifications = 0  # password checks done since start
        self.refused = 0  # admissions refused with Busy

    @property
    def admitted(self) -> int:
        return self._admitted

    @contextmanager
    def admit(self) -> Iterator[None]:
        """A slot for the hashing of one request; raises Busy when none is free."""
        if self._admitted >= self.capacity:
            self.refused += 1
            raise Busy
        self._admitted += 1
        try:
            yield
        finally:
            self._admitted -= 1

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """`credentials.verify_password` in a thread (the caller holds a slot)."""
        ok = await self._run(partial(verify_password, password_hash, password))
        with self._lock:
            self.verifications += 1
        return ok

    async def hash(self, password: str) -> str:
        """`credentials.hash_password` in a thread (the caller holds a slot);
        WeakPassword as there."""
        return await self._run(partial(hash_password, password))

    async def _run(self, work: Callable[[], T]) -> T:
        def counted() -> T:
            with self._lock:
                self.running += 1
            try:
                return work()
            finally:
                with self._lock:
                    self.running -= 1

        return await asyncio.get_running_loop().run_in_executor(self._executor, counted)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


PASSWORD_WORK = web.AppKey("password_work", PasswordWork)


def install(app: web.Application, *, workers: int, queue: int) -> PasswordWork:
    """One pool per web app, shut down with it."""
    work = PasswordWork(workers=workers, queue=queue)
    app[PASSWORD_WORK] = work

    async def close(_: web.Application) -> None:
        work.close()

    app.on_cleanup.append(close)
    return work


def password_work(request: web.Request) -> PasswordWork:
    return request.app[PASSWORD_WORK]
