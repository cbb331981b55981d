"""The webhook delivery task: fans events out, claims due deliveries, POSTs them signed.

Runs under the gateway's supervisor as `webhooks` (gateway/tasks.py): a
database restart ends a round with an error, the supervisor starts the task
again, and its first act is to release the leases it held, so nothing
claimed is lost. The guarantees, as far as HTTP allows (docs/webhooks.md):
- Nothing emitted is lost: events are rows committed with their change;
  a delivery is claimed with a lease committed before the POST starts.
- No delivery is held by two workers at once (rows locked and skipped, a
  lease owner and expiry, every write fenced by the attempt).
- At least once: a worker that dies between the receiver's 2xx and its
  record leaves the row to be sent again when the lease runs out. The
  event id (`Webhook-Id`) is the same on every attempt and every replay, so
  a receiver drops repeats.

Retries: a timeout, a refused connection or any non-2xx answer waits
`backoff_delay` (exponential, full jitter, from the injected clock) between
GATEWAY_WEBHOOKS_RETRY_MIN and _MAX seconds, up to _MAX_ATTEMPTS; a
subscription whose failures run GATEWAY_WEBHOOKS_DISABLE_AFTER_FAILURES long
for GATEWAY_WEBHOOKS_DISABLE_AFTER_HOURS is disabled and admins are told
(gateway/hooks/notice.py), in the transaction that records the failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from dataclasses import dataclass
from datetime import datetime
from itertools import groupby

import aiohttp
import asyncpg

from gateway import __version__
from gateway.clock import Clock, utc_now
from gateway.config import Settings
from gateway.hooks import guard, signature
from gateway.hooks.notice import DisabledNotice, notify_disabled
from gateway.logs import get_logger
from gateway.notify.staff_mail import StaffMail
from gateway.smpp.throttle import backoff_delay
from gateway.store import webhook_deliveries, webhook_events, webhook_subscriptions
from gateway.store.webhook_deliveries import Attempt, ClaimedDelivery

log = get_logger("gateway.hooks.sender")

FAN_OUT_BATCH = 500
USER_AGENT = f"sms-gateway-webhooks/{__version__}"


@dataclass(frozen=True, slots=True)
class DeliveryConfig:
    owner: str  # the instance name: whose leases these are
    batch_size: int = 50
    max_attempts: int = 15
    timeout: float = 10.0
    retry_min: float = 30.0
    retry_max: float = 21600.0
    disable_after_failures: int = 10
    disable_after_seconds: float = 86400.0
    poll_seconds: float = 1.0
    purge_after_days: int = 30
    allow_private_networks: bool = False  # hooks/guard.py: off, only public addresses

    @property
    def lease_seconds(self) -> float:
        """A POST and its answer, with room to record them."""
        return 2 * self.timeout + 30.0


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one POST came to: a status code (None: no answer) and what was said."""

    ok: bool
    status_code: int | None
    response: str | None
    error: str | None
    latency_ms: int | None = None  # from the POST's start to its answer's first bytes


class WebhookSender:
    """Runs under the supervisor as `webhooks`; `deliver_due()` is one round (tests call it)."""

    def __init__(self, pool: asyncpg.Pool, config: DeliveryConfig, *,
                 notice: DisabledNotice | None = None, clock: Clock = utc_now,
                 rng: random.Random | None = None) -> None:
        self._pool = pool
        self._config = config
        self._notice = notice
        self._clock = clock
        self._rng = rng or random.Random()
        self._wake = asyncio.Event()
        self._stopping = False
        self._between_rounds = asyncio.Event()
        self._between_rounds.set()
        self._released_at: float | None = None
        self._purged_at: float | None = None
        self._session: aiohttp.ClientSession | None = None

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        """Release what this worker held before (a restart), then deliver until stopped."""
        try:
            await self.release_own()
            while not self._stopping:
                handled = await self.deliver_due()
                if handled == 0 and not self._stopping:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), self._config.poll_seconds)
                    self._wake.clear()
        finally:
            await self.close()

    async def stop(self, *, grace: float = 5.0) -> None:
        self._stopping = True
        self._wake.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._between_rounds.wait(), grace)

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def release_own(self) -> int:
        async with self._pool.acquire() as conn:
            released = await webhook_deliveries.release_leases(
                conn, self._config.owner, now=self._clock(),
                max_attempts=self._config.max_attempts)
        if released:
            log.warning("webhook_leases_released", owner=self._config.owner, at_start=True,
                        rows=released)
        return released

    async def deliver_due(self) -> int:
        """Fan out new events, then claim and POST one batch; how many rows it handled."""
        self._between_rounds.clear()
        try:
            await self._housekeeping()
            fanned = await self.fan_out()
            now = self._clock()
            async with self._pool.acquire() as conn:
                batch = await webhook_deliveries.claim(
                    conn, now=now, limit=self._config.batch_size, owner=self._config.owner,
                    lease_seconds=self._config.lease_seconds)
            if batch:
                outcomes = await asyncio.gather(*(self._post(d) for d in batch))
                await self._record(list(zip(batch, outcomes, strict=True)))
            return fanned + len(batch)
        finally:
            self._between_rounds.set()

    async def fan_out(self) -> int:
        """Each waiting event becomes one delivery per subscription that wants it."""
        async with self._pool.acquire() as conn, conn.transaction():
            events = await webhook_events.take_unfanned(conn, limit=FAN_OUT_BATCH)
            made = await webhook_deliveries.fan_out(conn, events)
        return len(events) + made

    async def _record(self, results: list[tuple[ClaimedDelivery, Outcome]]) -> None:
        """The batch's outcomes in one transaction (one commit, not one per POST).

        Subscriptions are written in id order, so two workers recording at
        once never wait on each other in a cycle. A subscription with one
        success in the batch has a working receiver: its failure run ends,
        and the batch's failures for it do not count towards turning it off.
        """
        now = self._clock()
        results.sort(key=lambda r: (r[0].subscription_id, r[0].id))
        async with self._pool.acquire() as conn, conn.transaction():
            for subscription_id, group in groupby(results, key=lambda r: r[0].subscription_id):
                rows = list(group)
                working = any(outcome.ok for _, outcome in rows)
                for delivery, outcome in rows:
                    failed = await self._record_one(conn, delivery, outcome, now)
                    if failed is not None and not working:
                        await self._count_failure(conn, delivery, failed, now)
                if working:
                    await webhook_subscriptions.record_success(conn, subscription_id, now=now)

    async def _record_one(self, conn: asyncpg.Connection, delivery: ClaimedDelivery,
                          outcome: Outcome, now: datetime) -> str | None:
        """Record one POST's outcome; the error when it failed (None: delivered or not ours)."""
        if outcome.ok:
            assert outcome.status_code is not None
            await webhook_deliveries.mark_delivered(
                conn, delivery.id, now=now, status_code=outcome.status_code,
                response=outcome.response or "", latency_ms=outcome.latency_ms)
            log.info("webhook_delivered", delivery_id=delivery.id, event_id=delivery.event_id,
                     attempt=delivery.attempts, status=outcome.status_code)
            return None
        attempt = Attempt.of(delivery, self._config.owner)
        error = outcome.error or f"the receiver answered {outcome.status_code}"
        retry_in: float | None = None
        if delivery.attempts >= self._config.max_attempts:
            recorded = await webhook_deliveries.mark_failed(
                conn, attempt, status_code=outcome.status_code, response=outcome.response,
                error=f"{error} (no attempt left)", latency_ms=outcome.latency_ms)
        else:
            retry_in = backoff_delay(delivery.attempts - 1, self._config.retry_min,
                                     self._config.retry_max, self._rng)
            recorded = await webhook_deliveries.requeue(
                conn, attempt, now=now, delay=retry_in, status_code=outcome.status_code,
                response=outcome.response, error=error, latency_ms=outcome.latency_ms)
        if not recorded:  # the lease was taken over: the new holder records
            log.warning("webhook_lease_lost", delivery_id=delivery.id, attempt=delivery.attempts)
            return None
        log.warning("webhook_failed", delivery_id=delivery.id, event_id=delivery.event_id,
                    attempt=delivery.attempts, status=outcome.status_code, error=error[:200],
                    retry_in=None if retry_in is None else round(retry_in))
        return error

    async def _count_failure(self, conn: asyncpg.Connection, delivery: ClaimedDelivery,
                             error: str, now: datetime) -> None:
        """One more failure in the subscription's run; at the thresholds, off and told."""
        run = await webhook_subscriptions.record_failure(
            conn, delivery.subscription_id, now=now,
            disable_after_failures=self._config.disable_after_failures,
            disable_after_seconds=self._config.disable_after_seconds,
            reason=f"{webhook_subscriptions.DISABLED_BY_GATEWAY}{error}"[:500])
        if run is not None and run.just_disabled:
            await notify_disabled(conn, self._notice, subscription_id=delivery.subscription_id,
                                  url=delivery.url, failures=run.failures, since=run.since,
                                  error=error, now=now)

    async def _post(self, delivery: ClaimedDelivery) -> Outcome:
        body = event_body(delivery.event_id, delivery.event_type, delivery.occurred_at,
                          delivery.payload)
        timestamp = int(self._clock().timestamp())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            signature.EVENT_ID_HEADER: event_id_text(delivery.event_id),
            signature.EVENT_TYPE_HEADER: delivery.event_type,
            signature.TIMESTAMP_HEADER: str(timestamp),
            signature.SIGNATURE_HEADER: signature.signature_header(
                delivery.secret, timestamp, body,
                *([delivery.previous_secret] if delivery.previous_secret else [])),
            "Webhook-Attempt": str(delivery.attempts),
        }
        started = time.monotonic()
        try:
            async with self._client().post(delivery.url, data=body, headers=headers,
                                           allow_redirects=False) as response:
                text = (await response.content.read(webhook_deliveries.RESPONSE_CHARS * 4)
                        ).decode("utf-8", "replace")
                return Outcome(ok=200 <= response.status < 300, status_code=response.status,
                               response=text, error=None,
                               latency_ms=round((time.monotonic() - started) * 1000))
        except TimeoutError:
            return Outcome(False, None, None, f"no answer within {self._config.timeout:g} s")
        except aiohttp.ClientConnectorError as err:
            if isinstance(err.os_error, guard.ForbiddenAddress):  # the guard's reason, alone
                return Outcome(False, None, None, str(err.os_error.strerror)[:300])
            detail = " ".join(str(err).split()) or type(err).__name__
            return Outcome(False, None, None, f"{type(err).__name__}: {detail}"[:300])
        except (aiohttp.ClientError, OSError, ValueError) as err:
            # a receiver (or a URL) that misbehaves fails its delivery, never the task
            detail = " ".join(str(err).split()) or type(err).__name__
            return Outcome(False, None, None, f"{type(err).__name__}: {detail}"[:300])

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self._config.timeout),
                connector=guard.connector(
                    limit=self._config.batch_size,
                    allow_private=self._config.allow_private_networks))
        return self._session

    async def _housekeeping(self) -> None:
        now = self._clock().timestamp()
        lease = self._config.lease_seconds
        if self._released_at is None or now - self._released_at >= lease / 4:
            self._released_at = now
            async with self._pool.acquire() as conn:
                released = await webhook_deliveries.release_leases(
                    conn, self._config.owner, now=self._clock(),
                    max_attempts=self._config.max_attempts, others_expired_only=True)
            if released:
                log.warning("webhook_leases_released", owner=self._config.owner,
                            at_start=False, rows=released)
        if self._purged_at is None or now - self._purged_at >= 3600:
            self._purged_at = now
            cutoff = datetime.fromtimestamp(now - self._config.purge_after_days * 86400,
                                            tz=self._clock().tzinfo)
            async with self._pool.acquire() as conn:
                await webhook_events.purge_older_than(conn, cutoff)


def event_id_text(event_id: int) -> str:
    return f"evt_{event_id}"


def event_body(event_id: int, event_type: str, occurred_at: datetime, payload: str) -> bytes:
    """The JSON body: the event's id, type and time, and its data as emitted."""
    return json.dumps({
        "id": event_id_text(event_id), "type": event_type,
        "occurred_at": occurred_at.isoformat(), "data": json.loads(payload),
    }, separators=(",", ":"), ensure_ascii=False).encode()


def webhook_sender(settings: Settings, pool: asyncpg.Pool, *, staff_mail: StaffMail,
                   clock: Clock = utc_now) -> WebhookSender:
    """The gateway's delivery task, from GATEWAY_WEBHOOKS_* (always on: it idles cheaply)."""
    config = DeliveryConfig(
        owner=settings.instance_name, batch_size=settings.webhooks_batch_size,
        max_attempts=settings.webhooks_max_attempts, timeout=settings.webhooks_timeout,
        retry_min=settings.webhooks_retry_min, retry_max=settings.webhooks_retry_max,
        disable_after_failures=settings.webhooks_disable_after_failures,
        disable_after_seconds=settings.webhooks_disable_after_hours * 3600.0,
        purge_after_days=settings.webhooks_retention_days,
        allow_private_networks=settings.webhooks_allow_private_networks)
    notice = DisabledNotice(staff_mail, language=settings.webhooks_notice_language)
    return WebhookSender(pool, config, notice=notice, clock=clock)
