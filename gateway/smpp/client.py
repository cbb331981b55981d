"""EsmeClient: the asyncio adapter around SmppSession (our side, the ESME).

Why the shape: the session decides what is legal; this module only moves
bytes, keeps time and owns the policies — reconnect with jittered backoff,
a submit window, TPS pacing, throttling resends, keepalive, and answering a
deliver_sm only after the application has committed it (no MO lost).

Submit outcomes are explicit: the submit_sm_resp on ESME_ROK, SubmitRejected
for any other status (ESME_RTHROTTLED/ESME_RMSGQFUL are first resent up to
MAX_RESENDS times, with jittered delays growing from smpp_reconnect_min to
smpp_reconnect_max, unless the caller asks for `resend_throttled=False`: the
outbox does for a message's first part, so that a throttled MT goes back
through its opt-out checks instead of leaving seconds later on its own; a
PDU that cannot be encoded is rejected with the status the SMSC would have
used), SubmitTimeout, or SessionLost. Nothing is resent
after a reconnect: the caller (the outbox) owns durability. smpp_submit_timeout
also bounds the TCP connect and the wait for bind_resp.

An on_deliver that returns a DeliverAnswer learns when the SMSC has read its
deliver_sm_resp (see link.py). Unless a request of ours already follows the
resps written in one loop turn, an enquire_link goes right after them: its
answer, the proof, then reaches us before any MO the SMSC sends after reading
the resps, so a supporter's next identical text is never taken for a
redelivery for want of a proof still on its way.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

from gateway.config import Settings
from gateway.logs import get_logger
from gateway.smpp.constants import CommandId, CommandStatus, status_name
from gateway.smpp.errors import (
    LocalProtocolError,
    PduError,
    SessionLost,
    SubmitRejected,
    SubmitTimeout,
)
from gateway.smpp.link import DeliverAnswer, Link
from gateway.smpp.pdu import Pdu, make_bind, make_enquire_link, make_unbind, response_for
from gateway.smpp.receipts import is_receipt
from gateway.smpp.session import (
    BindRefused,
    Bound,
    Event,
    PduReceived,
    ProtocolViolation,
    ResponseReceived,
    Unbound,
)
from gateway.smpp.throttle import TokenBucket, backoff_delay
from gateway.smpp.window import SubmitWindow

S = CommandStatus
RESEND_STATUSES = frozenset({S.ESME_RTHROTTLED, S.ESME_RMSGQFUL})
MAX_RESENDS = 8
# Delivery receipts waiting for their batch commit, per window slot. Every MT brings
# a receipt back, so under load hundreds wait at once; when they shared the MOs'
# limit (2 per slot) the reader stopped at it, and the submit_sm_resps queued
# behind the receipts on the same connection starved the submit window.
RECEIPT_SLOTS_PER_WINDOW = 10
UNBIND_GRACE = 2.0
READ_SIZE = 64 * 1024

_REFUSAL_HINTS: dict[int, str] = {
    S.ESME_RINVPASWD: "invalid password for system_id {system_id}; check GATEWAY_SMPP_PASSWORD",
    S.ESME_RINVSYSID: "unknown system_id {system_id}; check GATEWAY_SMPP_SYSTEM_ID",
    S.ESME_RBINDFAIL: (
        "the SMSC refused system_id {system_id}; check GATEWAY_SMPP_SYSTEM_ID, "
        "GATEWAY_SMPP_SYSTEM_TYPE and the account with the SMSC operator"
    ),
}

OnDeliver = Callable[[Pdu], Awaitable[int | DeliverAnswer]]
OnWritten = Callable[[], None]


class EsmeClient:
    """Binds to the SMSC, keeps the bind alive, submits MTs, hands MOs to `on_deliver`."""

    def __init__(
        self, settings: Settings, *, on_deliver: OnDeliver, log: Any = None,
        clock: Callable[[], float] = time.monotonic, rng: random.Random | None = None,
    ) -> None:
        self._settings = settings
        self._on_deliver = on_deliver
        self._log = log if log is not None else get_logger("gateway.smpp")
        self._clock = clock
        self._rng = rng or random.Random()
        self._modes = (
            (CommandId.BIND_TRANSCEIVER,)
            if settings.smpp_bind_mode == "transceiver"
            else (CommandId.BIND_TRANSMITTER, CommandId.BIND_RECEIVER)
        )
        self._bound_events: dict[int, asyncio.Event] = {m: asyncio.Event() for m in self._modes}
        self._tx_link: Link | None = None
        self._stopping = asyncio.Event()
        self._runners: list[asyncio.Task[None]] = []
        self._deliveries: set[asyncio.Task[None]] = set()
        self._window = SubmitWindow(settings.smpp_window)
        self._deliver_slots = asyncio.Semaphore(2 * settings.smpp_window)
        self._receipt_slots = asyncio.Semaphore(RECEIPT_SLOTS_PER_WINDOW * settings.smpp_window)
        self._bucket = TokenBucket(settings.smpp_tps, clock)
        self.window_in_use = 0
        # counters for metrics
        self.submits = 0  # submit_sm sent (resends included)
        self.resps = 0  # submit_sm_resp received
        self.delivers = 0  # deliver_sm/data_sm received
        self.resends = 0  # submits resent after ESME_RTHROTTLED/ESME_RMSGQFUL
        self.connects = 0  # TCP connections opened
        self.violations = 0  # garbage received from the SMSC

    @property
    def bound(self) -> bool:
        return all(event.is_set() for event in self._bound_events.values())

    @property
    def tps(self) -> float:
        """The submit pace in force (0: none); our share when instances split the cap."""
        return self._bucket.rate

    def set_tps(self, rate: float) -> None:
        self._bucket.set_rate(rate)

    @property
    def window_free(self) -> int:
        """Window slots free now: how many submits would not wait for a resp first."""
        return self._window.free

    async def wait_bound(self, timeout: float) -> bool:  # noqa: ASYNC109 - the agreed API
        """True once every bind is up; False if that takes longer than `timeout`."""
        try:
            async with asyncio.timeout(timeout):
                for event in self._bound_events.values():
                    await event.wait()
        except TimeoutError:
            return False
        return True

    # -- lifecycle ----------------------------------------------------------

    async def run(self) -> None:
        """Stay bound until stop(); reconnects on its own."""
        if self._stopping.is_set():
            return
        self._runners = [asyncio.create_task(self._keep_linked(mode)) for mode in self._modes]
        try:
            await asyncio.gather(*self._runners)
        finally:
            for runner in self._runners:
                runner.cancel()

    async def stop(self) -> None:
        """Unbind (briefly waiting for unbind_resp) and close. Safe to call twice."""
        self._stopping.set()
        runners = [runner for runner in self._runners if not runner.done()]
        if runners:
            grace = self._settings.smpp_submit_timeout + 2 * UNBIND_GRACE
            _, late = await asyncio.wait(runners, timeout=grace)
            for runner in late:
                runner.cancel()
        if self._deliveries:
            await asyncio.wait(self._deliveries, timeout=self._settings.smpp_submit_timeout)
            for task in self._deliveries:
                task.cancel()

    async def _keep_linked(self, mode: int) -> None:
        settings = self._settings
        attempt = 0
        while not self._stopping.is_set():
            log = self._log.bind(mode=_mode_name(mode), host=settings.smpp_host,
                                 port=settings.smpp_port)
            log.info("smpp_connecting", attempt=attempt)
            try:
                async with asyncio.timeout(settings.smpp_submit_timeout):
                    reader, writer = await asyncio.open_connection(
                        settings.smpp_host, settings.smpp_port
                    )
            except (OSError, TimeoutError) as err:
                delay = backoff_delay(attempt, settings.smpp_reconnect_min,
                                      settings.smpp_reconnect_max, self._rng)
                log.warning("smpp_connect_failed", error=str(err) or type(err).__name__,
                            retry_in=round(delay, 3))
                attempt += 1
                await self._sleep(delay)
                continue
            self.connects += 1
            link = Link(mode, reader, writer, self._clock)
            try:
                refusal = await self._serve(link, log)
            except Exception:  # a bug must not end the gateway's only SMSC link
                log.exception("smpp_link_crashed")
                refusal = None
            if link.was_bound:
                attempt = 0
            if refusal in _REFUSAL_HINTS:
                delay = settings.smpp_bind_refused_delay
            else:
                delay = backoff_delay(attempt, settings.smpp_reconnect_min,
                                      settings.smpp_reconnect_max, self._rng)
                attempt += 1
            if not self._stopping.is_set():
                log.info("smpp_reconnecting", retry_in=round(delay, 3))
                await self._sleep(delay)

    async def _serve(self, link: Link, log: Any) -> int | None:
        """Bind, then serve the link until it ends; returns a bind refusal status if any."""
        reader = asyncio.create_task(self._read_loop(link, log))
        keepalive: asyncio.Task[None] | None = None
        try:
            settings = self._settings
            bind = make_bind(link.mode, settings.smpp_system_id,
                             settings.smpp_password.get_secret_value(), settings.smpp_system_type)
            answer = await self._await_answer(link, link.request(bind), reader)
            if answer is None:
                return None
            if answer.command_status != S.ESME_ROK or answer.command_id == CommandId.GENERIC_NACK:
                link.ended_because = "bind refused"
                self._log_refusal(answer.command_status, log)
                return answer.command_status
            link.was_bound = True
            self._bound_events[link.mode].set()
            if link.mode != CommandId.BIND_RECEIVER:
                self._tx_link = link
            log.info("smpp_bound", smsc_system_id=answer.get_str("system_id"))
            keepalive = asyncio.create_task(self._keepalive(link, log))
            stopping = asyncio.create_task(self._stopping.wait())
            try:
                await asyncio.wait({reader, keepalive, stopping},
                                   return_when=asyncio.FIRST_COMPLETED)
            finally:
                stopping.cancel()
            if self._stopping.is_set() and not reader.done():
                await self._unbind(link, reader, log)
            return None
        except (OSError, TimeoutError) as err:
            link.ended_because = str(err) or type(err).__name__
            return None
        finally:
            self._bound_events[link.mode].clear()
            if self._tx_link is link:
                self._tx_link = None
            for task in (reader, keepalive):
                if task is None:
                    continue
                if task.done() and not task.cancelled() and task.exception() is not None:
                    error = task.exception()
                    link.ended_because = f"internal error: {type(error).__name__}"
                    log.error("smpp_link_crashed", exc_info=error)
                task.cancel()
            lost = link.tear_down(link.ended_because)
            log.info("smpp_disconnected", reason=link.ended_because, requests_lost=lost)
            with contextlib.suppress(Exception):
                async with asyncio.timeout(1.0):
                    await link.writer.wait_closed()

    async def _await_answer(
        self, link: Link, future: asyncio.Future[Pdu], reader: asyncio.Task[None]
    ) -> Pdu | None:
        """The response to a request, or None if the link dies or it times out."""
        await link.drain()
        waiters: set[asyncio.Future[Any]] = {future, reader}
        done, _ = await asyncio.wait(
            waiters, timeout=self._settings.smpp_submit_timeout,
            return_when=asyncio.FIRST_COMPLETED,
        )
        if future in done and not future.exception():
            return future.result()
        return None

    async def _unbind(self, link: Link, reader: asyncio.Task[None], log: Any) -> None:
        # Let MOs being committed get their deliver_sm_resp out, and submits their resp.
        waiting: list[asyncio.Future[Any]] = [t for t in self._deliveries if not t.done()]
        waiting += [future for future in link.futures.values() if not future.done()]
        if waiting:
            settled = asyncio.ensure_future(asyncio.wait(waiting))
            await asyncio.wait({settled, reader}, timeout=self._settings.smpp_submit_timeout,
                               return_when=asyncio.FIRST_COMPLETED)
            settled.cancel()
            await link.drain()
        if reader.done():
            return
        try:
            future = link.request(make_unbind())
        except LocalProtocolError:
            return
        await link.drain()
        waiters: set[asyncio.Future[Any]] = {future, reader}
        await asyncio.wait(waiters, timeout=UNBIND_GRACE,
                           return_when=asyncio.FIRST_COMPLETED)
        link.ended_because = "stopped"
        log.info("smpp_unbound", answered=future.done())

    def _log_refusal(self, status: int, log: Any) -> None:
        hint = _REFUSAL_HINTS.get(status)
        if hint is None:
            log.warning("smpp_bind_failed", status=status_name(status))
            return
        reason = "bind refused: " + hint.format(system_id=self._settings.smpp_system_id)
        log.error("smpp_bind_refused", reason=reason, status=status_name(status),
                  retry_in=self._settings.smpp_bind_refused_delay)

    async def _sleep(self, delay: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(delay):
                await self._stopping.wait()

    # -- receiving ----------------------------------------------------------

    async def _read_loop(self, link: Link, log: Any) -> None:
        try:
            while True:
                data = await link.reader.read(READ_SIZE)
                if not data:
                    link.ended_because = "closed by SMSC"
                    return
                link.last_received = self._clock()
                events = link.session.receive_data(data)
                link.flush_replies()
                for event in events:
                    if await self._handle(link, event, log):
                        link.flush_replies()
                        await link.drain()
                        return
                await link.drain()
        except OSError as err:
            link.ended_because = str(err) or type(err).__name__

    async def _handle(self, link: Link, event: Event, log: Any) -> bool:
        """Act on one session event; True when the link must close."""
        if isinstance(event, ResponseReceived):
            if event.request_command_id == CommandId.SUBMIT_SM:
                self.resps += 1
            link.resolve(event.pdu)
        elif isinstance(event, Bound | BindRefused):
            link.resolve(event.pdu)
        elif isinstance(event, PduReceived):
            await self._received_request(link, event.pdu, log)
        elif isinstance(event, Unbound):
            link.resolve(event.pdu)
            link.ended_because = "unbound by SMSC" if event.by_peer else "unbound"
            return True
        elif isinstance(event, ProtocolViolation):
            self.violations += 1
            error = event.error
            log.warning("smpp_protocol_violation", fatal=event.fatal, reason=error.reason,
                        status=status_name(error.command_status))
            if event.fatal:
                link.ended_because = "broken framing from SMSC"
                return True
        return False

    async def _received_request(self, link: Link, pdu: Pdu, log: Any) -> None:
        if pdu.command_id not in (CommandId.DELIVER_SM, CommandId.DATA_SM):
            log.info("smpp_request_ignored", command=pdu.name)
            return
        self.delivers += 1
        if self._stopping.is_set():
            link.send(response_for(pdu, S.ESME_RX_T_APPN))  # the SMSC redelivers later
            return
        slots = self._receipt_slots if is_receipt(pdu.get_int("esm_class")) else self._deliver_slots
        if slots.locked():
            link.paused = True
        await slots.acquire()  # not reading while at the limit
        link.paused = False
        task = asyncio.create_task(self._deliver(link, pdu, slots, log))
        self._deliveries.add(task)
        task.add_done_callback(self._deliveries.discard)

    async def _deliver(
        self, link: Link, pdu: Pdu, slots: asyncio.Semaphore, log: Any
    ) -> None:
        on_read: Callable[[], None] | None = None
        try:
            answer = await self._on_deliver(pdu)
            if isinstance(answer, DeliverAnswer):
                status, on_read = answer.status, answer.on_read
            else:
                status = answer
        except Exception as err:
            log.error("smpp_deliver_failed", command=pdu.name, sequence=pdu.sequence,
                      error_type=type(err).__name__, exc_info=True)
            status = S.ESME_RX_T_APPN
        finally:
            slots.release()
        try:
            link.send(response_for(pdu, status))
        except LocalProtocolError:
            log.info("smpp_deliver_resp_dropped", reason="connection gone; the SMSC redelivers")
            return
        if on_read is not None:
            link.when_read(on_read)
            self._prove_read_soon(link)
        await link.drain()

    def _prove_read_soon(self, link: Link) -> None:
        """One enquire_link after all the resps of this loop turn (if still needed)."""
        if not link.proof_scheduled:
            link.proof_scheduled = True
            asyncio.get_running_loop().call_soon(self._prove_read, link)

    def _prove_read(self, link: Link) -> None:
        """An enquire_link after unproven resps, unless a request already follows them."""
        link.proof_scheduled = False
        if link.needs_proof:
            with contextlib.suppress(LocalProtocolError):  # the link is gone: nothing to prove
                link.send(make_enquire_link())

    async def _keepalive(self, link: Link, log: Any) -> None:
        interval = self._settings.smpp_enquire_link_interval
        while True:
            await asyncio.sleep(interval / 2)
            now = self._clock()
            waiting = link.session.expired(now, 0.0, CommandId.ENQUIRE_LINK)
            if not link.paused and link.session.expired(now, interval, CommandId.ENQUIRE_LINK):
                link.ended_because = "no enquire_link_resp: dead link"
                log.warning("smpp_link_dead", silent_for=round(now - link.last_received, 3))
                return
            if not waiting and now - link.last_received >= interval:
                with contextlib.suppress(LocalProtocolError):
                    link.send(make_enquire_link())
                    await link.drain()

    # -- submitting ---------------------------------------------------------

    async def submit(self, pdu: Pdu, *, on_written: OnWritten | None = None,
                     resend_throttled: bool = True) -> Pdu:
        """Send a submit_sm and return its ESME_ROK submit_sm_resp.

        Waits until bound, for a window slot and for the TPS pacer. Raises
        SubmitRejected (error status), SubmitTimeout or SessionLost.
        `on_written` is called once the submit_sm is handed to the connection
        (it leaves with this loop turn's writes), not for resends.
        `resend_throttled=False`: a throttled resp is a SubmitRejected at once.
        """
        if pdu.command_id != CommandId.SUBMIT_SM:
            raise ValueError(f"submit() sends submit_sm, not {pdu.name}")
        return await self._submit_attempts(pdu, 0, on_written,
                                           resends=MAX_RESENDS if resend_throttled else 0)

    def submit_soon(self, pdu: Pdu, *, on_written: OnWritten | None = None,
                    resend_throttled: bool = True) -> asyncio.Future[Pdu]:
        """`submit()` as a future: the same outcomes, the same window, pacing and resends.

        Why: the outbox sends thousands of single-part MTs a second, and a task
        per MT (with its timeout scope and wake-ups) cost more CPU than the MT's
        own encoding. When a window slot and the link are free at once and no
        TPS cap applies, the submit_sm goes out now and the resp completes the
        future from the reader's callback; a throttled resp continues as
        `submit()` would (in a task). Otherwise this is `submit()` in a task.
        """
        if pdu.command_id != CommandId.SUBMIT_SM:
            raise ValueError(f"submit_soon() sends submit_sm, not {pdu.name}")
        link = self._tx_link
        loop = asyncio.get_running_loop()
        if (self._bucket.rate or self._stopping.is_set() or link is None
                or not link.session.bound or not self._window.try_acquire()):
            return loop.create_task(self.submit(pdu, on_written=on_written,
                                                resend_throttled=resend_throttled))
        self.window_in_use += 1
        pdu.sequence = 0
        try:
            answer = link.request(pdu)
        except LocalProtocolError as err:
            self.window_in_use -= 1
            self._window.release()
            if isinstance(err.__cause__, PduError) or link.session.bound:
                failed: asyncio.Future[Pdu] = loop.create_future()
                cause = err.__cause__
                failed.set_exception(SubmitRejected(cause.command_status)
                                     if isinstance(cause, PduError) else err)
                return failed
            # the link died: nothing was sent
            return loop.create_task(self.submit(pdu, on_written=on_written,
                                                resend_throttled=resend_throttled))
        self.submits += 1
        if on_written is not None:
            on_written()
        result: asyncio.Future[Pdu] = loop.create_future()
        timer = loop.call_later(self._settings.smpp_submit_timeout, self._submit_timed_out,
                                link, pdu.sequence, answer)
        answer.add_done_callback(functools.partial(self._submit_answered, pdu, result, timer,
                                                   resend_throttled))
        return result

    def _submit_timed_out(self, link: Link, sequence: int, answer: asyncio.Future[Pdu]) -> None:
        if not answer.done():
            link.abandon(sequence)
            answer.set_exception(SubmitTimeout(
                f"no submit_sm_resp within {self._settings.smpp_submit_timeout}s"))

    def _submit_answered(self, pdu: Pdu, result: asyncio.Future[Pdu], timer: asyncio.TimerHandle,
                         resend_throttled: bool, answer: asyncio.Future[Pdu]) -> None:
        timer.cancel()
        self.window_in_use -= 1
        self._window.release()
        if answer.cancelled():
            result.cancel()
            return
        error = answer.exception()
        if result.done():  # the caller gave up
            return
        if error is not None:
            result.set_exception(error)
            return
        resp = answer.result()
        status = resp.command_status
        if status == S.ESME_ROK and resp.command_id == CommandId.SUBMIT_SM_RESP:
            result.set_result(resp)
        elif status not in RESEND_STATUSES or MAX_RESENDS == 0 or not resend_throttled:
            result.set_exception(SubmitRejected(status, resp))
        else:
            self.resends += 1
            rest = asyncio.ensure_future(self._submit_attempts(pdu, 1))
            rest.add_done_callback(functools.partial(_copy_outcome, result))

    async def _submit_attempts(self, pdu: Pdu, first: int,
                               on_written: OnWritten | None = None, *,
                               resends: int = MAX_RESENDS) -> Pdu:
        settings = self._settings
        for attempt in range(first, resends + 1):
            if attempt:
                await asyncio.sleep(backoff_delay(attempt - 1, settings.smpp_reconnect_min,
                                                  settings.smpp_reconnect_max, self._rng))
            resp = await self._submit_once(pdu, on_written if attempt == first else None)
            status = resp.command_status
            if status == S.ESME_ROK and resp.command_id == CommandId.SUBMIT_SM_RESP:
                return resp
            if status not in RESEND_STATUSES or attempt == resends:
                raise SubmitRejected(status, resp)
            self.resends += 1
        raise AssertionError("unreachable")

    async def _submit_once(self, pdu: Pdu, on_written: OnWritten | None = None) -> Pdu:
        await self._window.acquire()
        self.window_in_use += 1
        try:
            while True:
                link = await self._wait_tx()
                await self._bucket.acquire()
                pdu.sequence = 0
                try:
                    future = link.request(pdu)
                except LocalProtocolError as err:
                    if isinstance(err.__cause__, PduError):  # e.g. a text part too long
                        cause = err.__cause__
                        raise SubmitRejected(cause.command_status) from cause
                    if link.session.bound:
                        raise
                    continue  # the link died while we waited: nothing was sent
                break
            self.submits += 1
            if on_written is not None:
                on_written()
            await link.drain()
            try:
                async with asyncio.timeout(self._settings.smpp_submit_timeout):
                    return await future
            except TimeoutError:
                link.abandon(pdu.sequence)
                raise SubmitTimeout(
                    f"no submit_sm_resp within {self._settings.smpp_submit_timeout}s"
                ) from None
        finally:
            self.window_in_use -= 1
            self._window.release()

    async def _wait_tx(self) -> Link:
        while True:
            if self._stopping.is_set():
                raise SessionLost("cannot submit: SMPP client stopping", sent=False)
            link = self._tx_link
            if link is not None and link.session.bound:
                return link
            ready = asyncio.ensure_future(self._bound_events[self._modes[0]].wait())
            stopping = asyncio.ensure_future(self._stopping.wait())
            try:
                await asyncio.wait({ready, stopping}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                ready.cancel()
                stopping.cancel()


def _copy_outcome(result: asyncio.Future[Pdu], source: asyncio.Future[Pdu]) -> None:
    if result.done():
        return
    if source.cancelled():
        result.cancel()
    elif source.exception() is not None:
        result.set_exception(source.exception())  # type: ignore[arg-type]
    else:
        result.set_result(source.result())


def _mode_name(mode: int) -> str:
    return {
        CommandId.BIND_TRANSCEIVER: "transceiver",
        CommandId.BIND_TRANSMITTER: "transmitter",
        CommandId.BIND_RECEIVER: "receiver",
    }[CommandId(mode)]
