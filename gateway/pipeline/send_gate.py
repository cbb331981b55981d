"""The last opt-out check before a submit_sm leaves, under the number's lock.

Why: the claim checks opt-outs when it takes rows, but a claimed broadcast
can wait seconds for a window slot or the TPS pacer, and a STOP committed
meanwhile must still stop it. Checking again just before the send is not
enough on its own: a STOP could commit between that check and the write.
So the check runs under the number's advisory lock (store/number_locks.py),
which every MO transaction takes exclusively: the gate takes it shared,
reads the opt-out after taking it, and lets go only once the submit_sm has
been handed to the SMPP connection (`Hold.done`). A STOP either committed
before the read (the MT is suppressed) or commits after the submit_sm has
gone; its deliver_sm_resp only follows its COMMIT.

One dedicated connection holds the locks (session locks, released on that
connection, or with it if it breaks). The gate never waits for a lock: a
number whose MO is being decided right now comes back as `busy` and is
tried again a moment later, so a gate and MO transactions cannot deadlock.
Rounds are batched: every MT the window can take now goes through one
round, one statement (release what was written, try the locks, then read
the opt-outs: store/number_locks.py `gate_check`).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from gateway.logs import get_logger
from gateway.store import number_locks
from gateway.store.number_locks import number_key
from gateway.store.outbound import ClaimedMessage

log = get_logger("gateway.send_gate")

RELEASE_LINGER = 0.005  # seconds a written MT's lock waits to ride along with the next round


class GateClosed(RuntimeError):
    """`check` after `close`: the outbox stopped sending."""


class Hold:
    """A number's shared lock, held for the MTs of one round until each has been written."""

    def __init__(self, gate: SendGate, key: int, generation: int) -> None:
        self._gate = gate
        self._key = key
        self._generation = generation
        self._pending = 0

    def add(self) -> Release:
        self._pending += 1
        return Release(self)

    def _one_done(self) -> None:
        self._pending -= 1
        if self._pending == 0:
            self._gate.release(self._key, self._generation)


@dataclass(slots=True)
class Release:
    """One MT's share of a `Hold`: `done()` once its submit_sm is written (or never will be)."""

    hold: Hold | None

    def done(self, *_: Any) -> None:
        if self.hold is not None:
            hold, self.hold = self.hold, None
            hold._one_done()


NO_HOLD = Release(None)


@dataclass(slots=True)
class GateResult:
    allowed: list[tuple[ClaimedMessage, Release]] = field(default_factory=list)
    suppressed: list[ClaimedMessage] = field(default_factory=list)
    busy: list[ClaimedMessage] = field(default_factory=list)


class SendGate:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._conn: Any = None  # a pool connection, held while the gate is in use
        self._generation = 0
        self._lock = asyncio.Lock()
        self._to_release: Counter[int] = Counter()
        self._releasing: asyncio.Task[None] | None = None
        self._closed = False

    async def check(self, messages: Sequence[ClaimedMessage]) -> GateResult:
        """Which MTs may leave now (each with its `Release`), which are opted out, which wait."""
        result = GateResult()
        gated = [m for m in messages if not m.compliance]
        result.allowed.extend((m, NO_HOLD) for m in messages if m.compliance)
        if not gated:
            return result
        async with self._lock:
            if self._closed:  # a connection taken now would never go back to the pool
                raise GateClosed("the send gate is closed")
            conn = await self._connection()
            keys, self._to_release = self._to_release, Counter()
            try:
                numbers, stopped = await number_locks.gate_check(
                    conn, keys, sorted({(m.msisdn, m.shortcode) for m in gated}))
            except BaseException:
                await self._drop(conn)
                raise
            locked = {number_key(n) for n in numbers}
            holds = {key: Hold(self, key, self._generation) for key in locked}
        for message in gated:
            key = number_key(message.msisdn)
            if key not in locked:
                result.busy.append(message)
            elif (message.msisdn, message.shortcode) in stopped:
                result.suppressed.append(message)
            else:
                result.allowed.append((message, holds[key].add()))
        for key, hold in holds.items():  # numbers with nothing to send: let go at once
            if hold._pending == 0:
                self.release(key, hold._generation)
        return result

    def release(self, key: int, generation: int) -> None:
        """Let go of a key soon (after this loop turn, so the written bytes leave first)."""
        if generation != self._generation:
            return  # that connection is gone, and its locks with it
        self._to_release[key] += 1
        if self._releasing is None or self._releasing.done():
            self._releasing = asyncio.ensure_future(self._release_soon())

    async def close(self) -> None:
        """Let go of the connection (and its locks); the gate checks nothing after this."""
        self._closed = True
        if self._releasing is not None:
            await asyncio.gather(self._releasing, return_exceptions=True)
        async with self._lock:
            if self._conn is not None:
                await self._drop(self._conn)

    async def _release_soon(self) -> None:
        # The coalesced submit_sm writes of this turn go out first (the sleep ends a
        # turn later at least). Under load the next round, due within milliseconds,
        # carries the release in its own statement; this one only runs when none came.
        await asyncio.sleep(RELEASE_LINGER)
        async with self._lock:
            if not self._to_release or self._conn is None:
                return
            conn = self._conn
            try:
                await self._flush_releases(conn)
            except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as err:
                log.warning("send_gate_release_failed", error=type(err).__name__)
                await self._drop(conn)

    async def _flush_releases(self, conn: Any) -> None:
        keys, self._to_release = self._to_release, Counter()
        await number_locks.release_numbers(conn, keys)

    async def _connection(self) -> Any:
        if self._conn is None:
            self._conn = await self._pool.acquire()
        return self._conn

    async def _drop(self, conn: Any) -> None:
        """Give the connection back; its session locks go with it (closed, not reused)."""
        self._generation += 1
        self._to_release = Counter()
        self._conn = None
        try:  # the pool does not reset sessions (store/db.py): let go of every lock first
            await number_locks.release_all(conn)
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
            conn.terminate()  # a closed session holds no locks
        await self._pool.release(conn)
