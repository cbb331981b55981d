"""Money is integer cents from text to report: exact, or refused with a reason."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.finance.money import MoneyError, currency_code, format_cents, parse_amount, parse_cents


@pytest.mark.parametrize(("text", "cents"), [
    ("10", 1000), ("10.5", 1050), ("10.05", 1005), ("-3.20", -320), ("(3.20)", -320),
    ("$1,234.56", 123456), (" 0.10 ", 10), ("+7.00", 700), (".", None), ("0.", 0),
])
def test_amounts_parse_exactly(text: str, cents: int | None) -> None:
    if cents is None:
        with pytest.raises(MoneyError):
            parse_amount(text)
    else:
        assert parse_amount(text) == cents


@pytest.mark.parametrize("text", ["10.005", "1e3", "ten", "", "1.2.3", "--1", "0x10", "NaN"])
def test_what_is_not_exactly_cents_is_refused(text: str) -> None:
    with pytest.raises(MoneyError):
        parse_amount(text, "USD")


def test_more_than_two_decimals_is_refused_for_usd_with_the_reason() -> None:
    with pytest.raises(MoneyError, match="3 decimals; USD amounts have at most 2"):
        parse_amount("0.125", "usd")


def test_a_float_never_enters() -> None:
    with pytest.raises(TypeError, match="float"):
        parse_amount(0.1)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        format_cents(0.30)  # type: ignore[arg-type]


def test_point_one_plus_point_two_is_thirty_cents() -> None:
    assert 0.1 + 0.2 != 0.3  # what floats would do
    assert parse_amount("0.1") + parse_amount("0.2") == parse_amount("0.3") == 30
    assert format_cents(sum(parse_amount("0.1") for _ in range(1000))) == "100.00"


def test_unknown_currency_is_refused() -> None:
    assert currency_code(" usd ") == "USD"
    with pytest.raises(MoneyError, match="unknown currency 'XYZ'"):
        currency_code("XYZ")


def test_cents_columns_take_whole_numbers_only() -> None:
    assert parse_cents("-250") == -250
    with pytest.raises(MoneyError):
        parse_cents("2.50")


@given(st.integers(min_value=-10**15, max_value=10**15))
def test_format_then_parse_round_trips(cents: int) -> None:
    assert parse_amount(format_cents(cents)) == cents


@given(st.lists(st.integers(min_value=-10**9, max_value=10**9), max_size=50))
def test_sums_of_parsed_text_equal_the_parsed_sum(amounts: list[int]) -> None:
    texts = [format_cents(a) for a in amounts]
    assert sum(parse_amount(t) for t in texts) == sum(amounts)
