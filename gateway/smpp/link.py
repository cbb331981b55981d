"""One SMPP connection on the ESME side: its session, writer and waiting requests.

Kept apart from the client's policies (reconnect, window, pacing): a Link
only matches responses to the requests that await them, and on loss fails
every waiter with SessionLost so no caller hangs.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from gateway.smpp.coalesce import CoalescingWriter
from gateway.smpp.errors import SessionLost
from gateway.smpp.pdu import Pdu
from gateway.smpp.session import SmppSession


class Link:
    """One TCP connection and its session (two of these in split bind mode)."""

    def __init__(
        self, mode: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
        clock: Callable[[], float],
    ) -> None:
        self.mode = mode
        self.reader = reader
        self.writer = writer
        self.out = CoalescingWriter(writer)
        self.session = SmppSession("esme")
        self.clock = clock
        self.futures: dict[int, asyncio.Future[Pdu]] = {}
        self.last_received = clock()
        self.paused = False  # not reading: at the on_deliver limit (back-pressure)
        self.was_bound = False
        self.ended_because = "no answer to bind"

    def send(self, pdu: Pdu) -> None:
        self.out.write(self.session.send(pdu, now=self.clock()))

    def request(self, pdu: Pdu) -> asyncio.Future[Pdu]:
        self.send(pdu)
        future: asyncio.Future[Pdu] = asyncio.get_running_loop().create_future()
        self.futures[pdu.sequence] = future
        return future

    def resolve(self, pdu: Pdu) -> None:
        future = self.futures.pop(pdu.sequence, None)
        if future is not None and not future.done():
            future.set_result(pdu)

    def abandon(self, sequence: int) -> None:
        self.futures.pop(sequence, None)
        self.session.forget(sequence)

    def flush_replies(self) -> None:
        data = self.session.data_to_send()
        if data:
            self.out.write(data)

    async def drain(self) -> None:
        with contextlib.suppress(OSError):  # the reader notices the loss and tears down
            await self.out.drain()

    def tear_down(self, reason: str) -> int:
        """Fail every waiter with SessionLost; returns how many were waiting."""
        self.session.connection_lost()
        futures, self.futures = self.futures, {}
        for future in futures.values():
            if not future.done():
                future.set_exception(SessionLost(f"SMPP connection lost ({reason})"))
                future.exception()  # a bind/unbind nobody awaits any more must not warn
        self.out.flush()
        self.writer.close()
        return len(futures)
