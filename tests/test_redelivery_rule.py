"""The pure redelivery rule (pipeline/redelivery.py), by example and by property."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from gateway.pipeline.redelivery import Arrival, find_repeats, mo_digest
from gateway.smpp.udh import ConcatInfo
from gateway.store.inbound import Unacked

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=5)
YES = mo_digest("+15555550100", "12345", 0, b"YES", None)


def test_an_unread_mo_within_the_window_is_repeated() -> None:
    stored = Unacked(7, YES, T0, 70)
    found = find_repeats([Arrival(YES, T0 + timedelta(seconds=30))], [stored], WINDOW)
    assert found == [stored]


def test_past_the_window_it_is_a_new_mo() -> None:
    stored = Unacked(7, YES, T0, 70)
    late = T0 + WINDOW + timedelta(microseconds=1)
    assert find_repeats([Arrival(YES, late)], [stored], WINDOW) == [None]


def test_the_same_text_earlier_in_the_batch_counts_as_unread() -> None:
    arrivals = [Arrival(YES, T0), Arrival(YES, T0 + timedelta(milliseconds=3))]
    assert find_repeats(arrivals, [], WINDOW) == [None, 0]


def test_the_digest_tells_number_code_coding_part_and_body_apart() -> None:
    part = ConcatInfo(ref=9, total=2, seq=1)
    variants = {
        YES,
        mo_digest("+15555550101", "12345", 0, b"YES", None),
        mo_digest("+15555550100", "54321", 0, b"YES", None),
        mo_digest("+15555550100", "12345", 8, b"YES", None),
        mo_digest("+15555550100", "12345", 0, b"YES ", None),
        mo_digest("+15555550100", "12345", 0, b"YES", part),
        mo_digest("+15555550100", "12345", 0, b"YES", ConcatInfo(ref=9, total=2, seq=2)),
        mo_digest("+15555550100", "12345", 0, b"YES", ConcatInfo(ref=10, total=2, seq=1)),
    }
    assert len(variants) == 8
    assert mo_digest("+15555550100", "12345", 0, b"YES", part) == mo_digest(
        "+15555550100", "12345", 0, b"YES", ConcatInfo(ref=9, total=2, seq=1))


digests = st.sampled_from([bytes([n]) * 16 for n in range(4)])
offsets = st.integers(min_value=-900, max_value=900).map(lambda s: T0 + timedelta(seconds=s))
arrivals_st = st.lists(st.builds(Arrival, digests, offsets), max_size=12)
stored_st = st.lists(
    st.builds(Unacked, st.integers(min_value=1, max_value=10**6), digests, offsets), max_size=8)


@given(arrivals_st, stored_st)
def test_a_match_is_always_the_same_content_within_the_window(
    arrivals: list[Arrival], stored: list[Unacked]
) -> None:
    found = find_repeats(arrivals, stored, WINDOW)
    assert len(found) == len(arrivals)
    for index, (arrival, repeat) in enumerate(zip(arrivals, found, strict=True)):
        if repeat is None:
            # new: nothing unread with its content was near it, stored or earlier in the batch
            assert not any(row.digest == arrival.digest
                           and abs(row.received_at - arrival.received_at) <= WINDOW
                           for row in stored)
            assert not any(arrivals[i].digest == arrival.digest and found[i] is None
                           and abs(arrivals[i].received_at - arrival.received_at) <= WINDOW
                           for i in range(index))
        elif isinstance(repeat, int):
            # an earlier new arrival of the batch with the same content
            assert repeat < index and found[repeat] is None
            assert arrivals[repeat].digest == arrival.digest
            assert abs(arrivals[repeat].received_at - arrival.received_at) <= WINDOW
        else:
            assert repeat in stored and repeat.digest == arrival.digest
            assert abs(repeat.received_at - arrival.received_at) <= WINDOW


@given(arrivals_st)
def test_with_nothing_unread_distinct_contents_are_all_new(arrivals: list[Arrival]) -> None:
    unique = list({a.digest: a for a in arrivals}.values())
    assert find_repeats(unique, [], WINDOW) == [None] * len(unique)
