"""Which unsure sends a parked receipt proves taken (gateway/pipeline/unsure_match.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from gateway import smstext
from gateway.pipeline.unsure_match import (
    ParkedReceipt,
    Settled,
    UnsureSend,
    receipt_head,
    settle,
)
from gateway.smpp.receipts import format_receipt_text, parse_receipt

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
NUMBER = "12125550001"
TEXT = "Rise Up rallies Saturday at noon."


def send(outbound_id: int = 1, text: str = TEXT, number: str = NUMBER,
         since: datetime = T0) -> UnsureSend:
    return UnsureSend(outbound_id, number, smstext.part_texts(text), since)


def receipt(message_id: str, text: str | None = TEXT, number: str = NUMBER,
            at: datetime = T0 + timedelta(seconds=5)) -> ParkedReceipt:
    return ParkedReceipt(message_id, number, None if text is None else receipt_head(text), at)


def test_a_receipt_from_the_number_with_the_text_settles_the_send() -> None:
    assert settle([send()], [receipt("a1")]) == [Settled(1, ("a1",))]


def test_receipts_from_before_the_send_could_leave_prove_nothing() -> None:
    early = receipt("a1", at=T0 - timedelta(seconds=1))
    assert settle([send()], [early]) == []


def test_another_numbers_receipt_or_another_text_proves_nothing() -> None:
    assert settle([send()], [receipt("a1", number="12125550002")]) == []
    assert settle([send()], [receipt("a1", text="Something else entirely")]) == []


def test_each_receipt_settles_one_send_only() -> None:
    twins = [send(1), send(2)]
    assert settle(twins, [receipt("a1")]) == [Settled(1, ("a1",))]
    assert settle(twins, [receipt("a1"), receipt("a2")]) == [
        Settled(1, ("a1",)), Settled(2, ("a2",))]


def test_a_long_message_needs_a_receipt_for_every_part() -> None:
    long_text = "Rise Up " * 40  # three GSM-7 parts
    parts = smstext.part_texts(long_text)
    assert len(parts) == 3
    one = send(text=long_text)
    all_parts = [receipt(f"p{n}", text=p) for n, p in enumerate(parts, start=1)]
    assert settle([one], all_parts) == [Settled(1, ("p1", "p2", "p3"))]
    assert settle([one], all_parts[:2]) == []  # the third part may never have left


def test_a_receipt_without_text_counts_only_when_nothing_else_could_explain_it() -> None:
    assert settle([send()], [receipt("a1", text=None)]) == [Settled(1, ("a1",))]
    assert settle([send(1), send(2, text="Another text")], [receipt("a1", text=None)]) == []
    assert settle([send()], [receipt("a1", text=None), receipt("a2", text=None)]) == []


def test_text_outside_latin_1_matches_the_way_receipts_write_it() -> None:
    arabic = "مرحبا بكم في الحملة"
    # the SMSC writes each character it cannot show as '?': the shape still tells
    assert settle([send(text=arabic)], [receipt("a1", text="?? ?????")]) == []
    assert settle([send(text=arabic)], [receipt("a1", text="????? ???")]) == [Settled(1, ("a1",))]
    assert settle([send(text=arabic)], [receipt("a1", text=arabic)]) == [Settled(1, ("a1",))]


def test_the_receipt_parser_keeps_the_text_the_matcher_reads() -> None:
    raw = format_receipt_text("abc123", "DELIVRD", submitted_at=T0, done_at=T0, text=TEXT)
    parsed = parse_receipt(0x04, raw.encode("latin-1"), {})
    assert parsed.text == TEXT[:20]
    tolerant = "stat:DELIVRD id:abc123 text:" + TEXT[:20]  # not the canonical layout
    assert parse_receipt(0x04, tolerant.encode(), {}).text == TEXT[:20]
    without = format_receipt_text("abc123", "DELIVRD", submitted_at=T0, done_at=T0)
    assert parse_receipt(0x04, without.encode(), {}).text is None


numbers = st.sampled_from(["12125550001", "12125550002", "12125550003"])
texts = st.sampled_from([TEXT, "Another text", "Rise Up " * 40, "Dîner à 20h"])


@given(
    sends=st.lists(st.tuples(numbers, texts, st.integers(0, 60)), max_size=6),
    receipts=st.lists(
        st.tuples(numbers, st.one_of(st.none(), texts), st.integers(0, 3), st.integers(-30, 90)),
        max_size=10),
)
def test_settlements_are_always_backed_by_distinct_matching_receipts(
    sends: list[tuple[str, str, int]], receipts: list[tuple[str, str | None, int, int]],
) -> None:
    unsure = [UnsureSend(n, number, smstext.part_texts(text), T0 + timedelta(seconds=since))
              for n, (number, text, since) in enumerate(sends, start=1)]
    parked = []
    for n, (number, text, nth, at) in enumerate(receipts):
        head = None
        if text is not None:
            parts = smstext.part_texts(text)
            head = receipt_head(parts[min(nth, len(parts) - 1)])
        parked.append(ParkedReceipt(f"r{n}", number, head, T0 + timedelta(seconds=at)))
    by_id = {r.smsc_message_id: r for r in parked}
    settled = settle(unsure, parked)
    used = [m for s in settled for m in s.message_ids]
    assert len(used) == len(set(used)), "a receipt settled two sends"
    rows = {s.outbound_id: s for s in unsure}
    assert len({s.outbound_id for s in settled}) == len(settled)
    for result in settled:
        row = rows[result.outbound_id]
        assert len(result.message_ids) == len(row.parts)
        for part, message_id in zip(row.parts, result.message_ids, strict=True):
            proof = by_id[message_id]
            assert proof.msisdn == row.msisdn and proof.received_at >= row.since
            assert proof.text_head is None or receipt_head(part).startswith(proof.text_head)
