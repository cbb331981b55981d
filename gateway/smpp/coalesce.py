"""Many PDUs, one write: bytes queued during one event-loop turn go out together.

Why: under load a batch commit releases hundreds of deliver_sm_resp at once,
and each `transport.write` on an idle socket is a system call (on loopback,
the kernel also runs the receiver's side in it). Joining everything written
in the same loop iteration into one call cuts those calls by the batch
size, on both ends, without delaying anything past the current iteration.
Order is kept: every write of a connection goes through the same buffer.
"""

from __future__ import annotations

import asyncio


class CoalescingWriter:
    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self._writer = writer
        self._chunks: list[bytes] = []
        self._scheduled = False

    def write(self, data: bytes) -> None:
        if not data:
            return
        self._chunks.append(data)
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self.flush)

    def flush(self) -> None:
        self._scheduled = False
        if not self._chunks:
            return
        data = b"".join(self._chunks) if len(self._chunks) > 1 else self._chunks[0]
        self._chunks = []
        if not self._writer.is_closing():
            self._writer.write(data)

    async def drain(self) -> None:
        """Back-pressure only: queued bytes still leave at the end of this loop turn.

        Flushing here would defeat the coalescing, because every task that
        answers a PDU also drains.
        """
        await self._writer.drain()

    def is_closing(self) -> bool:
        return self._writer.is_closing()
