"""Broadcast control: schedule, start, pause, resume, cancel, and the gateway's periodic tick.

Why every change is one guarded UPDATE (`WHERE status = ANY(allowed)`):
the CLI, the API and the gateway's tick may act on the same broadcast at
once; the database decides which change wins, and the loser gets an
`IllegalTransition` naming the status it found, never a silent overwrite.

Sending needs no signal: the outbox claim only takes rows of broadcasts
whose status is 'running', so pausing stops new claims at once (rows
already leased finish their send) and resuming lets them go again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

import asyncpg

from gateway.broadcast import results, send_time, service
from gateway.broadcast.newsletters import NewsletterQueue
from gateway.broadcast.policy import QuietHoursPolicy
from gateway.broadcast.quiet_hours import QuietHoursError
from gateway.broadcast.schedule import Scheduler
from gateway.broadcast.service import BroadcastError
from gateway.logs import get_logger
from gateway.plain_words import N_, said
from gateway.store import broadcasts as store
from gateway.store import outbound as outbound_store

log = get_logger("gateway.broadcast.control")

# action -> (statuses it may start from, status it leads to)
TRANSITIONS: Mapping[str, tuple[tuple[str, ...], str]] = {
    "schedule": (("draft", "scheduled"), "scheduled"),
    "start": (("draft", "scheduled"), "running"),
    "pause": (("running",), "paused"),
    "resume": (("paused",), "running"),
    "cancel": (("draft", "scheduled", "running", "paused"), "cancelled"),
}


REDEFER_EVERY = timedelta(seconds=30)


class IllegalTransition(BroadcastError):
    """The broadcast is not in a status this action may start from."""


async def _apply(
    conn: asyncpg.Connection, broadcast_id: int, action: str,
    scheduled_at: datetime | None = None,
) -> str:
    allowed, target = TRANSITIONS[action]
    status = await store.transition(
        conn, broadcast_id, allowed_from=allowed, to=target, scheduled_at=scheduled_at
    )
    if status is not None:
        log.info("broadcast_status", broadcast_id=broadcast_id, action=action, status=status)
        return status
    current = await store.get_status(conn, broadcast_id)
    if current is None:
        raise BroadcastError(said(N_("broadcast %(broadcast_id)s does not exist"),
                                  broadcast_id=broadcast_id))
    raise IllegalTransition(
        f"cannot {action} broadcast {broadcast_id}: it is {current} "
        f"({action} works on {' or '.join(allowed)})"
    )


async def schedule(
    conn: asyncpg.Connection, broadcast_id: int, at: datetime, *, now: datetime,
    zone: str = "UTC",
) -> str:
    """Scheduled for `at`, which must be ahead of `now` (`zone`: the organizer's, for errors)."""
    if at.tzinfo is None:
        raise BroadcastError(N_("the time needs a time zone (an ISO time with +00:00 or Z)"))
    send_time.check_ahead(at, now=now, zone=zone)
    return await _apply(conn, broadcast_id, "schedule", at)


async def start(conn: asyncpg.Connection, broadcast_id: int) -> str:
    """Running now; the gateway materializes it on its next tick."""
    return await _apply(conn, broadcast_id, "start")


async def pause(conn: asyncpg.Connection, broadcast_id: int) -> str:
    return await _apply(conn, broadcast_id, "pause")


async def resume(conn: asyncpg.Connection, broadcast_id: int) -> str:
    return await _apply(conn, broadcast_id, "resume")


async def cancel(conn: asyncpg.Connection, broadcast_id: int) -> int:
    """Cancel and mark its waiting rows 'cancelled'; returns how many rows will never go."""
    async with conn.transaction():
        await _apply(conn, broadcast_id, "cancel")
        return await outbound_store.cancel_broadcast_rows(conn, broadcast_id)


class BroadcastTicker:
    """The gateway's periodic broadcast work: start due ones, materialize, re-defer, finish.

    Each step is idempotent and resumable (materialization continues at its
    cursor), so a tick cut off by a crash is simply done again by the next
    process.
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        policy: QuietHoursPolicy,
        clock: Callable[[], datetime],
        variables: Callable[[store.Broadcast], Mapping[str, str]] | None = None,
        program_country: str | None = "US",
        batch_size: int = service.DEFAULT_BATCH,
        newsletters: NewsletterQueue | None = None,
        link_base: str | None = None,
    ) -> None:
        self.pool = pool
        self.batch_size = batch_size
        self.policy = policy
        self.clock = clock
        self._variables = variables or _default_variables
        self.program_country = program_country
        self._next_redefer: datetime | None = None
        self.newsletters = newsletters  # the e-mail channel; None: newsletters wait
        self.link_base = link_base  # tracked short links' prefix; None: texts as written

    async def tick(self) -> int:
        """One pass; returns how many broadcasts it touched (for tests and logs)."""
        touched = 0
        async with self.pool.acquire() as conn:
            touched += len(await store.start_due(conn, self.clock()))
            for broadcast_id in await store.due_decisions(conn, self.clock()):
                touched += await self._decide(conn, broadcast_id)
            for broadcast_id in await store.not_materialized(conn):
                touched += await self._materialize(conn, broadcast_id)
            if self.newsletters is not None:
                touched += await self.newsletters.tick(conn, self.clock())
            now = self.clock()
            if self._next_redefer is None or now >= self._next_redefer:
                # a scan of the waiting rows: not every second (the claim never sends
                # an expired row, so waiting a little longer only delays the re-timing)
                self._next_redefer = now + REDEFER_EVERY
                touched += await self.redefer_expired(conn)
            async with conn.transaction():  # done and its webhook event: together
                finished = await store.finish_done(conn, now)
                await results.emit_completed(conn, finished, at=now)
            async with conn.transaction():  # final results and their mark: together
                finals = await results.emit_final(conn, now)
            for broadcast_id in finished:
                log.info("broadcast_done", broadcast_id=broadcast_id)
            touched += len(finished) + len(finals)
        return touched

    async def _materialize(self, conn: asyncpg.Connection, broadcast_id: int) -> int:
        broadcast = await store.get_broadcast(conn, broadcast_id)
        if broadcast is None:
            return 0
        try:
            await service.materialize(
                conn, broadcast_id, policy=self.policy, variables=self._variables(broadcast),
                clock=self.clock, program_country=self.program_country,
                batch_size=self.batch_size, link_base=self.link_base,
            )
        except (BroadcastError, ValueError) as err:  # bad filter, text or zone: log, go on
            log.error("broadcast_materialize_failed", broadcast_id=broadcast_id, error=str(err))
            touched = 0
        else:
            touched = 1
        if await store.get_status(conn, broadcast_id) == "cancelled":
            # a batch that committed after `cancel` made rows nobody will send: cancel them too
            await outbound_store.cancel_broadcast_rows(conn, broadcast_id)
        return touched

    async def _decide(self, conn: asyncpg.Connection, broadcast_id: int) -> int:
        """An A/B test whose wait is over: the winner by its metric goes to the rest."""
        try:
            await service.decide(conn, broadcast_id)
        except BroadcastError as err:  # an organizer chose meanwhile: nothing to do
            log.info("broadcast_ab_decision_skipped", broadcast_id=broadcast_id, why=str(err))
            return 0
        return 1

    async def redefer_expired(self, conn: asyncpg.Connection) -> int:
        """Rows whose quiet-hours window closed unsent move to their next allowed window.

        The claim never sends such a row (`not_after > now()`), so without
        this they would wait forever; with it they go at the next decent hour.
        """
        now = self.clock()
        moved = 0
        for broadcast_id, keys in (await store.expired_zone_keys(conn, now)).items():
            scheduler = Scheduler(self.policy, program_country=self.program_country, start=now)
            try:
                scheduler.add(keys, now)
                timing = scheduler.timing(now)
            except QuietHoursError as err:
                log.error("broadcast_redefer_failed", broadcast_id=broadcast_id, error=str(err))
                continue
            moved += await outbound_store.redefer_broadcast_rows(conn, broadcast_id, timing, now)
        if moved:
            log.info("broadcast_rows_redeferred", count=moved)
        return moved


def _default_variables(broadcast: store.Broadcast) -> Mapping[str, str]:
    return service.variables_of(broadcast.program, broadcast.shortcode)
