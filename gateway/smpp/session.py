"""Sans-I/O SMPP 3.4 session: bytes in -> events out, PDUs in -> bytes out.

Modelled on h11: no sockets, no asyncio, no clock reads (callers pass `now`),
so the ESME client and the SMSC simulator share one state machine and tests
can drive it byte by byte. Every rule about which PDU may flow in which state
lives in the two tables below; an illegal send raises LocalProtocolError and
leaves the state unchanged, an illegal receive is answered on the wire and
reported as a ProtocolViolation event.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Literal

from gateway.smpp.constants import (
    MAX_COMMAND_LENGTH,
    RESPONSE_BIT,
    CommandId,
    CommandStatus,
    command_name,
)
from gateway.smpp.errors import (
    FramingError,
    LocalProtocolError,
    PduError,
    RemoteProtocolError,
)
from gateway.smpp.pdu import (
    LAYOUTS,
    Framer,
    Pdu,
    decode,
    encode,
    make_generic_nack,
    next_sequence,
)

Role = Literal["esme", "smsc"]


class State(Enum):
    OPEN = "open"  # connected, not bound
    BINDING = "binding"  # ESME sent a bind, awaiting the resp
    BOUND_TX = "bound_tx"
    BOUND_RX = "bound_rx"
    BOUND_TRX = "bound_trx"
    UNBINDING = "unbinding"  # we sent unbind, awaiting the resp
    CLOSED = "closed"


BOUND = frozenset({State.BOUND_TX, State.BOUND_RX, State.BOUND_TRX})
_TX = frozenset({State.BOUND_TX, State.BOUND_TRX})
_RX = frozenset({State.BOUND_RX, State.BOUND_TRX})
_LIVE = frozenset(set(State) - {State.CLOSED})
_C = CommandId

# Requests each role may send, and in which of its own states. The peer checks
# an incoming request against the sender's row in its own (mirrored) state.
MAY_SEND: dict[Role, dict[int, frozenset[State]]] = {
    "esme": {
        _C.BIND_TRANSMITTER: frozenset({State.OPEN}),
        _C.BIND_RECEIVER: frozenset({State.OPEN}),
        _C.BIND_TRANSCEIVER: frozenset({State.OPEN}),
        _C.SUBMIT_SM: _TX,
        _C.QUERY_SM: _TX,
        _C.DATA_SM: _TX,
        _C.ENQUIRE_LINK: _LIVE,
        _C.UNBIND: BOUND | {State.UNBINDING},
    },
    "smsc": {
        _C.OUTBIND: frozenset({State.OPEN}),
        _C.DELIVER_SM: _RX,
        _C.DATA_SM: _RX,
        _C.ALERT_NOTIFICATION: _RX,
        _C.ENQUIRE_LINK: _LIVE,
        _C.UNBIND: BOUND | {State.UNBINDING},
    },
}

# (state, trigger, command_id) -> next state. Triggers: "send"/"recv" a
# request; "send_ok" a response with ESME_ROK; "recv_ok"/"recv_err" the
# response to one of our requests (a generic_nack counts as recv_err of the
# response it replaces).
TRANSITIONS: dict[tuple[State, str, int], State] = {}
for _bind, _resp, _bound in (
    (_C.BIND_TRANSMITTER, _C.BIND_TRANSMITTER_RESP, State.BOUND_TX),
    (_C.BIND_RECEIVER, _C.BIND_RECEIVER_RESP, State.BOUND_RX),
    (_C.BIND_TRANSCEIVER, _C.BIND_TRANSCEIVER_RESP, State.BOUND_TRX),
):
    TRANSITIONS[State.OPEN, "send", _bind] = State.BINDING
    TRANSITIONS[State.BINDING, "recv_ok", _resp] = _bound
    TRANSITIONS[State.BINDING, "recv_err", _resp] = State.OPEN
    TRANSITIONS[State.OPEN, "send_ok", _resp] = _bound
for _state in (*BOUND, State.UNBINDING):
    TRANSITIONS[_state, "send", _C.UNBIND] = State.UNBINDING
    TRANSITIONS[_state, "recv", _C.UNBIND] = State.CLOSED
TRANSITIONS[State.UNBINDING, "send", _C.UNBIND] = State.UNBINDING
TRANSITIONS[State.UNBINDING, "recv_ok", _C.UNBIND_RESP] = State.CLOSED
TRANSITIONS[State.UNBINDING, "recv_err", _C.UNBIND_RESP] = State.CLOSED

_BINDS = frozenset({_C.BIND_TRANSMITTER, _C.BIND_RECEIVER, _C.BIND_TRANSCEIVER})
_UNANSWERED = frozenset({_C.OUTBIND, _C.ALERT_NOTIFICATION})  # requests without a *_resp


@dataclass(frozen=True, slots=True)
class PduReceived:
    """A request the application must handle (and answer, unless it has no *_resp)."""

    pdu: Pdu


@dataclass(frozen=True, slots=True)
class ResponseReceived:
    """The answer (or generic_nack) to one of our requests, with what and when we sent."""

    pdu: Pdu
    request_command_id: int
    sent_at: float


@dataclass(frozen=True, slots=True)
class Bound:
    pdu: Pdu
    state: State

    @property
    def system_id(self) -> str:
        return self.pdu.get_str("system_id")


@dataclass(frozen=True, slots=True)
class BindRefused:
    pdu: Pdu
    status: int


@dataclass(frozen=True, slots=True)
class Unbound:
    """The session ended cleanly; `pdu` is the unbind (by_peer) or our unbind's resp."""

    pdu: Pdu
    by_peer: bool


@dataclass(frozen=True, slots=True)
class ProtocolViolation:
    """The peer sent garbage. Non-fatal: already answered. Fatal: close the connection."""

    error: PduError | RemoteProtocolError
    fatal: bool


Event = PduReceived | ResponseReceived | Bound | BindRefused | Unbound | ProtocolViolation


class SmppSession:
    def __init__(self, role: Role, *, max_length: int = MAX_COMMAND_LENGTH) -> None:
        if role not in MAY_SEND:
            raise ValueError(f"role must be 'esme' or 'smsc', not {role!r}")
        self.role: Role = role
        self._peer: Role = "smsc" if role == "esme" else "esme"
        self._state = State.OPEN
        self._max_length = max_length
        self._framer: Framer | None = Framer(max_length)
        self._outbox = bytearray()
        self._last_sequence = 0
        self._outstanding: dict[int, tuple[int, float]] = {}  # our requests: seq -> (id, sent)
        self._pending: dict[int, list[int]] = {}  # peer's requests we still owe an answer

    @property
    def state(self) -> State:
        return self._state

    @property
    def bound(self) -> bool:
        return self._state in BOUND

    @property
    def outstanding(self) -> dict[int, tuple[int, float]]:
        """Copy of our unanswered requests: sequence -> (command_id, sent_at)."""
        return dict(self._outstanding)

    @property
    def pending_count(self) -> int:
        """Peer requests handed to the application and not yet answered."""
        return sum(len(ids) for ids in self._pending.values())

    # -- receiving ---------------------------------------------------------

    def receive_data(self, data: bytes) -> list[Event]:
        """Feed bytes from the peer; returns events, queues automatic replies."""
        events: list[Event] = []
        if self._framer is None:
            return events
        try:
            frames = self._framer.feed(data)
        except FramingError as err:
            for frame in err.complete_frames:
                self._receive_frame(frame, events)
            self._queue(make_generic_nack(err.command_status, err.sequence))
            self._state = State.CLOSED
            self._framer = None
            events.append(ProtocolViolation(err, fatal=True))
            return events
        for frame in frames:
            self._receive_frame(frame, events)
        return events

    def _receive_frame(self, frame: bytes, events: list[Event]) -> None:
        try:
            pdu = decode(frame, max_length=self._max_length)
        except PduError as err:
            self._answer_undecodable(err)
            events.append(ProtocolViolation(err, fatal=False))
            return
        if pdu.command_id & RESPONSE_BIT:
            self._receive_response(pdu, events)
        else:
            self._receive_request(pdu, events)

    def _answer_undecodable(self, err: PduError) -> None:
        command_id = err.command_id
        if command_id & RESPONSE_BIT and command_id in LAYOUTS:
            return  # never answer a response; the request it answers will time out
        resp_id = command_id | RESPONSE_BIT
        if (
            command_id in LAYOUTS
            and resp_id in LAYOUTS
            and err.command_status != CommandStatus.ESME_RINVCMDLEN
        ):
            self._queue(Pdu(resp_id, err.command_status, err.sequence))
        elif command_id not in _UNANSWERED:
            self._queue(make_generic_nack(err.command_status, err.sequence))

    def _receive_request(self, pdu: Pdu, events: list[Event]) -> None:
        command_id = pdu.command_id
        allowed = MAY_SEND[self._peer].get(command_id)
        if allowed is None:
            error = RemoteProtocolError(
                f"{pdu.name} is never sent by an {self._peer}", CommandStatus.ESME_RINVCMDID
            )
            self._queue(make_generic_nack(CommandStatus.ESME_RINVCMDID, pdu.sequence))
            events.append(ProtocolViolation(error, fatal=False))
            return
        if self._state not in allowed:
            status = (
                CommandStatus.ESME_RALYBND
                if command_id in _BINDS and self._state in BOUND
                else CommandStatus.ESME_RINVBNDSTS
            )
            error = RemoteProtocolError(
                f"{pdu.name} not allowed in state {self._state.value}", status
            )
            if command_id not in _UNANSWERED:
                self._queue(Pdu(command_id | RESPONSE_BIT, status, pdu.sequence))
            events.append(ProtocolViolation(error, fatal=False))
            return
        if command_id == _C.ENQUIRE_LINK:
            self._queue(Pdu(_C.ENQUIRE_LINK_RESP, 0, pdu.sequence))
            return
        if command_id == _C.UNBIND:
            self._queue(Pdu(_C.UNBIND_RESP, 0, pdu.sequence))
            self._advance("recv", command_id)
            events.append(Unbound(pdu, by_peer=True))
            return
        if command_id not in _UNANSWERED:
            self._pending.setdefault(pdu.sequence, []).append(command_id)
        events.append(PduReceived(pdu))

    def _receive_response(self, pdu: Pdu, events: list[Event]) -> None:
        entry = self._outstanding.get(pdu.sequence)
        if entry is None:
            error = RemoteProtocolError(
                f"{pdu.name} with sequence {pdu.sequence} answers nothing we sent",
                CommandStatus.ESME_RUNKNOWNERR,
            )
            events.append(ProtocolViolation(error, fatal=False))
            return
        request_id, sent_at = entry
        expected = request_id | RESPONSE_BIT
        if pdu.command_id not in (expected, _C.GENERIC_NACK):
            error = RemoteProtocolError(
                f"{pdu.name} answers sequence {pdu.sequence}, a {command_name(request_id)}",
                CommandStatus.ESME_RINVCMDID,
            )
            events.append(ProtocolViolation(error, fatal=False))
            return
        del self._outstanding[pdu.sequence]
        ok = pdu.command_status == 0 and pdu.command_id != _C.GENERIC_NACK
        self._advance("recv_ok" if ok else "recv_err", expected)
        if request_id in _BINDS:
            events.append(Bound(pdu, self._state) if ok else BindRefused(pdu, pdu.command_status))
        elif request_id == _C.UNBIND:
            events.append(Unbound(pdu, by_peer=False))
        else:
            events.append(ResponseReceived(pdu, request_id, sent_at))

    # -- sending -----------------------------------------------------------

    def send(self, pdu: Pdu, now: float = 0.0) -> bytes:
        """Bytes for `pdu`. Requests with sequence 0 get the next free number (set on pdu)."""
        if self._state is State.CLOSED:
            raise LocalProtocolError(f"cannot send {pdu.name}: session closed")
        if pdu.command_id & RESPONSE_BIT:
            return self._send_response(pdu)
        allowed = MAY_SEND[self.role].get(pdu.command_id)
        if allowed is None:
            raise LocalProtocolError(f"an {self.role} never sends {pdu.name}")
        if self._state not in allowed:
            raise LocalProtocolError(
                f"cannot send {pdu.name} in state {self._state.value}; bind first"
            )
        assigned = pdu.sequence == 0
        if assigned:
            pdu.sequence = self._free_sequence()
        elif pdu.sequence in self._outstanding:
            raise LocalProtocolError(f"sequence {pdu.sequence} is already awaiting a response")
        try:
            data = encode(pdu)
        except PduError as err:
            if assigned:
                pdu.sequence = 0
            raise LocalProtocolError(f"cannot encode {pdu.name}: {err.reason}") from err
        if assigned:
            self._last_sequence = pdu.sequence
        if pdu.command_id not in _UNANSWERED:
            self._outstanding[pdu.sequence] = (pdu.command_id, now)
        self._advance("send", pdu.command_id)
        return data

    def _send_response(self, pdu: Pdu) -> bytes:
        waiting = self._pending.get(pdu.sequence)
        request_id = pdu.command_id & ~RESPONSE_BIT
        if pdu.command_id == _C.GENERIC_NACK and waiting:
            request_id = waiting[0]
        if not waiting or request_id not in waiting:
            raise LocalProtocolError(
                f"cannot send {pdu.name}: no {command_name(request_id)} with sequence "
                f"{pdu.sequence} is waiting for an answer"
            )
        try:
            data = encode(pdu)
        except PduError as err:
            raise LocalProtocolError(f"cannot encode {pdu.name}: {err.reason}") from err
        waiting.remove(request_id)
        if not waiting:
            del self._pending[pdu.sequence]
        if pdu.command_status == 0 and pdu.command_id != _C.GENERIC_NACK:
            self._advance("send_ok", pdu.command_id)
        return data

    def data_to_send(self) -> bytes:
        """Automatic replies queued by receive_data (enquire_link_resp, nacks...)."""
        data = bytes(self._outbox)
        self._outbox.clear()
        return data

    # -- timeouts and teardown ---------------------------------------------

    def expired(self, now: float, timeout: float, command_id: int | None = None) -> list[int]:
        """Sequences of our requests sent at or before `now - timeout`, oldest first."""
        limit = now - timeout
        return [
            seq
            for seq, (sent_id, sent_at) in self._outstanding.items()
            if sent_at <= limit and (command_id is None or sent_id == command_id)
        ]

    def forget(self, sequence: int) -> int | None:
        """Stop waiting for a response (timed out); returns its command_id if it was waiting."""
        entry = self._outstanding.pop(sequence, None)
        return None if entry is None else entry[0]

    def connection_lost(self) -> list[int]:
        """Mark the session closed; returns the sequences that will never be answered."""
        lost = list(self._outstanding)
        self._outstanding.clear()
        self._pending.clear()
        self._state = State.CLOSED
        self._framer = None
        return lost

    # -- internals ---------------------------------------------------------

    def _advance(self, trigger: str, command_id: int) -> None:
        self._state = TRANSITIONS.get((self._state, trigger, command_id), self._state)

    def _queue(self, pdu: Pdu) -> None:
        self._outbox += encode(pdu)

    def _free_sequence(self) -> int:
        sequence = next_sequence(self._last_sequence)
        while sequence in self._outstanding:
            sequence = next_sequence(sequence)
        return sequence
