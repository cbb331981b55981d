from __future__ import annotations

import contextlib
from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.smpp.constants import Tag
from gateway.smpp.receipts import (
    STATES,
    Receipt,
    ReceiptError,
    _receipt_fields,
    format_receipt_text,
    is_receipt,
    message_id_variants,
    parse_receipt,
    parse_receipt_fields,
)

CLASSIC = (
    b"id:0A1B2C3D sub:001 dlvrd:001 submit date:2401151230 done date:2401151231 "
    b"stat:DELIVRD err:000 text:Merci pour votre"
)


def test_is_receipt() -> None:
    assert is_receipt(0x04)
    assert is_receipt(0x20)
    assert is_receipt(0x44)  # UDHI does not hide the type bits
    assert not is_receipt(0x00)
    assert not is_receipt(0x40)
    assert not is_receipt(0x08)  # SME delivery acknowledgement is not a receipt


def test_classic_text_receipt() -> None:
    assert parse_receipt(0x04, CLASSIC, {}) == Receipt(
        message_id="0A1B2C3D",
        stat="DELIVRD",
        err="000",
        final=True,
        submit_date=datetime(2024, 1, 15, 12, 30),
        done_date=datetime(2024, 1, 15, 12, 31),
        text="Merci pour votre",
    )


def test_tolerates_case_order_missing_fields_and_underscored_dates() -> None:
    receipt = parse_receipt(0x04, b"STAT:undeliv ERR:034 Done_Date:240115123105 ID:12345", {})
    assert (receipt.message_id, receipt.stat, receipt.err, receipt.final) == (
        "12345", "UNDELIV", "034", True,
    )
    assert receipt.done_date == datetime(2024, 1, 15, 12, 31, 5)
    assert receipt.submit_date is None


def test_text_field_may_contain_keys() -> None:
    receipt = parse_receipt(0x04, b"id:7 stat:EXPIRED err:001 text:stat:DELIVRD id:9", {})
    assert (receipt.message_id, receipt.stat) == ("7", "EXPIRED")
    assert parse_receipt_fields("id:7 text: a stat:x")["text"] == " a stat:x"


def test_tlvs_win_over_text() -> None:
    tlvs: dict[int, bytes] = {
        Tag.RECEIPTED_MESSAGE_ID: b"abc123\x00",
        Tag.MESSAGE_STATE: bytes([5]),
        Tag.NETWORK_ERROR_CODE: b"\x03\x00\x45",
    }
    receipt = parse_receipt(0x04, CLASSIC, tlvs)
    assert (receipt.message_id, receipt.stat, receipt.err) == ("abc123", "UNDELIV", "069")
    assert receipt.submit_date == datetime(2024, 1, 15, 12, 30)  # dates still from text


def test_tlvs_alone_suffice() -> None:
    tlvs: dict[int, bytes] = {Tag.RECEIPTED_MESSAGE_ID: b"ff01\x00", Tag.MESSAGE_STATE: bytes([2])}
    assert parse_receipt(0x04, b"", tlvs).stat == "DELIVRD"


@pytest.mark.parametrize(("stat", "final"), [
    ("DELIVRD", True), ("UNDELIV", True), ("EXPIRED", True), ("REJECTD", True),
    ("DELETED", True), ("UNKNOWN", True), ("ENROUTE", False), ("ACCEPTD", False),
])
def test_final_states(stat: str, final: bool) -> None:
    assert parse_receipt(0x04, f"id:1 stat:{stat}".encode(), {}).final is final


def test_intermediate_notification_is_never_final() -> None:
    receipt = parse_receipt(0x20, b"id:1 stat:DELIVRD", {})
    assert receipt.intermediate and not receipt.final


def test_unknown_spelling_maps_to_unknown_and_long_spellings_normalise() -> None:
    assert parse_receipt(0x04, b"id:1 stat:WEIRD", {}).stat == "UNKNOWN"
    assert parse_receipt(0x04, b"id:1 stat:delivered", {}).stat == "DELIVRD"


@pytest.mark.parametrize("text", [b"", b"hello world", b"stat:DELIVRD", b"id:55 err:000"])
def test_missing_id_or_stat_is_receipt_error(text: bytes) -> None:
    with pytest.raises(ReceiptError):
        parse_receipt(0x04, text, {})


def test_format_round_trips() -> None:
    text = format_receipt_text(
        "1f", "DELIVRD", submitted_at=datetime(2024, 3, 1, 9, 5),
        done_at=datetime(2024, 3, 1, 9, 6), text="a fairly long message body here",
    )
    assert text.endswith("text:a fairly long messag")
    receipt = parse_receipt(0x04, text.encode(), {})
    assert (receipt.message_id, receipt.stat, receipt.done_date) == (
        "1f", "DELIVRD", datetime(2024, 3, 1, 9, 6),
    )


def test_message_id_variants_bridge_hex_and_decimal() -> None:
    assert "1f4" in message_id_variants("500")
    assert "500" in message_id_variants("1F4")
    assert "1f4" in message_id_variants("001F4")
    assert message_id_variants("msg-Id") == ("msg-Id", "msg-id", "MSG-ID")


@given(st.text(max_size=300), st.sampled_from([0x04, 0x20, 0x24]))
def test_text_parser_raises_only_receipt_error(text: str, esm_class: int) -> None:
    try:
        receipt = parse_receipt(esm_class, text.encode("utf-8", "replace"), {})
    except ReceiptError:
        return
    assert receipt.message_id and receipt.stat in STATES


@given(
    st.text(st.characters(codec="ascii", categories=["L", "N"]), min_size=1, max_size=20),
    st.sampled_from(STATES),
    st.permutations(["sub:001", "dlvrd:000", "err:012", "submit date:2402291200"]),
)
def test_any_field_order_parses(message_id: str, stat: str, others: list[str]) -> None:
    fields = [f"id:{message_id}", f"stat:{stat}", *others]
    receipt = parse_receipt(0x04, " ".join(sorted(fields, key=hash)).encode(), {})
    assert (receipt.message_id, receipt.stat, receipt.err) == (message_id, stat, "012")
    assert receipt.submit_date == datetime(2024, 2, 29, 12, 0)


@given(st.binary(max_size=20), st.binary(max_size=3), st.binary(max_size=4))
def test_arbitrary_tlv_bytes_raise_only_receipt_error(
    receipted: bytes, state: bytes, network: bytes
) -> None:
    tlvs: dict[int, bytes] = {Tag.RECEIPTED_MESSAGE_ID: receipted, Tag.MESSAGE_STATE: state,
            Tag.NETWORK_ERROR_CODE: network}
    with contextlib.suppress(ReceiptError):
        parse_receipt(0x04, b"", tlvs)


@given(st.text(alphabet="0123456789", min_size=10, max_size=12))
def test_receipt_dates_read_exactly_as_strptime_would(digits: str) -> None:
    """The hand-sliced date parser (it runs once per MT) agrees with the library's."""
    formats = {10: "%y%m%d%H%M", 12: "%y%m%d%H%M%S"}
    expected: datetime | None = None
    if len(digits) in formats:
        with contextlib.suppress(ValueError):
            expected = datetime.strptime(digits, formats[len(digits)])
    text = f"id:1 sub:001 dlvrd:001 submit date:{digits} done date:x stat:DELIVRD err:000"
    assert parse_receipt(4, text.encode(), {}).submit_date == expected


_USED_FIELDS = ("id", "stat", "err", "submit date", "done date")


def _agrees_with_tolerant_parser(text: str) -> None:
    fast, tolerant = _receipt_fields(text), parse_receipt_fields(text)
    assert {k: fast.get(k) for k in _USED_FIELDS} == {k: tolerant.get(k) for k in _USED_FIELDS}


@given(
    st.text(st.characters(codec="ascii", categories=["L", "N"]), min_size=1, max_size=24),
    st.sampled_from(["001", "000", "0a1"]),
    st.text(alphabet="0123456789", min_size=10, max_size=12),
    st.sampled_from([*STATES, "delivrd", "DELIVERED", "X"]),
    st.text(st.characters(codec="ascii", categories=["L", "N"]), min_size=1, max_size=4),
    st.text(max_size=30),
)
def test_canonical_fast_path_reads_what_the_tolerant_parser_reads(
    message_id: str, count: str, date: str, stat: str, err: str, body: str
) -> None:
    """The one-match path for the usual layout (one receipt per MT) never disagrees."""
    _agrees_with_tolerant_parser(
        f"id:{message_id} sub:{count} dlvrd:{count} submit date:{date} done date:{date} "
        f"stat:{stat} err:{err} text:{body}"
    )


_PIECES = ["id:", " sub:", " dlvrd:", "001", " submit date:", " done date:", "2401011200",
           " stat:", "DELIVRD", " err:", " text:", "-", "_", " ", "a", "stat:", "err:x"]


@given(st.lists(st.sampled_from(_PIECES), max_size=40).map("".join))
def test_fast_path_agrees_on_near_canonical_texts(text: str) -> None:
    _agrees_with_tolerant_parser(text)
