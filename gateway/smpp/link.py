"""One SMPP connection on the ESME side: its session, writer and waiting requests.

Kept apart from the client's policies (reconnect, window, pacing): a Link
only matches responses to the requests that await them, and on loss fails
every waiter with SessionLost so no caller hangs.

It also tells when the SMSC has *read* a deliver_sm_resp, not only when we
wrote it: bytes handed to the kernel can still die with the connection (a
peer that closes with unread data, a kill -9). The SMSC reads a connection
in order, so its answer to any request we wrote after the resp proves it
read the resp. `when_read` callbacks fire on that proof, or never.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from gateway.smpp.coalesce import CoalescingWriter
from gateway.smpp.constants import RESPONSE_BIT
from gateway.smpp.errors import SessionLost
from gateway.smpp.pdu import Pdu
from gateway.smpp.session import SmppSession


@dataclass(frozen=True, slots=True)
class DeliverAnswer:
    """An on_deliver outcome: the deliver_sm_resp status, and whom to tell once it was read."""

    status: int
    on_read: Callable[[], None]


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
        self.proof_scheduled = False  # the client's read-proof timer is set
        self.written = 0  # PDUs written, in order: the positions below count these
        self._request_at: dict[int, int] = {}  # our request's sequence -> its position
        self._unread: deque[tuple[int, Callable[[], None]]] = deque()

    def send(self, pdu: Pdu) -> None:
        self.out.write(self.session.send(pdu, now=self.clock()))
        self.written += 1
        if not pdu.command_id & RESPONSE_BIT:
            self._request_at[pdu.sequence] = self.written

    def when_read(self, callback: Callable[[], None]) -> None:
        """Call `callback` once the SMSC shows it read the PDU written last."""
        self._unread.append((self.written, callback))

    @property
    def needs_proof(self) -> bool:
        """Written PDUs wait for proof and no request in flight was written after them."""
        if not self._unread:
            return False
        return max(self._request_at.values(), default=0) <= self._unread[-1][0]

    def _proven(self, position: int) -> None:
        """The SMSC answered the request written at `position`: it read all before it."""
        while self._unread and self._unread[0][0] < position:
            self._unread.popleft()[1]()

    def request(self, pdu: Pdu) -> asyncio.Future[Pdu]:
        self.send(pdu)
        future: asyncio.Future[Pdu] = asyncio.get_running_loop().create_future()
        self.futures[pdu.sequence] = future
        return future

    def resolve(self, pdu: Pdu) -> None:
        if pdu.command_id & RESPONSE_BIT:
            position = self._request_at.pop(pdu.sequence, None)
            if position is not None:
                self._proven(position)
        future = self.futures.pop(pdu.sequence, None)
        if future is not None and not future.done():
            future.set_result(pdu)

    def abandon(self, sequence: int) -> None:
        self.futures.pop(sequence, None)
        self._request_at.pop(sequence, None)
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
        self._request_at.clear()
        self._unread.clear()  # never proven read: the SMSC will deliver those MOs again
        for future in futures.values():
            if not future.done():
                future.set_exception(SessionLost(f"SMPP connection lost ({reason})"))
                future.exception()  # a bind/unbind nobody awaits any more must not warn
        self.out.flush()
        self.writer.close()
        return len(futures)
