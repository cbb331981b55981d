"""The North American shape `to_e164` returns without parsing gives what phonenumbers gives.

Why: gateway/phone.py skips phonenumbers for "1" + ten digits whose area code
starts with 2-9 (about 70 µs per new number on the MO path). The skip is only
right while phonenumbers returns such a number unchanged; these tests ask
phonenumbers itself (`parsed_e164`) for every area code, for random lines, and
for the near misses that must still be parsed (and refused or rewritten).
"""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.phone import (
    NANP_INTERNATIONAL,
    TON_INTERNATIONAL,
    InvalidNumber,
    parsed_e164,
    to_e164,
)


def library_answer(raw: str, ton: int, region: str) -> str | None:
    """What phonenumbers alone makes of the number; None when it refuses it."""
    text = raw.strip()
    if ton == TON_INTERNATIONAL and not text.startswith("+"):
        text = "+" + text
    try:
        return parsed_e164(raw, text, region)
    except InvalidNumber:
        return None


def gateway_answer(raw: str, ton: int, region: str) -> str | None:
    try:
        return to_e164(raw, ton=ton, default_region=region)
    except InvalidNumber:
        return None


@pytest.mark.parametrize("area", range(200, 1000))
def test_every_area_code_reads_as_phonenumbers_reads_it(area: int) -> None:
    for line in ("0000000", "5550100", "9999999"):
        raw = f"1{area}{line}"
        assert NANP_INTERNATIONAL.fullmatch("+" + raw)
        for ton, text in ((TON_INTERNATIONAL, raw), (0, "+" + raw)):
            assert gateway_answer(text, ton, "US") == library_answer(text, ton, "US") == "+" + raw


@given(area=st.integers(200, 999), line=st.integers(0, 9_999_999),
       region=st.sampled_from(["US", "CA", "FR", "GB", "DE"]))
def test_random_north_american_lines_read_alike_in_any_default_region(
        area: int, line: int, region: str) -> None:
    raw = f"1{area}{line:07d}"
    assert gateway_answer(raw, TON_INTERNATIONAL, region) == library_answer(
        raw, TON_INTERNATIONAL, region)
    assert gateway_answer(f" +{raw} ", 0, region) == library_answer(f" +{raw} ", 0, region)


@given(digits=st.from_regex(r"\+?1?[0-9]{8,12}", fullmatch=True),
       ton=st.sampled_from([0, TON_INTERNATIONAL]), region=st.sampled_from(["US", "FR"]))
def test_any_digits_read_alike_whether_or_not_they_take_the_short_way(
        digits: str, ton: int, region: str) -> None:
    assert gateway_answer(digits, ton, region) == library_answer(digits, ton, region)


@pytest.mark.parametrize("raw", [
    "10125550100",   # area code starting 0: parsed, not taken as is
    "11125550100",   # area code starting 1: phonenumbers strips the national prefix
    "121255501000",  # twelve digits
    "1212555010",    # ten digits after the plus
    "1２１２5550100",  # full-width digits are not the short way's ASCII digits
])
def test_near_misses_are_left_to_phonenumbers(raw: str) -> None:
    assert not NANP_INTERNATIONAL.fullmatch("+" + raw)
    assert gateway_answer(raw, TON_INTERNATIONAL, "US") == library_answer(
        raw, TON_INTERNATIONAL, "US")


def test_the_short_way_does_not_call_phonenumbers(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("phonenumbers.parse was called")

    monkeypatch.setattr(phonenumbers, "parse", refuse)
    uncached = to_e164.__wrapped__  # the cache may already hold the number
    assert uncached("12125550100", ton=TON_INTERNATIONAL) == "+12125550100"
    assert uncached("+12125550100") == "+12125550100"
    with pytest.raises(AssertionError):
        uncached("33612345678", ton=TON_INTERNATIONAL)
