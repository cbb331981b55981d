"""The submit window: how many submit_sm may await their resp at once.

A window of our own rather than asyncio's semaphore because the client's fast
path (`EsmeClient.submit_soon`) takes a slot without awaiting, sharing the
count with `submit`, and freed slots must go to waiters in arrival order.
"""

from __future__ import annotations

import asyncio
from collections import deque


class SubmitWindow:
    """At most `size` submits awaiting their resp; waiters get freed slots in arrival order.

    A semaphore of our own rather than asyncio's because `submit_soon` needs a
    slot without awaiting (`try_acquire`), sharing the count with `submit`.
    """

    def __init__(self, size: int) -> None:
        self._free = size
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def free(self) -> int:
        """Slots a new submit would get at once (none while others wait)."""
        while self._waiters and self._waiters[0].done():
            self._waiters.popleft()  # cancelled waiters
        return 0 if self._waiters else self._free

    def try_acquire(self) -> bool:
        if self.free > 0:
            self._free -= 1
            return True
        return False

    async def acquire(self) -> None:
        if self.try_acquire():
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release()  # handed a slot, then cancelled before using it
            raise

    def release(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the slot passes straight to the next waiter
                return
        self._free += 1
