"""The e-mail sender: claims due outbox rows in small batches and submits them over SMTP.

The guarantees, as far as SMTP allows (docs/email.md, "E-mail out"):
- Nothing queued is lost: a row is claimed with a lease (committed before
  any SMTP starts), and a row left 'sending' by a sender that stopped is
  released, at its next start or by any sender once the lease has expired.
- No row is sent by two live senders: the claim skips locked rows, and just
  before DATA the sender records, fenced by its lease, that DATA starts
  (`mark_data`); a sender whose lease was taken over never starts DATA.
- A row is sent twice only when its sender died, or lost the connection,
  after DATA started and before the server's answer was recorded: the server
  may have it, and it is sent again with the same Message-ID (at-least-once;
  `unsure_sends` counts it). At most one row per SMTP connection is in that
  state at any moment. Why resend rather than park it for a person: e-mail
  has no delivery receipt to settle the doubt (the SMS outbox waits for one),
  a person could not tell better than the sender, and a lost answer costs a
  citizen more than a second copy that many mailbox providers fold into one.

Retries: a 4xx waits `backoff_delay` (exponential, full jitter) between
GATEWAY_MAIL_OUT_RETRY_MIN and _MAX seconds, counted against
GATEWAY_MAIL_OUT_MAX_ATTEMPTS; a 5xx fails the row at once. A submission
server that cannot be reached (or refuses the login) counts against no mail:
the batch is given back and waits the connection's own backoff.

Time is the injected clock (gateway/clock.py) for backoff, leases, the
per-domain pacing and the Date header; the store uses the later of it and
the database's clock, so a test moves time forward without sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

import aiosmtplib
import asyncpg

from gateway.clock import Clock, utc_now
from gateway.logs import get_logger, mask_email
from gateway.mail.compose import compose, message_bytes
from gateway.mail.pacing import DomainPacer
from gateway.mail.submission import (
    CONNECTION_ERRORS,
    Refusal,
    SubmissionConfig,
    Verdict,
    connect,
    refusal,
    response_text,
)
from gateway.metrics import Metrics
from gateway.outgoing_mail import domain_of
from gateway.smpp.throttle import backoff_delay
from gateway.store import mail_outbox
from gateway.store.mail_outbox import Attempt, ClaimedMail

log = get_logger("gateway.mail.sender")
T = TypeVar("T")

CONNECT_RETRY_MIN = 5.0  # seconds before a batch given back for an unreachable server is due
RECORD_RETRY_MAX = 5.0
QUEUED_GAUGE_SECONDS = 5.0
DB_ERRORS: tuple[type[BaseException], ...] = (
    OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)


@dataclass(frozen=True, slots=True)
class SenderConfig:
    owner: str  # the instance name: whose leases these are
    batch_size: int
    max_attempts: int
    default_from_name: str
    timeout: float  # the SMTP timeout: a lease covers a few of them
    retry_min: float = 60.0
    retry_max: float = 7200.0
    poll_seconds: float = 1.0

    @property
    def lease_seconds(self) -> float:
        """Long enough for DATA (renewed when it starts) and the answer to it."""
        return 4 * self.timeout + 60.0


class ConnectionFailed(Exception):
    """The submission server cannot be reached or used: the rest of the batch waits.

    `recorded`: the row being sent has its outcome recorded already (the
    connection was lost under it); otherwise it waits with the rest.
    """

    def __init__(self, cause: str, *, recorded: bool = False) -> None:
        super().__init__(cause)
        self.recorded = recorded


class _Session:
    """One SMTP connection for a batch, opened when the first row needs it."""

    def __init__(self, config: SubmissionConfig) -> None:
        self._config = config
        self._client: aiosmtplib.SMTP | None = None

    async def client(self) -> aiosmtplib.SMTP:
        if self._client is None or not self._client.is_connected:
            try:
                self._client = await connect(self._config)
            except CONNECTION_ERRORS as err:
                self._client = None
                raise ConnectionFailed(_describe(err)) from err
        return self._client

    async def reset(self) -> None:
        """After a refused MAIL/RCPT/DATA: a fresh transaction for the next row."""
        if self._client is not None and self._client.is_connected:
            with contextlib.suppress(*CONNECTION_ERRORS):
                await self._client.rset()

    async def close(self) -> None:
        """QUIT; a server that does not answer it changes nothing recorded."""
        client, self._client = self._client, None
        if client is not None and client.is_connected:
            try:
                await client.quit()
            except CONNECTION_ERRORS:
                client.close()

    def abort(self) -> None:
        """Drop the connection without a word (the sender is being cancelled)."""
        client, self._client = self._client, None
        if client is not None:
            client.close()


class MailSender:
    """Runs under the supervisor as `mail-out`; `send_due()` is one round (tests call it)."""

    def __init__(self, pool: asyncpg.Pool, submission: SubmissionConfig, config: SenderConfig,
                 *, pacer: DomainPacer | None = None, metrics: Metrics | None = None,
                 clock: Clock = utc_now, rng: random.Random | None = None) -> None:
        self._pool = pool
        self._submission = submission
        self._config = config
        self._clock = clock
        self._pacer = pacer or DomainPacer(0, {}, lambda: clock().timestamp())
        self._metrics = metrics or Metrics()
        self._rng = rng or random.Random()
        self._wake = asyncio.Event()
        self._stopping = False
        self._between_batches = asyncio.Event()
        self._between_batches.set()
        self._connect_failures = 0
        self._released_at: float | None = None
        self._gauged_at: float | None = None

    def wake(self) -> None:
        """Rows were queued: claim now rather than at the next poll."""
        self._wake.set()

    async def run(self) -> None:
        """Release what a stopped sender (this one, before) left, then send until stopped.

        Restartable: the supervisor starts it again after a database or
        network error; nothing is in flight between two batches, so every
        row still leased to us is one a failed batch left behind.
        """
        released = await self._db(lambda conn: mail_outbox.release_leases(
            conn, self._config.owner, now=self._clock(),
            max_attempts=self._config.max_attempts))
        self._log_released(released, at_start=True)
        while not self._stopping:
            handled = await self.send_due()
            if handled == 0 and not self._stopping:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._config.poll_seconds)
                self._wake.clear()

    async def stop(self, *, grace: float = 5.0) -> None:
        """Finish the mail under way (up to `grace` seconds), give the rest of the batch back."""
        self._stopping = True
        self._wake.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._between_batches.wait(), grace)

    async def send_due(self) -> int:
        """Claim one batch of due rows and deal with each; how many rows it took."""
        self._between_batches.clear()  # from the claim on: `stop` waits for what it takes
        try:
            return await self._send_batch()
        finally:
            self._between_batches.set()

    async def _send_batch(self) -> int:
        now = self._clock()
        await self._housekeeping(now.timestamp())
        batch = await self._db(lambda conn: mail_outbox.claim(
            conn, now=now, limit=self._config.batch_size, owner=self._config.owner,
            lease_seconds=self._config.lease_seconds))
        if not batch:
            return 0
        session = _Session(self._submission)
        try:
            for position, mail in enumerate(batch):
                if self._stopping:
                    await self._give_back(batch[position:], "not sent: the gateway stopped",
                                          delay=0.0)
                    break
                try:
                    await self._send_one(session, mail)
                except ConnectionFailed as err:
                    waiting = batch[position + 1:] if err.recorded else batch[position:]
                    await self._server_unreachable(waiting, str(err))
                    break
        except BaseException:
            session.abort()  # cancelled (or a database error): the lease release sorts it out
            raise
        await session.close()
        return len(batch)

    async def _send_one(self, session: _Session, mail: ClaimedMail) -> None:
        attempt = Attempt.of(mail, self._config.owner)
        now = self._clock()
        reason = await self._db(lambda conn: mail_outbox.suppression_reason(conn, mail))
        if reason is not None:
            await self._db(lambda conn: mail_outbox.mark_suppressed(conn, attempt, reason=reason))
            self._metrics.mail_suppressed.inc()
            log.info("mail_suppressed", mail_id=mail.id, purpose=mail.purpose,
                     reason=reason.split(":", 1)[0])
            return
        wait = 0.0 if mail.paced else self._pacer.reserve(domain_of(mail.to_address))
        if wait > 0 and mail.bulk:  # mail to one person is never held, but took its slot
            await self._db(lambda conn: mail_outbox.requeue(
                conn, attempt, now=now, at=now + timedelta(seconds=wait), give_back=True,
                paced=True))
            return
        try:
            raw = message_bytes(compose(mail, date=now,
                                        default_from_name=self._config.default_from_name))
        except (ValueError, TypeError, UnicodeError) as err:  # a row no message can carry
            await self._fail(attempt, f"cannot compose the message: {err}")
            return
        client = await session.client()
        self._connect_failures = 0
        try:
            await client.mail(mail.from_address)
            await client.rcpt(mail.to_address)
        except aiosmtplib.SMTPResponseException as err:
            step = "RCPT" if isinstance(err, aiosmtplib.SMTPRecipientRefused) else "MAIL"
            await self._refused(attempt, refusal(step, err.code, err.message))
            await session.reset()
            return
        except CONNECTION_ERRORS as err:  # before DATA: nothing was taken
            await self._retry(attempt, f"not sent: the connection was lost before DATA "
                                       f"({_describe(err)})")
            raise ConnectionFailed(_describe(err), recorded=True) from err
        if not await self._db(lambda conn: mail_outbox.mark_data(
                conn, attempt, now=now, lease_seconds=self._config.lease_seconds)):
            log.warning("mail_lease_lost", mail_id=mail.id, attempt=mail.attempts)
            await session.reset()
            return
        try:
            response = await client.data(raw)
        except aiosmtplib.SMTPResponseException as err:
            await self._refused(attempt, refusal("DATA", err.code, err.message))
            await session.reset()
            return
        except CONNECTION_ERRORS as err:
            await self._unsure(attempt, _describe(err))
            raise ConnectionFailed(_describe(err), recorded=True) from err
        await self._record(lambda conn: mail_outbox.mark_sent(
            conn, mail.id, now=now, smtp_response=response_text(response)))
        self._metrics.mail_sent.inc()
        log.info("mail_sent", mail_id=mail.id, purpose=mail.purpose, attempt=mail.attempts,
                 recipient=mask_email(mail.to_address))

    async def _refused(self, attempt: Attempt, refused: Refusal) -> None:
        if refused.verdict is Verdict.FAIL:
            await self._fail(attempt, refused.error)
        else:
            await self._retry(attempt, refused.error)

    async def _retry(self, attempt: Attempt, error: str, *, unsure: bool = False) -> None:
        if attempt.attempts >= self._config.max_attempts:
            await self._fail(attempt, f"{error} (attempt {attempt.attempts} of "
                                      f"{self._config.max_attempts}: no attempt left)")
            return
        delay = backoff_delay(attempt.attempts - 1, self._config.retry_min,
                              self._config.retry_max, self._rng)
        await self._db(lambda conn: mail_outbox.requeue(
            conn, attempt, now=self._clock(), delay=delay, error=error, unsure=unsure))
        self._metrics.mail_retried.inc()
        if unsure:
            self._metrics.mail_unsure.inc()
        log.warning("mail_retry_later", mail_id=attempt.id, attempt=attempt.attempts,
                    retry_in=round(delay), unsure=unsure, error=error[:200])

    async def _unsure(self, attempt: Attempt, cause: str) -> None:
        """DATA began and no answer came: the server may have the message."""
        await self._retry(attempt, f"unsure: the connection was lost during DATA ({cause}); "
                                   "sent again with the same Message-ID", unsure=True)

    async def _fail(self, attempt: Attempt, error: str) -> None:
        await self._db(lambda conn: mail_outbox.mark_failed(conn, attempt, error=error))
        self._metrics.mail_failed.inc()
        log.warning("mail_failed", mail_id=attempt.id, attempt=attempt.attempts,
                    error=error[:200])

    async def _server_unreachable(self, rows: list[ClaimedMail], cause: str) -> None:
        delay = backoff_delay(self._connect_failures, CONNECT_RETRY_MIN,
                              self._config.retry_max, self._rng)
        self._connect_failures += 1
        log.warning("mail_server_unreachable", host=self._submission.host,
                    port=self._submission.port, error=cause[:200], rows=len(rows),
                    failures=self._connect_failures, retry_in=round(delay, 1))
        await self._give_back(rows, f"not sent: the submission server: {cause}", delay=delay)

    async def _give_back(self, rows: list[ClaimedMail], error: str, *, delay: float) -> None:
        """Rows of the batch never tried (or stopped before DATA): their attempt is returned."""
        if not rows:
            return
        now = self._clock()
        async with self._pool.acquire() as conn:
            for mail in rows:
                await mail_outbox.requeue(
                    conn, Attempt.of(mail, self._config.owner), now=now, delay=delay,
                    error=error, give_back=True, paced=mail.paced)

    async def _housekeeping(self, now: float) -> None:
        """Others' expired leases, now and then; the queued gauge, now and then."""
        lease = self._config.lease_seconds
        if self._released_at is None or now - self._released_at >= lease / 4:
            self._released_at = now
            released = await self._db(lambda conn: mail_outbox.release_leases(
                conn, self._config.owner, now=self._clock(),
                max_attempts=self._config.max_attempts, others_expired_only=True))
            self._log_released(released, at_start=False)
        if self._gauged_at is None or now - self._gauged_at >= QUEUED_GAUGE_SECONDS:
            self._gauged_at = now
            self._metrics.mail_queued.set(await self._db(mail_outbox.count_queued))

    def _log_released(self, released: mail_outbox.Released, *, at_start: bool) -> None:
        if released.queued or released.failed:
            self._metrics.mail_unsure.inc(released.unsure)
            log.warning("mail_leases_released", owner=self._config.owner, at_start=at_start,
                        queued=released.queued, failed=released.failed,
                        unsure=released.unsure)

    async def _db(self, work: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
        async with self._pool.acquire() as conn:
            return await work(conn)

    async def _record(self, work: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
        """Record what the server took, waiting out a database that is away.

        The 250 is known only here: given up on, the row would be released
        after a restart and sent again. While stopping, a few tries only.
        """
        attempt = 0
        while True:
            try:
                return await self._db(work)
            except DB_ERRORS as err:
                if self._stopping and attempt >= 3:
                    raise
                delay = backoff_delay(attempt, 0.1, RECORD_RETRY_MAX, self._rng)
                attempt += 1
                log.warning("mail_result_not_recorded_yet", error=type(err).__name__,
                            attempt=attempt, retry_in=round(delay, 2))
                await asyncio.sleep(delay)


def _describe(err: BaseException) -> str:
    text = " ".join(str(err).split())
    return f"{type(err).__name__}: {text}" if text else type(err).__name__
