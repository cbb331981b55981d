"""Group commit: many callers, one transaction, each caller told after COMMIT.

Why: an fsync per MO caps a durable gateway at a few hundred messages a
second. Callers hand their item to a batcher and wait; one worker takes
everything queued (up to `max_batch`, lingering `linger` seconds for more),
runs the batch function once, then resolves every caller with its own result
or with the batch's exception. Items are processed in submission order by a
single worker, which is what keeps one phone number's texts in order when
all its texts go to the same batcher (see `ingest.Lanes`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

BatchFn = Callable[[Sequence[T]], Awaitable[Sequence[R]]]


class BatcherClosed(RuntimeError):
    """Submitting after `close()`: the process is shutting down; the caller answers 'try later'."""


class Batcher(Generic[T, R]):
    def __init__(self, fn: BatchFn[T, R], *, max_batch: int, linger: float, name: str) -> None:
        self._fn = fn
        self._max_batch = max_batch
        self._linger = linger
        self.name = name
        self._queue: list[tuple[T, asyncio.Future[R]]] = []
        self._wake = asyncio.Event()
        self._closed = False
        self._worker: asyncio.Task[None] | None = None
        self.batches = 0
        self.items = 0

    def start(self) -> None:
        if self._worker is None:
            self._worker = asyncio.create_task(self._run(), name=f"batcher:{self.name}")

    @property
    def pending(self) -> int:
        return len(self._queue)

    def submit(self, item: T) -> asyncio.Future[R]:
        if self._closed:
            raise BatcherClosed(f"{self.name} is shutting down")
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._queue.append((item, future))
        self._wake.set()
        return future

    async def close(self) -> None:
        """Stop taking items, finish everything already taken."""
        self._closed = True
        self._wake.set()
        if self._worker is not None:
            await self._worker

    async def _run(self) -> None:
        while True:
            if not self._queue:
                if self._closed:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            if self._linger and len(self._queue) < self._max_batch and not self._closed:
                await asyncio.sleep(self._linger)
            batch, self._queue = self._queue[: self._max_batch], self._queue[self._max_batch :]
            await self._process(batch)

    async def _process(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        items = [item for item, _ in batch]
        try:
            results = await self._fn(items)
        except Exception as err:  # the batch failed as a whole: every caller learns why
            for _, future in batch:
                if not future.done():
                    future.set_exception(err)
            return
        self.batches += 1
        self.items += len(items)
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)
