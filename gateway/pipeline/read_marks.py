"""Forget the unread-acknowledgement records of MOs whose deliver_sm_resp the SMSC read.

Why a background writer: the SMPP client learns an acknowledgement was read
one MO at a time, thousands a second; a statement (and a commit) each would
cost more than storing the MO did. Ids are gathered and deleted together
every `linger` seconds, in a transaction that does not wait for its fsync:
a mark lost in a crash only leaves a record that the window prunes, whose
one effect is that an identical text within the window is taken for a
redelivery (see docs/redelivery.md). Records older than the window, whose
acknowledgement was never seen read, are pruned here too.

Until its delete has committed (and a little after, for a lookup that read
the table before that commit), `was_read` answers for a record from memory:
a supporter's next identical text, sent the moment our reply arrived, is
then not taken for a redelivery of the first.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta

import asyncpg

from gateway.logs import get_logger
from gateway.store import inbound as inbound_store

log = get_logger("gateway.ingest")

PRUNE_SECONDS = 60.0
RETRY_SECONDS = 1.0
MAX_HELD = 1_000_000  # ids kept for retry while the database is away; past that, dropped
RECENT_SECONDS = 5.0  # forgotten ids still answered from memory (a lookup's snapshot is older)


class ReadMarks:
    def __init__(
        self, pool: asyncpg.Pool, *, window: timedelta, clock: Callable[[], datetime],
        linger: float = 0.05,
    ) -> None:
        self._pool = pool
        self._window = window
        self._clock = clock
        self._linger = linger
        self._waiting: set[int] = set()  # read, delete not yet sent
        self._flushing: set[int] = set()
        self._recent: deque[tuple[float, set[int]]] = deque()
        self._wake = asyncio.Event()
        self._closed = False
        self._task: asyncio.Task[None] | None = None
        self.forgotten = 0  # records deleted because their acknowledgement was read

    def read(self, unacked_id: int) -> None:
        """The SMSC read the acknowledgement of the MO behind `unacked_id`."""
        self._waiting.add(unacked_id)
        self._wake.set()

    def was_read(self, unacked_id: int) -> bool:
        """Read, by this process's knowledge, though maybe not yet deleted from the table."""
        if unacked_id in self._flushing or unacked_id in self._waiting:
            return True
        return any(unacked_id in ids for _, ids in self._recent)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="read-marks")

    async def close(self) -> None:
        """Write what is gathered, then stop."""
        self._closed = True
        self._wake.set()
        if self._task is not None:
            await self._task

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        pruned_at = loop.time()
        while not self._closed:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(PRUNE_SECONDS):
                    await self._wake.wait()
            self._wake.clear()
            if self._waiting and not self._closed:
                await asyncio.sleep(self._linger)
            try:
                if not await self._flush():
                    await asyncio.sleep(RETRY_SECONDS)
                if loop.time() - pruned_at >= PRUNE_SECONDS:
                    pruned_at = loop.time()
                    await self.prune()
            except Exception:  # a bug must not stop the forgetting: identical texts would
                log.error("mo_read_marks_crashed", exc_info=True)  # all look redelivered
                await asyncio.sleep(RETRY_SECONDS)
        await self._flush()

    async def _flush(self) -> bool:
        if not self._waiting:
            return True
        self._flushing, self._waiting = self._waiting, set()
        ids = list(self._flushing)
        try:
            async with self._pool.acquire() as conn:
                await inbound_store.forget_unacked(conn, ids)
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as err:
            self._waiting |= self._flushing
            self._flushing = set()
            if len(self._waiting) > MAX_HELD:  # the window prunes what is dropped here
                self._waiting = set(sorted(self._waiting)[-MAX_HELD:])
            log.warning("mo_read_marks_not_written", ids=len(ids), kept=len(self._waiting),
                        error=type(err).__name__)
            return False
        now = asyncio.get_running_loop().time()
        self._recent.append((now, self._flushing))
        self._flushing = set()
        while self._recent and now - self._recent[0][0] > RECENT_SECONDS:
            self._recent.popleft()
        self.forgotten += len(ids)
        return True

    async def prune(self) -> None:
        """Delete the records older than the window: their MOs can no longer match."""
        try:
            async with self._pool.acquire() as conn:
                gone = await inbound_store.prune_unacked(conn, self._clock() - self._window)
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as err:
            log.warning("mo_unacked_prune_failed", error=type(err).__name__)
            return
        if gone:
            log.info("mo_unacked_pruned", rows=gone)
