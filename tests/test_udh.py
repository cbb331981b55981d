from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.smpp.constants import Tag
from gateway.smpp.udh import (
    ConcatInfo,
    Reassembler,
    UdhError,
    assemble,
    parse_concat,
)
from gateway.smstext import decode, split

LONG_FRENCH = (
    "Bonjour Hélène ! Merci pour votre don de 10 € à l'association. Nous sommes très "
    "reconnaissants 🙏. Votre générosité aide les familles de la région à se nourrir "
    "cet hiver. Répondez STOP pour ne plus recevoir de messages. À bientôt 😀👍🏽 — l'équipe."
)


def test_8bit_udh() -> None:
    info, body = parse_concat(0x40, bytes((5, 0, 3, 9, 2, 1)) + b"hello", {})
    assert info == ConcatInfo(ref=9, total=2, seq=1)
    assert body == b"hello"


def test_16bit_udh_after_other_element() -> None:
    # UDHL 9: a national-language element (3 octets) then the 16-bit concat (6 octets).
    header = bytes((9, 0x24, 0x01, 0x00, 0x08, 0x04, 0x12, 0x34, 0x03, 0x02))
    info, body = parse_concat(0x43, header + b"xy", {})
    assert info == ConcatInfo(ref=0x1234, total=3, seq=2)
    assert body == b"xy"


def test_udh_without_concat_returns_body() -> None:
    info, body = parse_concat(0x40, bytes((3, 0x24, 0x01, 0x00)) + b"hi", {})
    assert info is None
    assert body == b"hi"


def test_sar_tlvs() -> None:
    tlvs: dict[int, bytes] = {
        Tag.SAR_MSG_REF_NUM: b"\x01\x02",
        Tag.SAR_TOTAL_SEGMENTS: b"\x03",
        Tag.SAR_SEGMENT_SEQNUM: b"\x03",
    }
    assert parse_concat(0, b"tail", tlvs) == (ConcatInfo(0x0102, 3, 3), b"tail")


def test_message_payload_used_when_short_message_empty() -> None:
    assert parse_concat(0, b"", {Tag.MESSAGE_PAYLOAD: b"long text"}) == (None, b"long text")


def test_part_one_of_one_is_whole() -> None:
    assert parse_concat(0x40, bytes((5, 0, 3, 1, 1, 1)) + b"x", {}) == (None, b"x")


@pytest.mark.parametrize(
    ("esm_class", "message", "tlvs"),
    [
        (0x40, b"", {}),
        (0x40, bytes((7, 0, 3, 1, 2, 1)), {}),  # UDHL beyond message
        (0x40, bytes((2, 0, 3)), {}),  # element truncated
        (0x40, bytes((1, 0)), {}),  # element header truncated
        (0x40, bytes((4, 0, 2, 1, 2)) + b"x", {}),  # wrong concat length
        (0x40, bytes((5, 0, 3, 1, 0, 1)) + b"x", {}),  # total 0
        (0x40, bytes((5, 0, 3, 1, 2, 3)) + b"x", {}),  # seq past total
        (0, b"x", {Tag.SAR_MSG_REF_NUM: b"\x00\x01"}),  # incomplete SAR
        (0, b"x", {Tag.SAR_MSG_REF_NUM: b"\x01", Tag.SAR_TOTAL_SEGMENTS: b"\x02",
                   Tag.SAR_SEGMENT_SEQNUM: b"\x01"}),
    ],
)
def test_malformed_is_udh_error(esm_class: int, message: bytes, tlvs: dict[int, bytes]) -> None:
    with pytest.raises(UdhError):
        parse_concat(esm_class, message, tlvs)


@given(st.integers(0, 255), st.binary(max_size=200), st.dictionaries(
    st.sampled_from([Tag.SAR_MSG_REF_NUM, Tag.SAR_TOTAL_SEGMENTS, Tag.SAR_SEGMENT_SEQNUM,
                     Tag.MESSAGE_PAYLOAD, 0x1400]), st.binary(max_size=4)))
def test_parse_never_crashes(esm_class: int, message: bytes, tlvs: dict[int, bytes]) -> None:
    try:
        info, body = parse_concat(esm_class, message, tlvs)
    except UdhError:
        return
    assert info is None or 1 <= info.seq <= info.total
    assert isinstance(body, bytes)


def test_assemble_waits_for_all_parts() -> None:
    assert assemble({1: b"a", 3: b"c"}, 3) is None
    assert assemble({3: b"c", 1: b"a", 2: b"b"}, 3) == b"abc"


def _mo_parts(message: str, ref: int) -> tuple[int, list[tuple[ConcatInfo, bytes]]]:
    result = split(message, ref)
    parsed = [parse_concat(result.esm_class, p, {}) for p in result.parts]
    return result.data_coding, [(i, b) for i, b in parsed if i is not None]


def test_long_ucs2_mo_in_reverse_order() -> None:
    data_coding, parts = _mo_parts(LONG_FRENCH, 77)
    assert data_coding == 8 and len(parts) >= 3
    reassembler = Reassembler(timeout=60)
    results = [reassembler.add("+33612345678", info, body, now=0) for info, body in reversed(parts)]
    assert results[:-1] == [None] * (len(parts) - 1)
    whole = results[-1]
    assert whole is not None
    assert decode(whole, data_coding) == LONG_FRENCH
    assert len(reassembler) == 0


def test_character_cut_across_parts_survives_because_join_precedes_decode() -> None:
    raw = "é😀".encode("utf-16-be")  # 6 octets, cut mid-surrogate-pair
    reassembler = Reassembler(timeout=60)
    assert reassembler.add("k", ConcatInfo(1, 2, 2), raw[3:], now=0) is None
    whole = reassembler.add("k", ConcatInfo(1, 2, 1), raw[:3], now=0)
    assert whole is not None and decode(whole, 8) == "é😀"


def test_duplicates_ignored_and_senders_kept_apart() -> None:
    reassembler = Reassembler(timeout=60)
    assert reassembler.add("a", ConcatInfo(5, 2, 1), b"A1", now=0) is None
    assert reassembler.add("a", ConcatInfo(5, 2, 1), b"XX", now=1) is None
    assert reassembler.add("b", ConcatInfo(5, 2, 2), b"B2", now=1) is None
    assert reassembler.add("a", ConcatInfo(5, 2, 2), b"A2", now=2) == b"A1A2"
    assert len(reassembler) == 1


def test_expire_returns_partials_after_timeout() -> None:
    reassembler = Reassembler(timeout=10)
    reassembler.add("a", ConcatInfo(1, 3, 2), b"x", now=0)
    reassembler.add("b", ConcatInfo(1, 3, 2), b"y", now=5)
    assert reassembler.expire(now=9) == []
    expired = reassembler.expire(now=10)
    assert [(p.key, p.parts) for p in expired] == [("a", {2: b"x"})]
    assert len(reassembler) == 1


@given(st.data(), st.integers(0, 255))
def test_any_permutation_reassembles(data: st.DataObject, ref: int) -> None:
    message = data.draw(st.text(min_size=1, max_size=600))
    data_coding, parts = _mo_parts(message, ref)
    if not parts:
        return
    order = data.draw(st.permutations(parts))
    reassembler = Reassembler(timeout=60)
    results = [reassembler.add("k", info, body, now=0) for info, body in order]
    whole = results[-1]
    assert all(r is None for r in results[:-1])
    assert whole is not None and decode(whole, data_coding) == message
