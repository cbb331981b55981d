"""`gateway smsc`: an SMSC simulator for the demo, the tests and the benchmark.

It is the SMSC side of A's sans-I/O `SmppSession(role="smsc")` over asyncio
TCP: binds checked against credentials, submit_sm answered with unique hex
ids, delivery receipts after a delay, MOs injected on demand. It records
every accepted submit_sm (reassembled, decoded) so tests can assert "no
loss, no duplicate", and it misbehaves on request (`Faults`).

Delivery is at-least-once, like a real SMSC: a deliver_sm (MO or receipt)
unanswered when its connection drops, or unanswered for `resp_timeout`, is
sent again on another (or the next) receiver connection. A submit_sm counts
as accepted only once its OK response has been written: a dropped or slowed
connection never leaves a message "accepted" that the ESME did not hear of.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import secrets
import time
from collections import Counter
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from gateway.logs import get_logger
from gateway.smpp.chat import PhoneServer, number_key
from gateway.smpp.coalesce import CoalescingWriter
from gateway.smpp.constants import (
    ESM_DELIVERY_RECEIPT,
    ESM_INTERMEDIATE_NOTIFICATION,
    REGISTERED_DELIVERY_ON_FAILURE,
    REGISTERED_DELIVERY_RECEIPT,
    CommandId,
    CommandStatus,
    Tag,
    status_name,
)
from gateway.smpp.errors import FramingError, LocalProtocolError
from gateway.smpp.pdu import Framer, Pdu, make_deliver_sm, response_for
from gateway.smpp.receipts import STATE_CODES, format_receipt_text
from gateway.smpp.session import (
    PduReceived,
    ProtocolViolation,
    ResponseReceived,
    SmppSession,
    State,
    Unbound,
)
from gateway.smpp.simulator_records import Faults as Faults
from gateway.smpp.simulator_records import LoadStats, MoRecord
from gateway.smpp.simulator_records import SubmitRecord as SubmitRecord
from gateway.smpp.udh import Reassembler, UdhError, parse_concat
from gateway.smstext import decode, split

_RECEIVERS = frozenset({State.BOUND_RX, State.BOUND_TRX})
_SWEEP_INTERVAL = 0.25
_RECEIPT_RETRY_DELAY = 1.0
_RECEIPT_MAX_ATTEMPTS = 5
_CACHE_LIMIT = 1024  # decoded texts and receipt templates remembered (a broadcast: one)


@dataclass(slots=True)
class _Outbound:
    """A deliver_sm to send until some receiver answers it."""

    pdu_params: dict[str, Any]
    short_message: bytes
    tlvs: dict[int, bytes]
    done: asyncio.Future[int] | None = None  # MOs: resolved with the resp status
    system_id: str | None = None  # receipts go back to the account that submitted
    attempts: int = 0


@dataclass(eq=False, slots=True)
class _Link:
    writer: asyncio.StreamWriter
    session: SmppSession = field(default_factory=lambda: SmppSession("smsc"))
    system_id: str = ""
    received: int = 0
    waiting: dict[int, _Outbound] = field(default_factory=dict)
    muted: bool = False  # Faults.mute_on_mo_resp: what arrives is ignored until the close

    out: CoalescingWriter = field(init=False)

    def __post_init__(self) -> None:
        self.out = CoalescingWriter(self.writer)

    def write(self, data: bytes) -> None:
        self.out.write(data)


def _mo_addresses(source: str, destination: str) -> dict[str, Any]:
    """'+1555...' goes out as international digits (TON 1, ISDN), a short code as TON 0."""

    def split_number(number: str) -> tuple[int, str]:
        return (1, number[1:]) if number.startswith("+") else (0, number)

    source_ton, source_addr = split_number(source)
    dest_ton, dest_addr = split_number(destination)
    return {
        "source_addr": source_addr, "source_addr_ton": source_ton, "source_addr_npi": 1,
        "destination_addr": dest_addr, "dest_addr_ton": dest_ton, "dest_addr_npi": 1,
    }


class SmscSimulator:
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        credentials: dict[str, str],
        receipt_delay: float = 1.0,
        faults: Faults | None = None,
        phone_port: int | None = None,
        shortcode: str = "12345",
        resp_timeout: float = 30.0,
        answer_chunk: int = 16,
        reassembly_timeout: float = 300.0,
        log: Any = None,
    ) -> None:
        self.host, self.port = host, port
        self.credentials = dict(credentials)
        self.receipt_delay = receipt_delay
        self.faults = faults or Faults()
        self.shortcode = shortcode
        self.resp_timeout = resp_timeout
        # Answers leave after every `answer_chunk` PDUs of one read, not only after
        # the whole read: the ESME gets the first resps (and refills its window)
        # while the rest are still being processed, as with a real SMSC, instead
        # of the two sides taking turns a full window at a time.
        self.answer_chunk = max(1, answer_chunk)
        self._log = log or get_logger("gateway.smsc")
        self._phone_port = phone_port
        self.phone: PhoneServer | None = None
        self._server: asyncio.Server | None = None
        self._links: list[_Link] = []
        self._rr = 0
        self._parked: list[_Outbound] = []
        self._timers: set[asyncio.TimerHandle] = set()
        self._waiters: list[tuple[Callable[[], bool], asyncio.Future[None]]] = []
        self._sweeper: asyncio.Task[None] | None = None
        self._handlers: set[asyncio.Task[Any]] = set()  # one per connection
        self._reassembler = Reassembler(reassembly_timeout)
        self._part_ids: dict[tuple[Hashable, int, int], list[str]] = {}
        self._id_prefix = secrets.randbits(32)
        self._next_id = 0
        self._next_ref = 0
        self._submits_seen = 0
        self._mos_injected = 0
        self._pending_replies: dict[str, list[float]] = {}
        # Hot-path caches (a broadcast sends one text to many numbers): decoded
        # bodies, receipt texts without their id, and the receipts of this loop
        # turn, which share one timer instead of one each.
        self._decoded: dict[tuple[bytes, int], str] = {}
        self._receipt_templates: dict[tuple[str, str, str, str], str] = {}
        self._stamp_second = -1
        self._stamp = ("", datetime.now(UTC))
        self._receipt_batches: dict[float, list[_Outbound]] = {}
        self._wake_scheduled = False
        # What tests and the benchmark read:
        self.submitted: list[SubmitRecord] = []
        self.submitted_parts = 0
        self.lost_resps = 0  # submits taken without an answer (Faults.lost_resp_every)
        self.mos: list[MoRecord] = []
        self.reply_latencies: list[float] = []
        self.drops = 0
        self.redeliveries = 0
        self.protocol_errors = 0
        self.expired_partials = 0
        self.mo_resps = 0  # deliver_sm_resps to MOs read (or cut, see Faults.drop_on_mo_resp)
        # Receipts: scheduled, answered ESME_ROK, given up after _RECEIPT_MAX_ATTEMPTS
        # error answers. The benchmark waits for `receipts_pending` to reach 0 before it
        # reads the CPU a phase cost, so a receipt's work counts in its own phase.
        self.receipts_scheduled = 0
        self.receipts_acked = 0
        self.receipts_abandoned = 0

    @property
    def receipts_pending(self) -> int:
        """Receipts scheduled and not yet answered ESME_ROK or given up."""
        return self.receipts_scheduled - self.receipts_acked - self.receipts_abandoned

    # -- lifecycle -----------------------------------------------------------

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve_link, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        if self._phone_port is not None:
            self.phone = PhoneServer(self.inject_mo, shortcode=self.shortcode, log=self._log)
            await self.phone.start(self.host, self._phone_port)
        self._sweeper = asyncio.create_task(self._sweep())
        self._log.info("smsc_listening", host=self.host, port=self.port,
                       phone_port=self.phone.port if self.phone else None)

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)
        for timer in self._timers:
            timer.cancel()
        if self.phone is not None:
            await self.phone.stop()
        if self._server is not None:
            self._server.close()
        for link in list(self._links):
            link.writer.close()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
        stopped = ConnectionError("SMSC simulator stopped")
        for item in [*self._parked, *(i for lk in self._links for i in lk.waiting.values())]:
            if item.done is not None and not item.done.done():
                item.done.set_exception(stopped)
        self._parked.clear()

    # -- waiting helpers (for tests and the CLI) -----------------------------

    async def wait_until(self, predicate: Callable[[], bool]) -> None:
        """Wake when `predicate()` holds; wrap in `asyncio.timeout()` to bound the wait."""
        if predicate():
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (predicate, future)
        self._waiters.append(entry)
        try:
            await future
        finally:
            if entry in self._waiters:
                self._waiters.remove(entry)

    async def wait_for_receiver(self) -> None:
        await self.wait_until(lambda: bool(self._receivers()))

    async def wait_for_submits(self, count: int) -> None:
        await self.wait_until(lambda: len(self.submitted) >= count)

    def _wake_soon(self) -> None:
        """_wake() once at the end of this loop turn, however many submits it accepted."""
        if not self._wake_scheduled and self._waiters:
            self._wake_scheduled = True
            asyncio.get_running_loop().call_soon(self._wake)

    def _wake(self) -> None:
        self._wake_scheduled = False
        for predicate, future in list(self._waiters):
            if not future.done() and predicate():
                future.set_result(None)

    @property
    def bound_sessions(self) -> int:
        """Connections currently bound (any bind type)."""
        return sum(1 for lk in self._links if lk.session.bound)

    @property
    def submits_seen(self) -> int:
        """submit_sm PDUs answered so far, refused and throttled ones included."""
        return self._submits_seen

    def destination_counts(self) -> Counter[str]:
        return Counter(r.destination for r in self.submitted)

    def texts_to(self, number: str) -> list[str]:
        return [r.text for r in self.submitted if number_key(r.destination) == number_key(number)]

    def duplicates(self) -> dict[tuple[str, str], int]:
        """(destination, text) pairs accepted more than once."""
        pairs = Counter((number_key(r.destination), r.text) for r in self.submitted)
        return {pair: n for pair, n in pairs.items() if n > 1}

    # -- connections ---------------------------------------------------------

    def _receivers(self) -> list[_Link]:
        return [lk for lk in self._links if lk.session.state in _RECEIVERS]

    async def _serve_link(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        link = _Link(writer)
        self._links.append(link)
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        framer = Framer()
        try:
            while data := await reader.read(65536):
                try:
                    frames = framer.feed(data)
                except FramingError as err:
                    self._handle_frames(link, err.complete_frames)
                    self._log.warning("smsc_framing_error", reason=err.reason)
                    break
                if not self._handle_frames(link, frames):
                    break
                await link.out.drain()
        except ConnectionError:
            pass
        finally:
            self._link_lost(link)
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
            if task is not None:
                self._handlers.discard(task)

    def _handle_frames(self, link: _Link, frames: list[bytes]) -> bool:
        """Feed whole PDUs to the session; False when the connection must close."""
        chunk = self.answer_chunk
        for done, frame in enumerate(frames, start=1):
            if link.muted:
                continue
            link.received += 1
            fault = self._mo_resp_fault(link, frame)
            if self._should_drop(link) or fault == "drop":
                self.drops += 1
                self._log.info("smsc_fault_drop", pdu_number=link.received)
                return False
            if fault == "mute":
                link.muted = True
                self._log.info("smsc_fault_mute", pdu_number=link.received)
                continue
            events = link.session.receive_data(frame)
            link.write(link.session.data_to_send())
            for event in events:
                if isinstance(event, PduReceived):
                    self._on_request(link, event.pdu)
                elif isinstance(event, ResponseReceived):
                    self._on_response(link, event.pdu)
                elif isinstance(event, ProtocolViolation):
                    self.protocol_errors += 1
                    self._log.warning("smsc_protocol_error", error=str(event.error))
                    if event.fatal:
                        return False
                elif isinstance(event, Unbound):
                    return False
            if done % chunk == 0:
                link.out.flush()
        return True

    def _should_drop(self, link: _Link) -> bool:
        faults = self.faults
        if not faults.drop_after_pdus or link.received != faults.drop_after_pdus:
            return False
        return faults.drop_times is None or self.drops < faults.drop_times

    def _mo_resp_fault(self, link: _Link, frame: bytes) -> str | None:
        """Count the deliver_sm_resps to MOs; "drop" or "mute" for the one a fault names."""
        if int.from_bytes(frame[4:8], "big") != CommandId.DELIVER_SM_RESP:
            return None
        item = link.waiting.get(int.from_bytes(frame[12:16], "big"))
        if item is None or item.done is None:
            return None
        self.mo_resps += 1
        if self.mo_resps == self.faults.drop_on_mo_resp:
            return "drop"
        return "mute" if self.mo_resps == self.faults.mute_on_mo_resp else None

    def _link_lost(self, link: _Link) -> None:
        link.session.connection_lost()
        link.out.flush()  # what was answered before the loss still goes out
        link.writer.close()
        if link in self._links:
            self._links.remove(link)
        unanswered = list(link.waiting.values())
        link.waiting.clear()
        for item in unanswered:
            self.redeliveries += 1
            self._dispatch(item)
        self._log.info("smsc_connection_closed", system_id=link.system_id, requeued=len(unanswered))
        self._wake()

    def _on_request(self, link: _Link, pdu: Pdu) -> None:
        if pdu.command_id in (
            CommandId.BIND_TRANSMITTER, CommandId.BIND_RECEIVER, CommandId.BIND_TRANSCEIVER
        ):
            self._answer_bind(link, pdu)
        elif pdu.command_id == CommandId.SUBMIT_SM:
            self._answer_submit(link, pdu)
        else:
            self._send_response(link, response_for(pdu, CommandStatus.ESME_RINVCMDID))

    def _answer_bind(self, link: _Link, pdu: Pdu) -> None:
        system_id, password = pdu.get_str("system_id"), pdu.get_str("password")
        expected = self.credentials.get(system_id)
        if expected is None:
            status = CommandStatus.ESME_RINVSYSID
        elif not hmac.compare_digest(expected.encode(), password.encode()):
            status = CommandStatus.ESME_RINVPASWD
        else:
            status = CommandStatus.ESME_ROK
        if status == CommandStatus.ESME_ROK:
            self._send_response(link, response_for(pdu, status, system_id="SMSCSIM"))
            link.system_id = system_id
        else:
            self._send_response(link, response_for(pdu, status))
        self._log.info("smsc_bind", system_id=system_id, status=status_name(status),
                       state=link.session.state.value)
        if link.session.state in _RECEIVERS:
            parked, self._parked = self._parked, []
            for item in parked:
                self._dispatch(item)
        self._wake()

    def _send_response(self, link: _Link, resp: Pdu) -> bool:
        try:
            link.write(link.session.send(resp))
        except LocalProtocolError:
            return False  # the connection went away while the answer was delayed
        return not link.writer.is_closing()

    # -- submit_sm -----------------------------------------------------------

    def _answer_submit(self, link: _Link, pdu: Pdu) -> None:
        self._submits_seen += 1
        every = self.faults.throttle_every
        if every and self._submits_seen % every == 0:
            self._send_response(link, response_for(pdu, CommandStatus.ESME_RTHROTTLED))
            return
        try:
            parse_concat(pdu.get_int("esm_class"), pdu.short_message, pdu.tlvs)
        except UdhError as err:
            self._log.warning("smsc_bad_udh", reason=str(err))
            self._send_response(link, response_for(pdu, CommandStatus.ESME_RINVESMCLASS))
            return
        if self.faults.slow_resp > 0:
            self._later(self.faults.slow_resp, self._accept_submit, link, pdu)
        else:
            self._accept_submit(link, pdu)

    def _accept_submit(self, link: _Link, pdu: Pdu) -> None:
        self._next_id += 1
        message_id = f"{self._id_prefix:08x}{self._next_id:08x}"
        lose = self.faults.lost_resp_every
        if lose and (self.submitted_parts + 1) % lose == 0:
            self.lost_resps += 1
        elif not self._send_response(link, response_for(pdu, message_id=message_id)):
            return  # never acknowledged, so never accepted
        self.submitted_parts += 1
        info, body = parse_concat(pdu.get_int("esm_class"), pdu.short_message, pdu.tlvs)
        source, destination = pdu.get_str("source_addr"), pdu.get_str("destination_addr")
        data_coding = pdu.get_int("data_coding")
        now = asyncio.get_running_loop().time()
        if info is None or info.seq == 1:
            sent_times = self._pending_replies.get(number_key(destination))
            if sent_times:
                self.reply_latencies.append(now - sent_times.pop(0))
        registered = pdu.get_int("registered_delivery")
        text = self._decode(body, data_coding)
        self._schedule_receipts(link.system_id, pdu, message_id, text)
        ids, whole = [message_id], body
        if info is not None:
            sender = (link.system_id, source, destination)
            key = (sender, info.ref, info.total)
            self._part_ids.setdefault(key, []).append(message_id)
            joined = self._reassembler.add(sender, info, body, now)
            if joined is None:
                return
            ids, whole = self._part_ids.pop(key, ids), joined
        record = SubmitRecord(
            tuple(ids), link.system_id, source, destination,
            text if whole is body else decode(whole, data_coding),
            data_coding, registered, info.total if info else 1, now,
            pdu.get_str("service_type"), dict(pdu.tlvs),
        )
        self.submitted.append(record)
        if self.phone is not None:
            self.phone.deliver(destination, record.text, source)
        self._wake_soon()

    def _decode(self, body: bytes, data_coding: int) -> str:
        key = (body, data_coding)
        text = self._decoded.get(key)
        if text is None:
            if len(self._decoded) >= _CACHE_LIMIT:
                self._decoded.clear()
            text = self._decoded[key] = decode(body, data_coding)
        return text

    def _receipt_text(self, message_id: str, stat: str, err: str, text: str) -> str:
        """format_receipt_text's output, built from a cached template (the id leads it)."""
        second = int(time.time())
        if second != self._stamp_second:  # the receipt's dates have minute resolution
            now = datetime.now(UTC)
            self._stamp_second, self._stamp = second, (f"{now:%y%m%d%H%M}", now)
        minute, now = self._stamp
        key = (minute, stat, err, text)
        template = self._receipt_templates.get(key)
        if template is None:
            if len(self._receipt_templates) >= _CACHE_LIMIT:
                self._receipt_templates.clear()
            whole = format_receipt_text("", stat, submitted_at=now, done_at=now, err=err,
                                        text=text)
            template = self._receipt_templates[key] = whole.removeprefix("id:")
        return f"id:{message_id}{template}"

    def _schedule_receipts(self, system_id: str, submit: Pdu, message_id: str, text: str) -> None:
        """Receipts travel back along the MT's path: its addresses swapped, TON/NPI as given."""
        stat = self.faults.receipt_stat
        wanted = submit.get_int("registered_delivery") & 0x03
        if wanted == 0 or (wanted == REGISTERED_DELIVERY_ON_FAILURE and stat == "DELIVRD"):
            return
        if wanted not in (REGISTERED_DELIVERY_RECEIPT, REGISTERED_DELIVERY_ON_FAILURE):
            return
        steps = [("ENROUTE", self.receipt_delay / 2)] if self.faults.intermediate_receipts else []
        for step_stat, delay in [*steps, (stat, self.receipt_delay)]:
            receipt = self._receipt_text(
                message_id, step_stat,
                self.faults.receipt_err or ("000" if step_stat in ("DELIVRD", "ENROUTE")
                                            else "001"), text,
            )
            esm = ESM_INTERMEDIATE_NOTIFICATION if step_stat == "ENROUTE" else ESM_DELIVERY_RECEIPT
            addresses = {
                "source_addr": submit.get_str("destination_addr"),
                "source_addr_ton": submit.get_int("dest_addr_ton"),
                "source_addr_npi": submit.get_int("dest_addr_npi"),
                "destination_addr": submit.get_str("source_addr"),
                "dest_addr_ton": submit.get_int("source_addr_ton"),
                "dest_addr_npi": submit.get_int("source_addr_npi"),
            }
            tlvs: dict[int, bytes] = {
                Tag.RECEIPTED_MESSAGE_ID: message_id.encode() + b"\x00",
                Tag.MESSAGE_STATE: bytes((STATE_CODES[step_stat],)),
            }
            item = _Outbound(
                {**addresses, "esm_class": esm}, receipt.encode("latin-1", "replace"), tlvs,
                system_id=system_id,
            )
            self.receipts_scheduled += 1
            self._batch_later(delay, item)

    def _batch_later(self, delay: float, item: _Outbound) -> None:
        """Dispatch after `delay`; the items of one loop turn share a timer."""
        batch = self._receipt_batches.get(delay)
        if batch is None:
            batch = self._receipt_batches[delay] = []
            self._later(delay, self._dispatch_batch, delay, batch)
            # sealed at the end of this loop turn: later items get a timer of their own
            asyncio.get_running_loop().call_soon(self._seal_batch, delay, batch)
        batch.append(item)

    def _seal_batch(self, delay: float, batch: list[_Outbound]) -> None:
        if self._receipt_batches.get(delay) is batch:
            del self._receipt_batches[delay]

    def _dispatch_batch(self, delay: float, batch: list[_Outbound]) -> None:
        self._seal_batch(delay, batch)
        receivers = self._receivers()
        for item in batch:
            self._dispatch(item, receivers)

    # -- deliver_sm: MOs and receipts -----------------------------------------

    def _dispatch(self, item: _Outbound, receivers: list[_Link] | None = None) -> None:
        """Send on the next receiver (round-robin), or park until one binds."""
        if receivers is None:
            receivers = self._receivers()
        own = [lk for lk in receivers if lk.system_id == item.system_id]
        receivers = own or receivers
        if not receivers:
            self._parked.append(item)
            return
        self._rr = (self._rr + 1) % len(receivers)
        link = receivers[self._rr]
        params = dict(item.pdu_params)
        source, destination = params.pop("source_addr"), params.pop("destination_addr")
        pdu = make_deliver_sm(source, destination, item.short_message, tlvs=item.tlvs, **params)
        item.attempts += 1
        link.write(link.session.send(pdu, asyncio.get_running_loop().time()))
        link.waiting[pdu.sequence] = item

    def _on_response(self, link: _Link, pdu: Pdu) -> None:
        item = link.waiting.pop(pdu.sequence, None)
        if item is None:
            return
        if item.done is not None:
            if not item.done.done():
                item.done.set_result(pdu.command_status)
        elif not pdu.command_status:
            self.receipts_acked += 1
            self._wake_soon()
        elif item.attempts < _RECEIPT_MAX_ATTEMPTS:
            self._later(_RECEIPT_RETRY_DELAY, self._dispatch, item)
        else:
            self.receipts_abandoned += 1
            self._wake_soon()

    def _later(self, delay: float, callback: Callable[..., None], *args: Any) -> None:
        def fire() -> None:
            self._timers.discard(handle)
            callback(*args)

        handle = asyncio.get_running_loop().call_later(delay, fire)
        self._timers.add(handle)

    async def _sweep(self) -> None:
        """Redeliver deliver_sm left unanswered for resp_timeout; drop stale partial MTs."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(_SWEEP_INTERVAL)
            now = loop.time()
            for link in list(self._links):
                for seq in link.session.expired(now, self.resp_timeout, CommandId.DELIVER_SM):
                    link.session.forget(seq)
                    item = link.waiting.pop(seq, None)
                    if item is not None:
                        self.redeliveries += 1
                        self._dispatch(item)
            for partial in self._reassembler.expire(now):
                self.expired_partials += 1
                self._part_ids.pop((partial.key, partial.ref, partial.total), None)

    # -- MO injection ----------------------------------------------------------

    async def inject_mo(
        self, source: str, destination: str, text: str, *, reverse_parts: bool = False
    ) -> int:
        """Send one MO (split with UDH when long); the first error status, or ESM_ROK.

        `reverse_parts` sends a long MO's parts last first, as SMSCs that
        route parts over different paths sometimes do.
        """
        loop = asyncio.get_running_loop()
        self._mos_injected += 1
        every = self.faults.malformed_every
        if every and self._mos_injected % every == 0:
            self._send_garbage()
        self._next_ref = (self._next_ref + 1) % 256
        result = split(text, self._next_ref)
        record = MoRecord(source, destination, text, result.segments, loop.time())
        self.mos.append(record)
        self._pending_replies.setdefault(number_key(source), []).append(record.sent_at)
        futures: list[asyncio.Future[int]] = []
        for part in reversed(result.parts) if reverse_parts else result.parts:
            params = _mo_addresses(source, destination)
            params.update(esm_class=result.esm_class, data_coding=result.data_coding)
            done: asyncio.Future[int] = loop.create_future()
            futures.append(done)
            self._dispatch(_Outbound(params, part, {}, done=done))
        statuses = await asyncio.gather(*futures)
        record.acked_at = loop.time()
        record.status = next((s for s in statuses if s), CommandStatus.ESME_ROK)
        self._wake()
        return record.status

    def _send_garbage(self) -> None:
        """A deliver_sm whose body stops short: framing stays intact, decoding fails."""
        receivers = self._receivers()
        if receivers:
            body = b"\x00\x00\x00\xff\xff"
            header = (16 + len(body)).to_bytes(4, "big") + CommandId.DELIVER_SM.to_bytes(4, "big")
            sequence = 0x7FFFFF00 + self._mos_injected % 0xFF
            receivers[0].write(header + bytes(4) + sequence.to_bytes(4, "big") + body)

    async def inject_load(
        self,
        count: int,
        numbers: list[str],
        *,
        rate: float | None = None,
        window: int = 10,
        texts: list[str] | None = None,
        destination: str | None = None,
    ) -> LoadStats:
        """`count` MOs across `numbers`, at most `window` unanswered, at `rate` per second."""
        loop = asyncio.get_running_loop()
        bodies = texts or ["JOIN"]
        slots = asyncio.Semaphore(window)
        statuses: Counter[str] = Counter()
        latencies: list[float] = []

        async def one(index: int) -> None:
            try:
                sent = loop.time()
                status = await self.inject_mo(
                    numbers[index % len(numbers)], destination or self.shortcode,
                    bodies[index % len(bodies)],
                )
                latencies.append(loop.time() - sent)
                statuses[status_name(status)] += 1
            finally:
                slots.release()

        started = loop.time()
        async with asyncio.TaskGroup() as group:
            for index in range(count):
                if rate:
                    await asyncio.sleep(max(0.0, started + index / rate - loop.time()))
                await slots.acquire()
                group.create_task(one(index))
        return LoadStats(count, loop.time() - started, statuses, latencies)
