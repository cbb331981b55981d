"""Sans-I/O session: byte tables, an ESME and an SMSC back to back, and fuzzing."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.smpp.constants import CommandId, CommandStatus
from gateway.smpp.errors import FramingError, LocalProtocolError, PduError, RemoteProtocolError
from gateway.smpp.pdu import (
    Framer,
    Pdu,
    decode,
    encode,
    make_bind,
    make_deliver_sm,
    make_enquire_link,
    make_submit_sm,
    make_unbind,
    response_for,
)
from gateway.smpp.session import (
    BindRefused,
    Bound,
    Event,
    PduReceived,
    ProtocolViolation,
    ResponseReceived,
    SmppSession,
    State,
    Unbound,
)

C = CommandId
S = CommandStatus


def h(text: str) -> bytes:
    return bytes.fromhex("".join(text.split()))


def state_of(session: SmppSession) -> State:
    """Reads the state afresh (mypy would otherwise keep an earlier narrowed value)."""
    return session.state


def replies(session: SmppSession) -> list[Pdu]:
    return [decode(frame) for frame in Framer().feed(session.data_to_send())]


def bound_pair(mode: int = C.BIND_TRANSCEIVER) -> tuple[SmppSession, SmppSession]:
    esme, smsc = SmppSession("esme"), SmppSession("smsc")
    [received] = smsc.receive_data(esme.send(make_bind(mode, "gw", "pw"), now=1.0))
    assert isinstance(received, PduReceived)
    [event] = esme.receive_data(smsc.send(response_for(received.pdu, system_id="SMSC")))
    assert isinstance(event, Bound)
    return esme, smsc


def test_bind_back_to_back() -> None:
    esme, smsc = SmppSession("esme"), SmppSession("smsc")
    bind = make_bind(C.BIND_TRANSCEIVER, "gw", "pw")
    data = esme.send(bind, now=1.0)
    assert bind.sequence == 1
    assert esme.state is State.BINDING and esme.outstanding == {1: (C.BIND_TRANSCEIVER, 1.0)}
    [event] = smsc.receive_data(data)
    assert isinstance(event, PduReceived) and event.pdu.get_str("password") == "pw"
    assert smsc.state is State.OPEN and smsc.pending_count == 1
    [bound] = esme.receive_data(smsc.send(response_for(event.pdu, system_id="SMSC")))
    assert isinstance(bound, Bound) and bound.system_id == "SMSC"
    assert bound.state is State.BOUND_TRX
    assert state_of(esme) is state_of(smsc) is State.BOUND_TRX
    assert esme.bound and smsc.bound and smsc.pending_count == 0 and not esme.outstanding


@pytest.mark.parametrize(
    ("mode", "state"),
    [(C.BIND_TRANSMITTER, State.BOUND_TX), (C.BIND_RECEIVER, State.BOUND_RX)],
)
def test_split_binds(mode: int, state: State) -> None:
    esme, smsc = bound_pair(mode)
    assert esme.state is smsc.state is state


def test_bind_refused_then_retry() -> None:
    esme, smsc = SmppSession("esme"), SmppSession("smsc")
    [request] = smsc.receive_data(esme.send(make_bind(C.BIND_TRANSCEIVER, "gw", "bad")))
    assert isinstance(request, PduReceived)
    [event] = esme.receive_data(smsc.send(response_for(request.pdu, S.ESME_RINVPASWD)))
    assert isinstance(event, BindRefused) and event.status == S.ESME_RINVPASWD
    assert esme.state is smsc.state is State.OPEN
    esme.send(make_bind(C.BIND_TRANSCEIVER, "gw", "good"))
    assert state_of(esme) is State.BINDING


def test_generic_nack_to_bind_is_a_refusal() -> None:
    esme = SmppSession("esme")
    esme.send(make_bind(C.BIND_TRANSMITTER, "gw", "pw"))
    [event] = esme.receive_data(h("00000010 80000000 00000003 00000001"))
    assert isinstance(event, BindRefused) and event.status == S.ESME_RINVCMDID
    assert esme.state is State.OPEN


def test_submit_and_deliver_back_to_back() -> None:
    esme, smsc = bound_pair()
    submit = make_submit_sm("12345", "15551234567", b"hi")
    [request] = smsc.receive_data(esme.send(submit, now=5.0))
    assert isinstance(request, PduReceived) and request.pdu == submit
    [answer] = esme.receive_data(smsc.send(response_for(request.pdu, message_id="m1")))
    assert isinstance(answer, ResponseReceived)
    assert answer.request_command_id == C.SUBMIT_SM and answer.sent_at == 5.0
    assert answer.pdu.get_str("message_id") == "m1"

    deliver = make_deliver_sm("15551234567", "12345", b"JOIN")
    [mo] = esme.receive_data(smsc.send(deliver))
    assert isinstance(mo, PduReceived) and mo.pdu.short_message == b"JOIN"
    assert esme.pending_count == 1
    [ack] = smsc.receive_data(esme.send(response_for(mo.pdu)))
    assert isinstance(ack, ResponseReceived) and ack.request_command_id == C.DELIVER_SM
    assert esme.pending_count == 0
    with pytest.raises(LocalProtocolError):
        esme.send(response_for(mo.pdu))  # answered already


def test_enquire_link_answered_automatically_both_ways() -> None:
    esme, smsc = bound_pair()
    assert smsc.receive_data(esme.send(make_enquire_link())) == []
    [answer] = esme.receive_data(smsc.data_to_send())
    assert isinstance(answer, ResponseReceived) and answer.pdu.command_id == C.ENQUIRE_LINK_RESP
    assert esme.receive_data(smsc.send(make_enquire_link())) == []
    [back] = smsc.receive_data(esme.data_to_send())
    assert isinstance(back, ResponseReceived)


def test_enquire_link_byte_table() -> None:
    esme, _ = bound_pair()
    assert esme.receive_data(h("00000010 00000015 00000000 0000abcd")) == []
    assert esme.data_to_send() == h("00000010 80000015 00000000 0000abcd")
    assert esme.data_to_send() == b""


def test_unbind_back_to_back() -> None:
    esme, smsc = bound_pair()
    unbind = make_unbind()
    data = esme.send(unbind)
    assert esme.state is State.UNBINDING
    [event] = smsc.receive_data(data)
    assert isinstance(event, Unbound) and event.by_peer and smsc.state is State.CLOSED
    [done] = esme.receive_data(smsc.data_to_send())
    assert isinstance(done, Unbound) and not done.by_peer
    assert done.pdu.command_id == C.UNBIND_RESP and state_of(esme) is State.CLOSED
    with pytest.raises(LocalProtocolError):
        esme.send(make_enquire_link())


def test_illegal_sends_leave_state_unchanged() -> None:
    esme, smsc = SmppSession("esme"), SmppSession("smsc")
    submit = make_submit_sm("1", "2")
    with pytest.raises(LocalProtocolError, match="bind first"):
        esme.send(submit)
    assert submit.sequence == 0 and esme.state is State.OPEN and not esme.outstanding
    with pytest.raises(LocalProtocolError):
        esme.send(make_deliver_sm("1", "2"))
    with pytest.raises(LocalProtocolError):
        smsc.send(make_bind(C.BIND_TRANSCEIVER, "a", "b"))
    with pytest.raises(LocalProtocolError):
        smsc.send(Pdu(C.SUBMIT_SM_RESP, 0, 3, {"message_id": "x"}))
    too_long = make_bind(C.BIND_TRANSCEIVER, "x" * 16, "pw")
    with pytest.raises(LocalProtocolError, match="cannot encode"):
        esme.send(too_long)
    assert too_long.sequence == 0 and esme.state is State.OPEN and not esme.outstanding
    with pytest.raises(ValueError):
        SmppSession("router")  # type: ignore[arg-type]


def test_sequences_skip_outstanding_and_wrap() -> None:
    esme, _ = bound_pair()
    first = make_enquire_link()
    esme.send(first)
    assert first.sequence == 2  # 1 went to the bind
    explicit = make_enquire_link(sequence=0x7FFFFFFF)
    esme.send(explicit)
    with pytest.raises(LocalProtocolError, match="already awaiting"):
        esme.send(make_enquire_link(sequence=2))
    for _ in range(3):
        esme.send(make_enquire_link())
    assert sorted(esme.outstanding) == [2, 3, 4, 5, 0x7FFFFFFF]


def test_expired_forget_and_connection_lost() -> None:
    esme, _ = bound_pair()
    old, new = make_submit_sm("1", "2"), make_enquire_link()
    esme.send(old, now=10.0)
    esme.send(new, now=20.0)
    assert esme.expired(now=25.0, timeout=10.0) == [old.sequence]
    assert esme.expired(now=40.0, timeout=10.0, command_id=C.ENQUIRE_LINK) == [new.sequence]
    assert esme.forget(old.sequence) == C.SUBMIT_SM
    assert esme.forget(old.sequence) is None
    late = encode(response_for(old, message_id="late"))
    [event] = esme.receive_data(late)
    assert isinstance(event, ProtocolViolation) and not event.fatal
    assert esme.connection_lost() == [new.sequence]
    assert esme.state is State.CLOSED and esme.receive_data(late) == []


# -- the peer's mistakes: answered on the wire, never raised --------------------


def one_violation(session: SmppSession, data: bytes) -> ProtocolViolation:
    [event] = session.receive_data(data)
    assert isinstance(event, ProtocolViolation) and not event.fatal
    return event


def test_submit_before_bind_gets_rinvbndsts() -> None:
    smsc = SmppSession("smsc")
    one_violation(smsc, encode(make_submit_sm("1", "2", sequence=9)))
    assert smsc.data_to_send() == h("00000010 80000004 00000004 00000009")


def test_esme_answers_submit_sm_with_generic_nack() -> None:
    esme, _ = bound_pair()
    event = one_violation(esme, encode(make_submit_sm("1", "2", sequence=4)))
    assert isinstance(event.error, RemoteProtocolError)
    assert esme.data_to_send() == h("00000010 80000000 00000003 00000004")


def test_second_bind_gets_ralybnd() -> None:
    _, smsc = bound_pair()
    one_violation(smsc, encode(make_bind(C.BIND_TRANSCEIVER, "gw", "pw", sequence=8)))
    assert smsc.data_to_send() == h("00000010 80000009 00000005 00000008")


def test_deliver_sm_while_transmitter_only_is_refused_not_lost() -> None:
    esme, _ = bound_pair(C.BIND_TRANSMITTER)
    one_violation(esme, encode(make_deliver_sm("1", "2", sequence=3)))
    [resp] = replies(esme)
    assert (resp.command_id, resp.command_status) == (C.DELIVER_SM_RESP, S.ESME_RINVBNDSTS)


def test_unknown_command_id_gets_generic_nack() -> None:
    esme, _ = bound_pair()
    event = one_violation(esme, h("00000010 00000042 00000000 00000005"))
    assert isinstance(event.error, PduError)
    assert esme.data_to_send() == h("00000010 80000000 00000003 00000005")
    assert esme.state is State.BOUND_TRX


def test_malformed_deliver_sm_gets_its_resp_with_the_error() -> None:
    esme, _ = bound_pair()
    good = encode(make_deliver_sm("1", "2", b"abc", sequence=6))
    bad = good[:-4] + b"\x09" + good[-3:]  # sm_length says 9, only 3 bytes follow
    event = one_violation(esme, bad)
    assert isinstance(event.error, PduError)
    assert event.error.command_status == S.ESME_RINVMSGLEN
    assert esme.data_to_send() == h("00000010 80000005 00000001 00000006")
    assert esme.state is State.BOUND_TRX


def test_truncated_body_gets_generic_nack_rinvcmdlen() -> None:
    esme, _ = bound_pair()
    one_violation(esme, h("00000011 00000005 00000000 00000007 00"))
    assert esme.data_to_send() == h("00000010 80000000 00000002 00000007")


def test_unsolicited_and_mismatched_responses_are_not_answered() -> None:
    esme, _ = bound_pair()
    one_violation(esme, h("00000011 80000004 00000000 00000063 00"))
    ping = make_enquire_link()
    esme.send(ping)
    wrong = Pdu(C.SUBMIT_SM_RESP, 0, ping.sequence, {"message_id": "x"})
    one_violation(esme, encode(wrong))
    assert esme.data_to_send() == b""
    assert ping.sequence in esme.outstanding


def test_broken_framing_is_fatal_after_earlier_frames() -> None:
    esme, smsc = bound_pair()
    deliver = smsc.send(make_deliver_sm("1", "2", b"x"))
    events = esme.receive_data(deliver + h("00000004 00000005 00000000 00000011"))
    assert isinstance(events[0], PduReceived)
    assert isinstance(events[1], ProtocolViolation) and events[1].fatal
    assert isinstance(events[1].error, FramingError)
    assert esme.state is State.CLOSED
    assert esme.data_to_send() == h("00000010 80000000 00000002 00000011")
    assert esme.receive_data(deliver) == []


def test_peer_unbind_while_bound() -> None:
    esme, smsc = bound_pair()
    [event] = esme.receive_data(smsc.send(make_unbind()))
    assert isinstance(event, Unbound) and event.by_peer and esme.state is State.CLOSED
    [done] = smsc.receive_data(esme.data_to_send())
    assert isinstance(done, Unbound) and smsc.state is State.CLOSED


# -- fuzzing ----------------------------------------------------------------------

VALID_FRAMES = [
    encode(make_deliver_sm("15551234567", "12345", b"hello", sequence=10)),
    encode(make_submit_sm("12345", "15551234567", b"hi", sequence=11)),
    encode(make_enquire_link(sequence=12)),
    encode(make_bind(C.BIND_TRANSCEIVER, "gw", "pw", sequence=13)),
    encode(Pdu(C.SUBMIT_SM_RESP, 0, 1, {"message_id": "x"})),
    h("00000010 80000000 00000003 00000001"),
    encode(make_unbind(sequence=14)),
]


def mutate(frame: bytes, data: st.DataObject) -> bytes:
    mutated = bytearray(frame)
    for _ in range(data.draw(st.integers(0, 3))):
        index = data.draw(st.integers(4, len(mutated) - 1))
        mutated[index] = data.draw(st.integers(0, 255))
    return bytes(mutated)


def check_consistent(session: SmppSession, events: list[Event]) -> None:
    assert isinstance(session.state, State)
    assert session.pending_count >= 0
    for frame in Framer().feed(session.data_to_send()):
        reply = decode(frame)  # every automatic reply is itself a valid PDU
        assert reply.is_response
    fatal = [e for e in events if isinstance(e, ProtocolViolation) and e.fatal]
    if fatal:
        assert session.state is State.CLOSED and fatal[-1] is events[-1]


@settings(max_examples=200)
@given(st.sampled_from(["esme", "smsc"]), st.booleans(), st.data())
def test_fuzzed_streams_only_produce_events(role: str, bind: bool, data: st.DataObject) -> None:
    if role == "esme":
        session, other = bound_pair() if bind else (SmppSession("esme"), SmppSession("smsc"))
    else:
        other, session = bound_pair() if bind else (SmppSession("esme"), SmppSession("smsc"))
    chunks = data.draw(st.lists(
        st.one_of(
            st.sampled_from(VALID_FRAMES),
            st.sampled_from(VALID_FRAMES).map(lambda f: mutate(f, data)),
            st.binary(max_size=40),
        ),
        max_size=8,
    ))
    stream = b"".join(chunks)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=5)))
    previous = 0
    for cut in [*cuts, len(stream)]:
        events = session.receive_data(stream[previous:cut])
        previous = cut
        check_consistent(session, events)
        for event in events:
            if isinstance(event, PduReceived) and session.state is not State.CLOSED:
                # e.g. the same sequence answered twice, or a PDU without a *_resp
                with contextlib.suppress(LocalProtocolError, ValueError):
                    session.send(response_for(event.pdu))
    assert other.state in State


@given(st.binary(max_size=200))
def test_random_bytes_never_raise(data: bytes) -> None:
    esme, _ = bound_pair()
    events = esme.receive_data(data)
    check_consistent(esme, events)
