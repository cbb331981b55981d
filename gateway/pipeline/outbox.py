"""The outbox sender: claimed rows out as submit_sm, results back in batches.

One claim loop keeps the SMPP window full: it claims as many rows as there
are free send slots (never more than a lease can cover at the configured
TPS), sends each row's segments in order, and hands the outcome to a
`Batcher` that records submitted ids, requeues and failures in one
transaction per batch. A row whose send was cut off after its
submit_sm went out (SMSC gone, timeout) may have been taken by the SMSC: it
goes back to the queue unsure, held for `unsure_send_hold` seconds, and is
sent again only if no receipt proves it taken meanwhile (pipeline/unsure.py).
Rows the SMSC refused for good are failed.

A billed MT (a carrier donation) is the exception: if its send was cut off,
the SMSC may have accepted it and billed the supporter, and a second submit
could bill them again. It is failed as `billed_unknown` and left to finance
to reconcile; a carrier charge is never doubled. Only what proves nothing was accepted
requeues it: an explicit temporary refusal (throttling), or a link lost
before the submit_sm went out. These rules are one table, gateway/resend_rules.py,
which the lease release (store/outbound.py) applies too.

Opt-outs are checked twice: by the claim, and again right before the
submit_sm is written, under the number's lock (pipeline/send_gate.py), so a
STOP acknowledged to the SMSC is never followed by an MT claimed before it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import math
import random
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

from gateway import smstext as text
from gateway.config import Settings
from gateway.logs import get_logger
from gateway.metrics import Metrics
from gateway.phone import smpp_address
from gateway.pipeline.batcher import Batcher, BatcherClosed
from gateway.pipeline.send_gate import NO_HOLD, Release, SendGate
from gateway.resend_rules import Action, Ending, may_have_reached_smsc, rule_for
from gateway.smpp.client import EsmeClient
from gateway.smpp.constants import Npi, Ton, status_name
from gateway.smpp.errors import SessionLost, SubmitRejected, SubmitTimeout
from gateway.smpp.pdu import Pdu, make_submit_sm
from gateway.smpp.throttle import backoff_delay
from gateway.store import outbound as outbound_store
from gateway.store.outbound import ClaimedMessage

log = get_logger("gateway.outbox")

LEASE_SECONDS = 60.0
PACED_AHEAD = 0.1  # seconds of capped traffic handed to the pacer ahead of a reply
REQUEUE_DELAY = 1.0
# With nothing claimed, the claim loop waits for a wake (this process queued rows) or
# polls for rows queued elsewhere: after IDLE_POLL, doubling while claims find nothing,
# up to IDLE_POLL_MAX. A claim that finds nothing still costs PostgreSQL a few ms (it is
# planned for its arguments), and most replies no longer need a claim (reply_handoff.py).
IDLE_POLL = 0.25
IDLE_POLL_MAX = 1.0
BUSY_RETRY = 0.01  # seconds before retrying MTs whose number's MO is being decided
RECORD_BACKOFF_MAX = 5.0
STOP_RECORD_ATTEMPTS = 3  # while stopping, give up recording after this many tries
RECORD_RETRY: tuple[type[BaseException], ...] = (
    OSError, TimeoutError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError, asyncpg.AdminShutdownError,
    asyncpg.exceptions.InternalClientError)


@dataclass(frozen=True, slots=True)
class SendOutcome:
    outbound_id: int
    message_ids: tuple[str, ...] = ()
    requeue_after: float | None = None
    error: str | None = None
    unsure: bool = False  # requeued, but the SMSC may have taken it: wait for its receipt
    suppressed: bool = False  # opted out before its submit_sm left: never sent


def ended(outbound_id: int, ending: Ending, *, billed: bool, cause: str, hold: float,
          retry_after: float = 0.0) -> SendOutcome:
    """A send that ended short of the SMSC's acceptance, by the resend rules.

    `retry_after` for a retry (nothing was accepted), `hold` for a resend (it
    may have been: wait for a receipt first); `cause` goes into the error.
    """
    rule = rule_for(ending, billed=billed)
    after = {Action.RETRY: retry_after, Action.RESEND: hold}.get(rule.action)
    return SendOutcome(outbound_id, requeue_after=after, error=rule.message(cause),
                       unsure=may_have_reached_smsc(ending))


@dataclass(frozen=True, slots=True)
class RecordPlan:
    """A batch of outcomes as the four writes that record them (each row in one)."""

    submitted: list[tuple[int, tuple[str, ...]]]
    requeued: list[tuple[int, float, str, bool]]
    failed: list[tuple[int, str, bool]]
    suppressed: list[int]


def plan_record(outcomes: Sequence[SendOutcome]) -> RecordPlan:
    return RecordPlan(
        submitted=[(o.outbound_id, o.message_ids) for o in outcomes if o.message_ids],
        requeued=[(o.outbound_id, o.requeue_after, o.error or "", o.unsure)
                  for o in outcomes if o.requeue_after is not None],
        failed=[(o.outbound_id, o.error or "", o.unsure) for o in outcomes
                if not o.message_ids and o.requeue_after is None and not o.suppressed],
        suppressed=[o.outbound_id for o in outcomes if o.suppressed],
    )


async def write_record(conn: asyncpg.Connection, plan: RecordPlan) -> None:
    """Each statement is atomic on its own and each row is in exactly one of them, so
    no transaction (and its two round trips) is needed."""
    await outbound_store.mark_submitted(conn, plan.submitted)
    await outbound_store.requeue(conn, plan.requeued, lease_seconds=LEASE_SECONDS)
    await outbound_store.mark_failed(conn, plan.failed, lease_seconds=LEASE_SECONDS)
    await outbound_store.mark_suppressed(conn, plan.suppressed)


class OutboxSender:
    def __init__(
        self, pool: asyncpg.Pool, client: EsmeClient, settings: Settings, metrics: Metrics
    ) -> None:
        self._pool = pool
        self._client = client
        self._settings = settings
        self._metrics = metrics
        self._owner = settings.instance_name
        # Claimed rows beyond the window wait in `_ready`: enough of them that the
        # window never runs dry while the next claim is on its way (a claim takes
        # a few ms on a busy database; the window drains 100 MTs in 20 ms).
        self._max_inflight = max(1, settings.smpp_window * 4)
        if settings.smpp_tps:
            # never hold a lease on more rows than the throttle lets us send before it expires
            self._max_inflight = max(1, min(self._max_inflight, int(settings.smpp_tps * 10)))
        # Under load, claim in batches rather than one row per freed slot: each claim
        # is a statement on the database (which shares the CPU), and the claimed rows
        # beyond the window keep it full meanwhile. When little is in flight, any
        # free slot claims at once, so a lone reply never waits.
        self._claim_at_least = max(1, self._max_inflight // 4)
        # Sends under way: a task per multi-part MT, the client's future per
        # single-part one (`EsmeClient.submit_soon`: no task, timeout or wake-up of
        # ours per MT). Claimed MTs wait in `_ready` while the SMPP window is full.
        self._inflight: set[asyncio.Future[Any]] = set()
        self._ready: deque[ClaimedMessage] = deque()
        # A send frees its slot once the SMSC has answered, not once the answer is
        # recorded: holding it through the result batch's linger and commit left
        # half the SMPP window empty under load. The row stays 'sending' under its
        # lease until recorded, so nothing can claim it twice; this bound only
        # keeps the backlog of answers waiting for the database finite.
        self._unrecorded = 0
        self._max_unrecorded = self._max_inflight * 4
        self._wake = asyncio.Event()
        self._slot_free = asyncio.Event()
        self._stopping = False
        self._closed = False  # stop() is past its grace: nothing more goes to the gate
        # Clear while a claim is on its way to the database: its rows still join
        # `_ready` (and so the gate) when it returns, so `stop` waits for it.
        self._not_claiming = asyncio.Event()
        self._not_claiming.set()
        self._started = False  # leases of an earlier process released
        # Rows claimed by this process and not yet recorded: 'sending' under our
        # lease. `_claim_broken`: a claim failed midway, so the database may hold
        # leases of ours that are not in `_held` (see `run`).
        self._held: set[int] = set()
        self._claim_broken = False
        self._refs = itertools.cycle(range(256))
        self._rng = random.Random()
        self._results: Batcher[SendOutcome, None] = Batcher(
            self._record, max_batch=500, linger=0.002, name="outbox-results"
        )
        self._gate = SendGate(pool)
        self._gating: asyncio.Future[None] | None = None  # the gate round under way
        # Replies handed over by the MO lanes as they are written (pipeline/reply_handoff.py).
        # `_reserved`: room promised to lane transactions not yet ended; `_no_reserved`
        # is set while there are none. `_behind`: a reply of ours that could have been
        # handed went to the queue (no room), so later ones queue too until a claim that
        # began after it (at `_behind_at`) finds the queue drained: a number's replies
        # leave in the order they were decided. `_lost_leases`: a lane's transaction
        # ended unknown with rows it may have written claimed: release what we hold
        # but do not know, as after a lost claim.
        self._lease = outbound_store.Lease(self._owner, LEASE_SECONDS)
        self._reserved = 0
        self._no_reserved = asyncio.Event()
        self._no_reserved.set()
        self._behind = False
        self._behind_at = 0.0
        self._lost_leases = False
        self._releasing = False  # a release of unknown leases is due: no reservations
        self._idle_poll = IDLE_POLL  # the claim loop's next poll when nothing is due

    @property
    def lease(self) -> outbound_store.Lease:
        """The lease handed replies are written under: this process's, as a claim's."""
        return self._lease

    def reserve(self, wanted: int) -> int:
        """Room for `wanted` replies a lane is about to write claimed (reply_handoff.py).

        None before the start-up release of an earlier process's leases (it would
        release these too), while stopping or releasing lost leases, and while a
        reply of ours waits in the queue; otherwise as much as a claim could take.
        """
        if (wanted <= 0 or not self._started or self._stopping or self._behind
                or self._lost_leases or self._releasing):
            return 0
        room = self._max_inflight - len(self._inflight) - len(self._ready) - self._reserved
        granted = max(0, min(wanted, room))
        if granted:
            self._reserved += granted
            self._no_reserved.clear()
        return granted

    def settle(self, reserved: int, wanted: int, messages: Sequence[ClaimedMessage], *,
               committed: bool, lost: bool = False) -> None:
        """A lane transaction that reserved room ended (reply_handoff.py `ReplyTaker`)."""
        self._reserved -= reserved
        if not self._reserved:
            self._no_reserved.set()
        if reserved:
            self._slot_free.set()  # room the claim loop may count again
        if (committed and wanted > reserved) or lost:
            self._behind = True
            self._behind_at = asyncio.get_running_loop().time()
        if lost:
            self._lost_leases = True
            self.wake()
        if not messages:
            return
        if self._closed:  # stopped meanwhile: back to the queue, never handed to the SMSC
            for message in messages:
                self._record_outcome(message.id, ended(
                    message.id, Ending.NOT_SENT, billed=False,
                    cause="not sent: the gateway stopped", hold=self._settings.unsure_send_hold))
            return
        self._held.update(message.id for message in messages)
        self._queue(list(messages))
        self._pump()

    def wake(self) -> None:
        """New rows are due (a reply was queued): claim now, even in the middle of a batch."""
        self._wake.set()
        self._slot_free.set()

    async def run(self) -> None:
        """The claim loop; a database error ends it, and the supervisor starts it again.

        Restartable (gateway/tasks.py): rows already claimed stay in `_ready`
        and in flight across a restart. The first run releases what an
        earlier process left leased; a later one releases only rows leased
        to us that this process does not know: a claim whose commit reached
        the database but whose answer was lost with the connection, or replies
        an MO lane wrote claimed in a transaction whose end it did not learn.
        Those were never handed to the SMSC, so they go back to the queue as
        they were.
        """
        self._results.start()
        async with self._pool.acquire() as conn:
            if not self._started:
                released = await outbound_store.release_leases(
                    conn, self._owner, lease_seconds=LEASE_SECONDS,
                    hold_seconds=self._settings.unsure_send_hold)
                if released:
                    log.warning("outbox_leases_released", count=released, owner=self._owner)
                self._started = True
        while not self._stopping:
            if self._claim_broken or self._lost_leases:
                await self._release_lost()
                continue
            free = (self._max_inflight - len(self._inflight) - len(self._ready)
                    - self._reserved)
            # a woken claim (a reply is due) does not wait for a batch's worth of slots
            batching = not self._wake.is_set() and free < self._claim_at_least
            if (free <= 0 or (batching and self._inflight)
                    or self._unrecorded >= self._max_unrecorded):
                self._slot_free.clear()
                await self._slot_free.wait()
                continue
            if not self._client.bound:
                await self._client.wait_bound(timeout=1.0)
                continue
            self._wake.clear()
            self._claim_broken = True  # until we know what the claim took
            self._not_claiming.clear()
            began = asyncio.get_running_loop().time()
            limit = min(free, 500)
            try:
                async with self._pool.acquire() as conn:
                    claimed, suppressed = await outbound_store.claim(
                        conn, limit=limit, owner=self._owner, lease_seconds=LEASE_SECONDS)
                self._held.update(message.id for message in claimed)
                self._claim_broken = False
                if suppressed:
                    self._metrics.mt_suppressed.inc(suppressed)
                if self._behind and began > self._behind_at and len(claimed) + suppressed < limit:
                    self._behind = False  # every reply queued before it is claimed now
                self._queue(claimed)
                self._pump()
            finally:
                self._not_claiming.set()
            if claimed:
                self._idle_poll = IDLE_POLL
            else:
                await self._idle()

    async def _release_lost(self) -> None:
        """Release rows leased to us that this process does not know (a claim or a lane's
        transaction whose answer was lost), once no lane holds a reservation: rows a lane
        wrote claimed are ours but not known until it hands them over."""
        self._releasing = True  # no new reservation until it is done
        if self._reserved:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0):
                    await self._no_reserved.wait()
            return
        lost_leases = self._lost_leases
        async with self._pool.acquire() as conn:
            lost = await outbound_store.release_unknown_claims(
                conn, self._owner, known=sorted(self._held))
        if lost:
            log.warning("outbox_lost_claims_released", count=lost, owner=self._owner)
        self._claim_broken = False
        self._releasing = False
        if lost_leases:
            self._lost_leases = False
            self._behind_at = asyncio.get_running_loop().time()  # released rows are queued

    async def stop(self, *, grace: float = 5.0) -> None:
        """Stop claiming, let sends in flight finish (or requeue), flush results."""
        self._stopping = True
        self._wake.set()
        self._slot_free.set()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        # A claim already sent to the database (say, for the reply to an MO just
        # acknowledged) hands its rows to `_ready` and the gate when it returns:
        # wait for it, so they are sent or released below. Had it returned after
        # the gate closed, the gate would have taken a pool connection that
        # nothing gives back, and the pool's close would wait for it forever.
        # Bounded by the same grace: a stalled database must not stall the stop.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout_at(deadline):
                await self._not_claiming.wait()
                await self._no_reserved.wait()  # replies a lane is writing claimed
        while self._inflight and loop.time() < deadline:  # MTs in _ready follow as slots free
            await asyncio.wait(set(self._inflight), timeout=deadline - loop.time(),
                               return_when=asyncio.FIRST_COMPLETED)
        # From here nothing new goes to the gate; a claim that outlived the grace
        # leaves its rows leased, released by the next start or when the lease ends.
        self._closed = True
        # Claimed but never handed to the SMSC (not even billed ones could have
        # been accepted): back to the queue now rather than at the next start.
        while self._ready:
            message = self._ready.popleft()
            self._record_outcome(message.id, ended(
                message.id, Ending.NOT_SENT, billed=message.donation_id is not None,
                cause="not sent: the gateway stopped", hold=self._settings.unsure_send_hold))
        for task in list(self._inflight):
            task.cancel()
        await self._results.close()
        with contextlib.suppress(asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
            await self._gate.close()

    async def _idle(self) -> None:
        try:
            await asyncio.wait_for(self._wake.wait(), timeout=self._idle_poll)
        except TimeoutError:
            self._idle_poll = min(self._idle_poll * 2, IDLE_POLL_MAX)
        else:
            self._idle_poll = IDLE_POLL

    def _done(self, task: asyncio.Future[Any]) -> None:
        self._inflight.discard(task)
        self._slot_free.set()
        self._pump()

    def _queue(self, claimed: list[ClaimedMessage]) -> None:
        """Claimed MTs join `_ready`; replies (lower priority value) go before a broadcast."""
        if claimed and self._ready and claimed[0].priority < self._ready[-1].priority:
            # claims come sorted by priority; a stable sort keeps each priority's order
            self._ready = deque(sorted([*self._ready, *claimed], key=lambda m: m.priority))
        else:
            self._ready.extend(claimed)

    def _pump(self) -> None:
        """Start claimed MTs while the SMPP window has room, through the send gate.

        Under a TPS cap, only `PACED_AHEAD` seconds of traffic go to the client
        (where they wait, in order, for the pacer); the rest wait in `_ready`,
        where a reply claimed later is sorted ahead of them. One gate round at
        a time: MTs that become ready meanwhile go together in the next one.
        """
        if self._closed or self._gating is not None or not self._ready:
            return
        tps = self._client.tps
        ahead = max(2, math.ceil(tps * PACED_AHEAD)) if tps else self._max_inflight
        room = min(self._client.window_free, ahead - len(self._inflight), len(self._ready))
        if room <= 0:
            return
        batch = [self._ready.popleft() for _ in range(room)]
        self._gating = asyncio.ensure_future(self._gate_and_start(batch))
        self._inflight.add(self._gating)
        self._gating.add_done_callback(self._gated)

    async def _gate_and_start(self, batch: list[ClaimedMessage]) -> None:
        """The last opt-out check, then the submits (pipeline/send_gate.py)."""
        try:
            result = await self._gate.check(batch)
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as err:
            log.warning("send_gate_failed", error=type(err).__name__, waiting=len(batch))
            self._ready.extendleft(reversed(batch))
            await asyncio.sleep(REQUEUE_DELAY)
            return
        for message in result.suppressed:
            self._metrics.mt_suppressed.inc()
            self._record_outcome(message.id, SendOutcome(
                message.id, error="opted out before the send", suppressed=True))
        self._ready.extendleft(reversed(result.busy))
        for message, release in result.allowed:
            self._start(message, release)
        if result.busy and not result.allowed:
            await asyncio.sleep(BUSY_RETRY)  # those numbers' MOs are being decided right now

    def _gated(self, task: asyncio.Future[None]) -> None:
        self._inflight.discard(task)
        self._gating = None
        if not task.cancelled() and task.exception() is not None:
            log.error("send_gate_crashed", error=str(task.exception()))
        self._slot_free.set()
        self._pump()

    def _start(self, message: ClaimedMessage, release: Release) -> None:
        """Hand one gated MT to the client; its number's lock goes once it is written."""
        pdu = self._single_part(message)
        if pdu is None:
            task: asyncio.Future[Any] = asyncio.create_task(self._send(message, release=release))
            task.add_done_callback(self._done)
        else:
            task = self._client.submit_soon(pdu, on_written=release.done,
                                            resend_throttled=False)  # see _submit_all
            task.add_done_callback(release.done)  # refused or lost before writing: let go
            task.add_done_callback(functools.partial(self._sent, message))
        self._inflight.add(task)

    def _single_part(self, message: ClaimedMessage) -> Pdu | None:
        """The submit_sm of a one-part MT; None for the rest (sent by `_send`)."""
        try:
            split = text.split(message.body, 0)
        except text.TextTooLong:
            return None
        if len(split.parts) != 1:
            return None
        return self._submit_sm(message, split, split.parts[0])

    def _submit_sm(self, message: ClaimedMessage, split: text.SplitResult, part: bytes) -> Pdu:
        return make_submit_sm(
            source_addr=message.shortcode,
            destination_addr=smpp_address(message.msisdn),
            source_addr_ton=Ton.NETWORK_SPECIFIC if message.shortcode.isdigit() else 0,
            dest_addr_ton=Ton.INTERNATIONAL,
            dest_addr_npi=Npi.ISDN,
            short_message=part,
            data_coding=split.data_coding,
            esm_class=split.esm_class,
            registered_delivery=1,
            service_type=message.service_type,
            tlvs=dict(message.tlvs) if part is split.parts[0] else None,  # bill once
        )

    def _sent(self, message: ClaimedMessage, sent: asyncio.Future[Pdu]) -> None:
        """A one-part MT's submit is over: record it; `_send` maps any failure."""
        self._inflight.discard(sent)
        self._slot_free.set()
        if sent.cancelled():  # stopping: the lease is released on the next start
            self._pump()
            return
        if sent.exception() is not None:
            task = asyncio.create_task(self._send(message, first=sent))
            task.add_done_callback(self._done)
            self._inflight.add(task)
        else:
            message_id = str(sent.result().params.get("message_id", ""))
            self._record_outcome(message.id, self._submitted(message, (message_id,)))
        self._pump()

    async def _send(self, message: ClaimedMessage, first: asyncio.Future[Pdu] | None = None,
                    *, release: Release = NO_HOLD) -> None:
        try:
            outcome = await self._submit_all(message, first, release)
        finally:
            release.done()
        self._record_outcome(message.id, outcome)

    def _record_outcome(self, outbound_id: int, outcome: SendOutcome) -> None:
        try:
            recorded = self._results.submit(outcome)
        except BatcherClosed as err:  # the lease expires and the row is retried
            log.error("outbox_result_not_recorded", outbound_id=outbound_id, error=str(err))
            return
        self._unrecorded += 1
        recorded.add_done_callback(functools.partial(self._recorded, outbound_id))

    def _recorded(self, outbound_id: int, recorded: asyncio.Future[None]) -> None:
        self._unrecorded -= 1
        self._slot_free.set()
        if not recorded.cancelled() and recorded.exception() is None:
            self._held.discard(outbound_id)
        elif not recorded.cancelled():
            # the lease expires and the row is retried
            log.error("outbox_result_not_recorded", outbound_id=outbound_id,
                      error=str(recorded.exception()))

    async def _submit_all(self, message: ClaimedMessage,
                          first: asyncio.Future[Pdu] | None = None,
                          release: Release = NO_HOLD) -> SendOutcome:
        """Send every part in order; `first`: the first part's submit, already started.

        The number's lock (`release`) is held until the last part is written.
        A throttled first part is not resent by the client after a back-off: it
        comes back to the outbox (REFUSED_FOR_NOW), so the claim and the send
        gate check the opt-out again before it leaves; a STOP committed during
        the back-off stops it. Later parts are resent by the client: the
        message has begun to leave, and half a text is worse than its end.
        """
        try:
            split = text.split(message.body, next(self._refs))
        except text.TextTooLong as err:
            return self._ended(message, Ending.REFUSED, str(err))
        message_ids: list[str] = []
        try:
            for part in split.parts:
                if first is not None:
                    sent, first = first, None
                    resp = await sent
                else:
                    last = part is split.parts[-1]
                    resp = await self._client.submit(
                        self._submit_sm(message, split, part),
                        on_written=release.done if last else None,
                        resend_throttled=part is not split.parts[0])
                message_ids.append(str(resp.params.get("message_id", "")))
        except SubmitRejected as err:
            self._metrics.mt_failed.inc()
            if err.temporary:
                return self._ended(message, Ending.REFUSED_FOR_NOW, str(err),
                                   retry_after=REQUEUE_DELAY * 5)
            status = status_name(err.command_status)
            log.warning("mt_rejected", msisdn=message.msisdn, status=status)
            return self._ended(message, Ending.REFUSED, str(err))
        except (SessionLost, SubmitTimeout) as err:
            if isinstance(err, SessionLost) and not err.sent and not message_ids:
                return self._ended(message, Ending.NOT_SENT, str(err), retry_after=REQUEUE_DELAY)
            if message.donation_id is not None:
                log.error("billed_mt_outcome_unknown", outbound_id=message.id,
                          donation_id=message.donation_id, error=type(err).__name__)
            else:
                log.warning("mt_outcome_unknown", msisdn=message.msisdn,
                            error=type(err).__name__, parts_confirmed=len(message_ids))
            return self._ended(message, Ending.CUT_OFF, type(err).__name__)
        return self._submitted(message, tuple(message_ids))

    def _ended(self, message: ClaimedMessage, ending: Ending, cause: str, *,
               retry_after: float = 0.0) -> SendOutcome:
        return ended(message.id, ending, billed=message.donation_id is not None, cause=cause,
                     hold=self._settings.unsure_send_hold, retry_after=retry_after)

    def _submitted(self, message: ClaimedMessage, message_ids: tuple[str, ...]) -> SendOutcome:
        """Every part taken by the SMSC: count it, and time it when it answers an MO."""
        self._metrics.mt_submitted.inc()
        if message.mo_received_at is not None:
            latency = (datetime.now(UTC) - message.mo_received_at).total_seconds()
            self._metrics.mo_to_mt_seconds.observe(latency)
        return SendOutcome(message.id, message_ids)

    async def _record(self, outcomes: Sequence[SendOutcome]) -> list[None]:
        plan = plan_record(outcomes)
        # The outcomes are known only here: a database that is down or
        # restarting is waited for (the sends behind them wait too, see
        # `_max_unrecorded`) rather than losing them and leaving their rows
        # 'sending' under our lease.
        attempt = 0
        while True:
            try:
                async with self._pool.acquire() as conn:
                    await write_record(conn, plan)
                break
            except RECORD_RETRY as err:
                if self._stopping and attempt >= STOP_RECORD_ATTEMPTS:
                    raise  # the next start releases the leases
                delay = backoff_delay(attempt, 0.1, RECORD_BACKOFF_MAX, self._rng)
                attempt += 1
                log.warning("outbox_results_not_recorded_yet", rows=len(outcomes),
                            error=type(err).__name__, attempt=attempt, retry_in=round(delay, 3))
                await asyncio.sleep(delay)
        if plan.requeued:
            self.wake()
        return [None] * len(outcomes)
