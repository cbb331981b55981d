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
before the submit_sm went out.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg

from gateway import smstext as text
from gateway.config import Settings
from gateway.logs import get_logger
from gateway.metrics import Metrics
from gateway.phone import smpp_address
from gateway.pipeline.batcher import Batcher
from gateway.smpp.client import EsmeClient
from gateway.smpp.constants import Npi, Ton, status_name
from gateway.smpp.errors import SessionLost, SubmitRejected, SubmitTimeout
from gateway.smpp.pdu import make_submit_sm
from gateway.store import outbound as outbound_store
from gateway.store.outbound import ClaimedMessage

log = get_logger("gateway.outbox")

LEASE_SECONDS = 60.0
REQUEUE_DELAY = 1.0


@dataclass(frozen=True, slots=True)
class SendOutcome:
    outbound_id: int
    message_ids: tuple[str, ...] = ()
    requeue_after: float | None = None
    error: str | None = None
    unsure: bool = False  # requeued, but the SMSC may have taken it: wait for its receipt


class OutboxSender:
    def __init__(
        self, pool: asyncpg.Pool, client: EsmeClient, settings: Settings, metrics: Metrics
    ) -> None:
        self._pool = pool
        self._client = client
        self._settings = settings
        self._metrics = metrics
        self._owner = settings.instance_name
        self._max_inflight = max(1, settings.smpp_window * 2)
        if settings.smpp_tps:
            # never hold a lease on more rows than the throttle lets us send before it expires
            self._max_inflight = max(1, min(self._max_inflight, int(settings.smpp_tps * 10)))
        # Under load, claim in batches rather than one row per freed slot: each claim
        # is a statement on the database (which shares the CPU), and the claimed rows
        # beyond the window keep it full meanwhile. When little is in flight, any
        # free slot claims at once, so a lone reply never waits.
        self._claim_at_least = max(1, self._max_inflight // 4)
        self._inflight: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._slot_free = asyncio.Event()
        self._stopping = False
        self._refs = itertools.cycle(range(256))
        self._results: Batcher[SendOutcome, None] = Batcher(
            self._record, max_batch=500, linger=0.002, name="outbox-results"
        )

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        self._results.start()
        async with self._pool.acquire() as conn:
            released = await outbound_store.release_leases(
                conn, self._owner, lease_seconds=LEASE_SECONDS,
                hold_seconds=self._settings.unsure_send_hold)
        if released:
            log.warning("outbox_leases_released", count=released, owner=self._owner)
        while not self._stopping:
            free = self._max_inflight - len(self._inflight)
            if free <= 0 or (free < self._claim_at_least and self._inflight):
                self._slot_free.clear()
                await self._slot_free.wait()
                continue
            if not self._client.bound:
                await self._client.wait_bound(timeout=1.0)
                continue
            self._wake.clear()
            async with self._pool.acquire() as conn:
                claimed, suppressed = await outbound_store.claim(
                    conn, limit=min(free, 500), owner=self._owner, lease_seconds=LEASE_SECONDS
                )
            if suppressed:
                self._metrics.mt_suppressed.inc(suppressed)
            for message in claimed:
                task = asyncio.create_task(self._send(message))
                self._inflight.add(task)
                task.add_done_callback(self._done)
            if not claimed:
                await self._idle()

    async def stop(self, *, grace: float = 5.0) -> None:
        """Stop claiming, let sends in flight finish (or requeue), flush results."""
        self._stopping = True
        self._wake.set()
        self._slot_free.set()
        if self._inflight:
            await asyncio.wait(set(self._inflight), timeout=grace)
        for task in list(self._inflight):
            task.cancel()
        await self._results.close()

    async def _idle(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=0.25)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        self._slot_free.set()

    async def _send(self, message: ClaimedMessage) -> None:
        outcome = await self._submit_all(message)
        try:
            await self._results.submit(outcome)
        except Exception as err:  # the lease expires and the row is retried
            log.error("outbox_result_not_recorded", outbound_id=message.id, error=str(err))

    async def _submit_all(self, message: ClaimedMessage) -> SendOutcome:
        try:
            split = text.split(message.body, next(self._refs))
        except text.TextTooLong as err:
            return SendOutcome(message.id, error=str(err))
        message_ids: list[str] = []
        try:
            for part in split.parts:
                pdu = make_submit_sm(
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
                resp = await self._client.submit(pdu)
                message_ids.append(str(resp.params.get("message_id", "")))
        except SubmitRejected as err:
            self._metrics.mt_failed.inc()
            if err.temporary:
                return SendOutcome(message.id, requeue_after=REQUEUE_DELAY * 5, error=str(err))
            status = status_name(err.command_status)
            log.warning("mt_rejected", msisdn=message.msisdn, status=status)
            return SendOutcome(message.id, error=str(err))
        except (SessionLost, SubmitTimeout) as err:
            if isinstance(err, SessionLost) and not err.sent and not message_ids:
                return SendOutcome(message.id, requeue_after=REQUEUE_DELAY, error=str(err))
            if message.donation_id is not None:
                log.error("billed_mt_outcome_unknown", outbound_id=message.id,
                          donation_id=message.donation_id, error=type(err).__name__)
                return SendOutcome(message.id, unsure=True,
                                   error=f"billed_unknown: {type(err).__name__}; "
                                         "reconcile, never resend")
            log.warning("mt_outcome_unknown", msisdn=message.msisdn, error=type(err).__name__,
                        parts_confirmed=len(message_ids))
            return SendOutcome(
                message.id, requeue_after=self._settings.unsure_send_hold, unsure=True,
                error=f"unsure: {type(err).__name__}; waiting for a receipt before resending",
            )
        self._metrics.mt_submitted.inc()
        if message.mo_received_at is not None:
            latency = (datetime.now(UTC) - message.mo_received_at).total_seconds()
            self._metrics.mo_to_mt_seconds.observe(latency)
        return SendOutcome(message.id, tuple(message_ids))

    async def _record(self, outcomes: Sequence[SendOutcome]) -> list[None]:
        submitted = [(o.outbound_id, o.message_ids) for o in outcomes if o.message_ids]
        requeued = [
            (o.outbound_id, o.requeue_after, o.error or "", o.unsure)
            for o in outcomes
            if o.requeue_after is not None
        ]
        failed = [
            (o.outbound_id, o.error or "", o.unsure)
            for o in outcomes
            if not o.message_ids and o.requeue_after is None
        ]
        # Each statement is atomic on its own and each row is in exactly one of
        # them, so no transaction (and its two round trips) is needed.
        async with self._pool.acquire() as conn:
            await outbound_store.mark_submitted(conn, submitted)
            await outbound_store.requeue(conn, requeued, lease_seconds=LEASE_SECONDS)
            await outbound_store.mark_failed(conn, failed, lease_seconds=LEASE_SECONDS)
        if requeued:
            self.wake()
        return [None] * len(outcomes)
