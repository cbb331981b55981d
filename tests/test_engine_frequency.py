"""The structured `frequency:` of a program: derived wording, old free text, mismatches refused."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.engine import RulesError, parse_rules
from gateway.engine.frequency import PERIODS, FrequencyTextError, derived_text, parse_text
from tests.support.rules_text import BASE

OLD_LINE = "    frequency: Up to 4 msgs/mo\n"


def problems_with(line: str) -> list[str]:
    with pytest.raises(RulesError) as caught:
        parse_rules(BASE.replace(OLD_LINE, line), "kw.yaml")
    return caught.value.problems


def test_structured_frequency_derives_the_disclosure_text() -> None:
    rules = parse_rules(
        BASE.replace(OLD_LINE, "    frequency: {max_messages: 4, per: month}\n"), "kw.yaml")
    program = rules.programs["news"]
    assert program.frequency == "Up to 4 msgs/mo"
    assert (program.frequency_limit.max_messages, program.frequency_limit.per) == (4, "month")


def test_old_free_text_is_read_as_the_limit_and_kept_as_written() -> None:
    rules = parse_rules(BASE, "kw.yaml")
    program = rules.programs["news"]
    assert program.frequency == "Up to 4 msgs/mo"
    assert (program.frequency_limit.max_messages, program.frequency_limit.per) == (4, "month")


def test_free_text_that_states_no_limit_is_refused_with_its_place() -> None:
    (problem,) = problems_with("    frequency: Msg frequency varies\n")
    assert problem.startswith("kw.yaml:10:16: programs.news.frequency:")
    assert "one number of messages and one period" in problem


def test_own_wording_must_state_the_same_limit() -> None:
    line = '    frequency: {max_messages: 6, per: month, text: "Up to 4 msgs/mo"}\n'
    (problem,) = problems_with(line)
    assert "programs.news.frequency" in problem
    assert "says 4 per month, but max_messages is 6 per month" in problem


def test_own_wording_that_matches_is_used_as_written() -> None:
    line = '    frequency: {max_messages: 4, per: month, text: "Max 4 msgs a month"}\n'
    rules = parse_rules(BASE.replace(OLD_LINE, line), "kw.yaml")
    assert rules.programs["news"].frequency == "Max 4 msgs a month"


@pytest.mark.parametrize("line", [
    "    frequency: {max_messages: 0, per: month}\n",
    "    frequency: {max_messages: 4, per: year}\n",
    "    frequency: {max_messages: 4}\n",
])
def test_bad_structured_values_are_refused(line: str) -> None:
    (problem,) = problems_with(line)
    assert "programs.news.frequency" in problem


@pytest.mark.parametrize(("text", "expected"), [
    ("Up to 6 msgs/mo", (6, "month")),
    ("4 SMS/mois max", (4, "month")),
    ("1 msg/mo", (1, "month")),
    ("Recurring: 3 msgs per week", (3, "week")),
    ("2 SMS par jour maximum", (2, "day")),
])
def test_parse_text_reads_common_wordings(text: str, expected: tuple[int, str]) -> None:
    assert parse_text(text) == expected


@pytest.mark.parametrize("text", [
    "Msg frequency varies", "Up to 6 msgs", "6 msgs/mo or 2/wk", "4 to 6 msgs/mo", "0 msgs/mo",
])
def test_parse_text_refuses_vague_wordings(text: str) -> None:
    with pytest.raises(FrequencyTextError):
        parse_text(text)


@given(st.integers(min_value=1, max_value=1000), st.sampled_from(PERIODS),
       st.sampled_from(["us", "fr"]))
def test_derived_text_reads_back_as_the_same_limit(number: int, per: str, profile: str) -> None:
    assert parse_text(derived_text(number, per, profile)) == (number, per)  # type: ignore[arg-type]
