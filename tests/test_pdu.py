"""Codec tests: byte tables, strictness, hypothesis, and smpplib as the reference."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from smpplib import smpp as smpplib_smpp

from gateway.smpp.constants import (
    MAX_COMMAND_LENGTH,
    CommandId,
    CommandStatus,
    Tag,
    command_name,
    status_name,
)
from gateway.smpp.errors import FramingError, PduError
from gateway.smpp.pdu import (
    LAYOUTS,
    Framer,
    Pdu,
    decode,
    encode,
    make_bind,
    make_deliver_sm,
    make_generic_nack,
    make_submit_sm,
    next_sequence,
    response_for,
    tlv_int,
)

S = CommandStatus
C = CommandId


def h(text: str) -> bytes:
    return bytes.fromhex("".join(text.split()))


# (name, hex of the whole PDU, the Pdu it decodes to)
BYTE_TABLE: list[tuple[str, str, Pdu]] = [
    (
        "bind_transceiver",
        "00000024 00000009 00000000 00000001 "
        "67617465776179 00 736563726574 00 00 34 01 01 00",
        make_bind(C.BIND_TRANSCEIVER, "gateway", "secret", addr_ton=1, addr_npi=1, sequence=1),
    ),
    (
        "bind_transceiver_resp",
        "00000015 80000009 00000000 00000001 534d534300",
        Pdu(C.BIND_TRANSCEIVER_RESP, 0, 1, {"system_id": "SMSC"}),
    ),
    (
        "bind_transceiver_resp refused without body",
        "00000010 80000009 0000000e 00000001",
        Pdu(C.BIND_TRANSCEIVER_RESP, S.ESME_RINVPASWD, 1),
    ),
    (
        "submit_sm",
        "00000033 00000004 00000000 00000002 "
        "00 05 00 3132333435 00 01 01 3135353531323334353637 00 "
        "00 00 00 00 00 01 00 00 00 02 6869",
        make_submit_sm(
            "12345", "15551234567", b"hi", sequence=2, source_addr_ton=5,
            dest_addr_ton=1, dest_addr_npi=1, registered_delivery=1,
        ),
    ),
    (
        "submit_sm_resp",
        "00000016 80000004 00000000 00000002 6d73672d3100",
        Pdu(C.SUBMIT_SM_RESP, 0, 2, {"message_id": "msg-1"}),
    ),
    (
        "deliver_sm with sar TLVs",
        "0000003c 00000005 00000000 0000002a "
        "00 01 01 3135353531323334353637 00 00 00 3132333435 00 "
        "40 00 00 00 00 00 00 08 00 00 "
        "020c 0002 0102 020e 0001 02",
        make_deliver_sm(
            "15551234567", "12345", b"", sequence=42, source_addr_ton=1, source_addr_npi=1,
            esm_class=0x40, data_coding=8,
            tlvs={Tag.SAR_MSG_REF_NUM: b"\x01\x02", Tag.SAR_TOTAL_SEGMENTS: b"\x02"},
        ),
    ),
    (
        "deliver_sm_resp",
        "00000011 80000005 00000000 0000002a 00",
        Pdu(C.DELIVER_SM_RESP, 0, 42, {"message_id": ""}),
    ),
    ("enquire_link", "00000010 00000015 00000000 00000007", Pdu(C.ENQUIRE_LINK, 0, 7)),
    ("enquire_link_resp", "00000010 80000015 00000000 00000007", Pdu(C.ENQUIRE_LINK_RESP, 0, 7)),
    (
        "generic_nack",
        "00000010 80000000 00000003 00000009",
        make_generic_nack(S.ESME_RINVCMDID, 9),
    ),
    ("unbind", "00000010 00000006 00000000 00000003", Pdu(C.UNBIND, 0, 3)),
]


@pytest.mark.parametrize(("hex_pdu", "expected"), [(t[1], t[2]) for t in BYTE_TABLE],
                         ids=[t[0] for t in BYTE_TABLE])
def test_byte_table(hex_pdu: str, expected: Pdu) -> None:
    assert decode(h(hex_pdu)) == expected
    assert encode(expected) == h(hex_pdu)


def test_helpers() -> None:
    pdu = make_deliver_sm("1", "2", b"x", tlvs={Tag.SAR_MSG_REF_NUM: tlv_int(513, 2),
                                                 Tag.RECEIPTED_MESSAGE_ID: b"abc\x00"})
    assert pdu.name == "deliver_sm"
    assert pdu.tlv_int(Tag.SAR_MSG_REF_NUM) == 513
    assert pdu.tlv_int(Tag.MESSAGE_STATE) is None
    assert pdu.tlv_str(Tag.RECEIPTED_MESSAGE_ID) == "abc"
    assert pdu.get_str("source_addr") == "1"
    assert pdu.get_int("esm_class") == 0
    assert pdu.short_message == b"x"
    with pytest.raises(TypeError):
        pdu.get_int("source_addr")
    resp = response_for(pdu, S.ESME_RX_T_APPN)
    assert (resp.command_id, resp.command_status, resp.sequence) == (C.DELIVER_SM_RESP, 0x64, 0)
    with pytest.raises(ValueError):
        response_for(resp)
    assert command_name(0x42) == "unknown_0x00000042"
    assert status_name(0x58) == "ESME_RTHROTTLED"
    assert status_name(0x401) == "0x00000401"
    assert next_sequence(0x7FFFFFFF) == 1
    assert not pdu.is_response and resp.is_response


# -- strictness ----------------------------------------------------------------

ENQUIRE = h("00000010 00000015 00000000 00000007")
SUBMIT = h(BYTE_TABLE[3][1])
DELIVER = h(BYTE_TABLE[5][1])


def with_length(body: bytes, command_id: int, length: int | None = None) -> bytes:
    size = 16 + len(body) if length is None else length
    return size.to_bytes(4, "big") + command_id.to_bytes(4, "big") + bytes(4) + b"\0\0\0\x05" + body


def status_of(frame: bytes) -> int:
    with pytest.raises(PduError) as info:
        decode(frame)
    return info.value.command_status


@pytest.mark.parametrize(
    ("frame", "status"),
    [
        (b"", S.ESME_RINVCMDLEN),
        (ENQUIRE[:15], S.ESME_RINVCMDLEN),
        (with_length(b"", C.ENQUIRE_LINK, length=17), S.ESME_RINVCMDLEN),
        (with_length(b"", 0x00000042), S.ESME_RINVCMDID),
        (with_length(b"\x00", C.ENQUIRE_LINK), S.ESME_RINVCMDLEN),  # trailing garbage
        (with_length(b"", C.SUBMIT_SM_RESP), S.ESME_RINVCMDLEN),  # body missing, status OK
        (with_length(b"x" * 16 + b"\x00", C.BIND_TRANSCEIVER_RESP), S.ESME_RINVSYSID),
        (with_length(b"abc", C.SUBMIT_SM_RESP), S.ESME_RINVCMDLEN),  # no NUL before the end
        (SUBMIT[:-1], S.ESME_RINVCMDLEN),  # framed fine, then cut: length mismatch
        (with_length(SUBMIT[16:-2], C.SUBMIT_SM), S.ESME_RINVMSGLEN),  # sm_length too big
        (with_length(SUBMIT[16:-3] + b"\xff" + b"x" * 255, C.SUBMIT_SM), S.ESME_RINVMSGLEN),
        (with_length(SUBMIT[16:] + b"\x02\x0c\x00", C.SUBMIT_SM), S.ESME_RINVOPTPARSTREAM),
        (with_length(SUBMIT[16:] + b"\x04\x24\x00\x05ab", C.SUBMIT_SM), S.ESME_RINVOPTPARSTREAM),
        (with_length(SUBMIT[16:] + b"\x02\x0c\x00\x01\x01", C.SUBMIT_SM), S.ESME_RINVPARLEN),
        (with_length(DELIVER[16:] + b"\x02\x0e\x00\x01\x02", C.DELIVER_SM),
         S.ESME_RINVOPTPARSTREAM),  # duplicate TLV
        (with_length(b"\x00" * 4, C.BIND_TRANSMITTER), S.ESME_RINVCMDLEN),
        (with_length(b"", C.ENQUIRE_LINK, length=MAX_COMMAND_LENGTH + 1) + bytes(MAX_COMMAND_LENGTH
                                                                                 - 15),
         S.ESME_RINVCMDLEN),
    ],
)
def test_strict_decode(frame: bytes, status: int) -> None:
    assert status_of(frame) == status


def test_error_carries_header() -> None:
    with pytest.raises(PduError) as info:
        decode(SUBMIT[:-1])
    assert (info.value.sequence, info.value.command_id) == (2, C.SUBMIT_SM)
    assert "ESME_RINVCMDLEN" in str(info.value)


def test_unknown_tlv_kept_raw_in_order() -> None:
    body = SUBMIT[16:] + b"\x14\x00\x00\x03abc" + b"\x02\x04\x00\x02\x00\x07"
    pdu = decode(with_length(body, C.SUBMIT_SM))
    assert list(pdu.tlvs.items()) == [(0x1400, b"abc"), (Tag.USER_MESSAGE_REFERENCE, b"\x00\x07")]
    assert encode(pdu) == with_length(body, C.SUBMIT_SM)


def test_every_truncation_is_rejected_except_at_tlv_boundaries() -> None:
    accepted = []
    for cut in range(len(DELIVER)):
        frame = DELIVER[:cut]
        fixed = len(frame).to_bytes(4, "big") + frame[4:] if cut >= 16 else frame
        try:
            decode(fixed)
        except PduError:
            continue
        accepted.append(cut)
    tlvs = 6 + 5  # sar_msg_ref_num and sar_total_segments
    assert accepted == [len(DELIVER) - tlvs, len(DELIVER) - 5]


@pytest.mark.parametrize(
    "pdu",
    [
        make_submit_sm("1" * 21, "2"),
        make_submit_sm("1", "2", b"x" * 255),
        make_submit_sm("1", "2", esm_class=256),
        make_submit_sm("1", "2", esm_class="0"),
        make_submit_sm("1\x002", "2"),
        make_submit_sm("☃", "2"),
        Pdu(C.SUBMIT_SM, params={"destination_adr": "2"}),
        Pdu(C.ENQUIRE_LINK, tlvs={Tag.MESSAGE_STATE: b"\x01"}),
        Pdu(0x42),
        Pdu(C.ENQUIRE_LINK, sequence=2**32),
    ],
)
def test_encode_refuses_what_would_be_cut(pdu: Pdu) -> None:
    with pytest.raises(PduError):
        encode(pdu)


def test_make_submit_sm_rejects_unknown_field() -> None:
    with pytest.raises(TypeError):
        make_submit_sm("1", "2", destination="3")


# -- framer ----------------------------------------------------------------------


@given(st.lists(st.integers(min_value=0, max_value=len(SUBMIT) * 3), max_size=6))
def test_framer_any_split(cuts: list[int]) -> None:
    stream = SUBMIT + ENQUIRE + DELIVER
    framer = Framer()
    frames: list[bytes] = []
    previous = 0
    for cut in [*sorted(cuts), len(stream)]:
        frames += framer.feed(stream[previous:cut])
        previous = max(previous, cut)
    assert frames == [SUBMIT, ENQUIRE, DELIVER]
    assert framer.buffered == 0


def test_framer_error_is_final_and_keeps_earlier_frames() -> None:
    framer = Framer()
    bad = h("0000000f 00000004 00000000 00000063")
    with pytest.raises(FramingError) as info:
        framer.feed(ENQUIRE + bad)
    assert info.value.complete_frames == [ENQUIRE]
    assert info.value.sequence == 0x63
    assert info.value.command_status == S.ESME_RINVCMDLEN
    with pytest.raises(FramingError):
        framer.feed(ENQUIRE)


def test_framer_rejects_huge_length_from_four_bytes() -> None:
    with pytest.raises(FramingError):
        Framer(max_length=1024).feed(b"\x00\x01\x00\x00")


# -- hypothesis --------------------------------------------------------------------

cstr = st.text(alphabet=st.characters(min_codepoint=1, max_codepoint=255), max_size=5)
octet = st.integers(min_value=0, max_value=255)


@st.composite
def pdus(draw: st.DrawFn) -> Pdu:
    command_id = draw(st.sampled_from(sorted(LAYOUTS)))
    layout, tlvs_allowed = LAYOUTS[command_id]
    params: dict[str, object] = {}
    for name, kind, limit in layout:
        if kind == 0:
            params[name] = draw(st.text(
                alphabet=st.characters(min_codepoint=1, max_codepoint=255), max_size=limit - 1))
        elif kind == 1:
            params[name] = draw(octet)
        else:
            params[name] = draw(st.binary(max_size=limit))
    tlvs = {}
    if tlvs_allowed:
        tlvs = draw(st.dictionaries(
            st.integers(min_value=0x1400, max_value=0x3FFF), st.binary(max_size=20), max_size=3))
    return Pdu(command_id, draw(st.integers(0, 2**32 - 1)), draw(st.integers(0, 2**32 - 1)),
               params, tlvs)


@given(pdus())
def test_round_trip(pdu: Pdu) -> None:
    assert decode(encode(pdu)) == pdu


@given(st.binary(max_size=300))
def test_decode_random_bytes_only_raises_pdu_error(data: bytes) -> None:
    with contextlib.suppress(PduError):
        decode(data)


@given(st.sampled_from(sorted(LAYOUTS)), st.integers(0, 0xFF), st.binary(max_size=120))
def test_decode_random_bodies_only_raise_pdu_error(
    command_id: int, status: int, body: bytes
) -> None:
    frame = (16 + len(body)).to_bytes(4, "big") + command_id.to_bytes(4, "big") + bytes(
        (0, 0, 0, status)) + bytes(4) + body
    try:
        pdu = decode(frame)
    except PduError as err:
        assert err.command_id == command_id
        return
    assert encode(pdu) == frame


@given(st.sampled_from([SUBMIT, DELIVER, h(BYTE_TABLE[0][1])]), st.data())
def test_decode_mutations_only_raise_pdu_error(frame: bytes, data: st.DataObject) -> None:
    mutated = bytearray(frame)
    for _ in range(data.draw(st.integers(1, 4))):
        index = data.draw(st.integers(16, len(mutated) - 1))
        mutated[index] = data.draw(octet)
    mutated += data.draw(st.binary(max_size=8))
    mutated[:4] = len(mutated).to_bytes(4, "big")
    try:
        pdu = decode(bytes(mutated))
    except PduError:
        return
    assert decode(encode(pdu)) == pdu


# -- smpplib as the reference --------------------------------------------------------


class _Client:
    """smpplib wants a client object that hands out sequence numbers."""

    sequence = 0

    def next_sequence(self) -> int:
        return 1


def smpplib_fields(parsed: Any, pdu: Pdu) -> dict[str, object]:
    out: dict[str, object] = {}
    for name in pdu.params:
        value = getattr(parsed, name)
        out[name] = value.decode("latin-1") if isinstance(value, bytes) and name != \
            "short_message" else value
    return out


ascii_field = st.text(alphabet="0123456789ABCDEFabcdef+", max_size=10)

sm_fields = st.fixed_dictionaries({
    "source_addr": ascii_field, "destination_addr": ascii_field,
    "short_message": st.binary(min_size=1, max_size=160),
    "source_addr_ton": octet, "dest_addr_npi": octet, "esm_class": octet,
    "data_coding": octet, "registered_delivery": octet, "protocol_id": octet,
})


@settings(max_examples=60)
@given(st.sampled_from(["submit_sm", "deliver_sm"]), sm_fields, st.integers(1, 0x7FFFFFFF),
       st.one_of(st.none(), st.integers(0, 0xFFFF)))
def test_ours_parsed_by_smpplib(
    name: str, fields: dict[str, Any], sequence: int, reference: int | None
) -> None:
    maker = make_submit_sm if name == "submit_sm" else make_deliver_sm
    tlvs: dict[int, bytes] = {}
    if reference is not None:
        tlvs[Tag.USER_MESSAGE_REFERENCE] = tlv_int(reference, 2)
    ours = maker(fields.pop("source_addr"), fields.pop("destination_addr"),
                 fields.pop("short_message"), sequence=sequence, tlvs=tlvs, **fields)
    parsed = smpplib_smpp.parse_pdu(encode(ours), client=_Client())
    assert parsed.command == name
    assert parsed.sequence == sequence
    assert smpplib_fields(parsed, ours) == ours.params
    assert parsed.user_message_reference == reference


@settings(max_examples=60)
@given(st.sampled_from(["submit_sm", "deliver_sm"]), sm_fields, st.integers(1, 0x7FFFFFFF))
def test_smpplib_parsed_by_ours(name: str, fields: dict[str, Any], sequence: int) -> None:
    theirs = smpplib_smpp.make_pdu(name, client=_Client(), sar_msg_ref_num=7,
                                   sar_total_segments=2, sar_segment_seqnum=1, **fields)
    theirs.sequence = sequence
    ours = decode(theirs.generate())
    assert ours.sequence == sequence
    assert ours.name == name
    for key, value in fields.items():
        assert ours.params[key] == value
    assert ours.tlv_int(Tag.SAR_MSG_REF_NUM) == 7
    assert ours.tlv_int(Tag.SAR_TOTAL_SEGMENTS) == 2
    assert ours.tlv_int(Tag.SAR_SEGMENT_SEQNUM) == 1
    assert encode(ours) == theirs.generate()


def test_receipt_tlvs_cross_checked_with_smpplib() -> None:
    theirs = smpplib_smpp.make_pdu(
        "deliver_sm", client=_Client(), source_addr="15551234567", destination_addr="12345",
        esm_class=4, short_message=b"id:abc stat:DELIVRD", receipted_message_id="abc",
        message_state=2, network_error_code=b"\x03\x00\x00",
    )
    theirs.sequence = 5
    ours = decode(theirs.generate())
    assert ours.tlv_str(Tag.RECEIPTED_MESSAGE_ID) == "abc"
    assert ours.tlv_int(Tag.MESSAGE_STATE) == 2
    assert ours.tlvs[Tag.NETWORK_ERROR_CODE] == b"\x03\x00\x00"
    back = smpplib_smpp.parse_pdu(encode(ours), client=_Client())
    assert back.receipted_message_id == b"abc"
    assert back.message_state == 2


@pytest.mark.parametrize(
    ("name", "fields"),
    [
        ("bind_transceiver", {"system_id": "gw", "password": "pw", "system_type": "VMA",
                              "addr_ton": 1, "addr_npi": 1, "address_range": "1234"}),
        ("bind_transmitter", {"system_id": "gw", "password": "pw"}),
        ("bind_receiver_resp", {"system_id": "SMSC"}),
        ("submit_sm_resp", {"message_id": "0a1b2c"}),
        ("deliver_sm_resp", {}),
        ("data_sm_resp", {"message_id": "77"}),
        ("data_sm", {"source_addr": "123", "destination_addr": "456", "data_coding": 8,
                     "message_payload": b"payload"}),
        ("query_sm", {"message_id": "77", "source_addr": "123"}),
        ("enquire_link", {}),
        ("enquire_link_resp", {}),
        ("unbind", {}),
        ("unbind_resp", {}),
        ("generic_nack", {}),
    ],
)
def test_other_pdus_against_smpplib(name: str, fields: dict[str, Any]) -> None:
    theirs = smpplib_smpp.make_pdu(name, client=_Client(), **fields)
    theirs.sequence = 11
    wire = theirs.generate()
    ours = decode(wire)
    assert ours.name == name
    assert encode(ours) == wire
    for key, value in fields.items():
        if key == "message_payload":
            assert ours.tlvs[Tag.MESSAGE_PAYLOAD] == value
        else:
            assert ours.params[key] == value
    back = smpplib_smpp.parse_pdu(encode(ours), client=_Client())
    assert back.command == name and back.sequence == 11
