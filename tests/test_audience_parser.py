"""The audience language: typed AST, clear errors, print/parse round trip (hypothesis)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.audience import (
    MAX_DAYS,
    MAX_DEPTH,
    STATUSES,
    ActiveWithin,
    And,
    Audience,
    AudienceError,
    Donated,
    GenderIn,
    InProgram,
    Not,
    NumberIn,
    Or,
    ProfileIn,
    ProgramStatus,
    StateIn,
    ZipPrefix,
    format_audience,
    parse_audience,
)


def test_a_filter_with_every_kind_of_predicate() -> None:
    source = (
        'program in (news, rise) and status(rise) = Pending and zip starts with ("331", 332)'
        ' and state in (fl, GA) and gender = female and profile.team = "Blue Team"'
        " and active within 30 days and not donated"
    )
    assert parse_audience(source) == And((
        InProgram(("news", "rise")),
        ProgramStatus("rise", ("pending",)),
        ZipPrefix(("331", "332")),
        StateIn(("FL", "GA")),
        GenderIn(("F",)),
        ProfileIn("team", ("Blue Team",)),
        ActiveWithin(30),
        Not(Donated()),
    ))


def test_and_binds_tighter_than_or_and_parentheses_group() -> None:
    assert parse_audience("donated or state = FL and gender = M") == Or((
        Donated(), And((StateIn(("FL",)), GenderIn(("M",)))),
    ))
    assert parse_audience("(donated or state = FL) and gender = M") == And((
        Or((Donated(), StateIn(("FL",)))), GenderIn(("M",)),
    ))
    assert parse_audience("NOT donated AND State = or") == And((
        Not(Donated()), StateIn(("OR",)),  # Oregon: a keyword is a value where a value goes
    ))


def test_an_empty_filter_is_everyone() -> None:
    assert parse_audience("") is None
    assert parse_audience("   ") is None
    assert format_audience(None) == ""


@pytest.mark.parametrize(
    ("source", "position", "expected", "message"),
    [
        ("state FL", 7, ("'='", "'in'"), "expected '=' or 'in' after 'state', found 'FL'"),
        ("state = ", 9, ("a state code like FL",), "found the end of the filter"),
        ("state = Florida", 9, ("a state code like FL",), "'Florida' is not a state code"),
        ("gender = x", 10, ("F, M or other",), "'x' is not F, M or other"),
        ("donated and", 12, (), "expected program or status(...)"),
        ("(donated", 9, ("')'",), "expected ')'"),
        ("donated donated", 9, ("'and'", "'or'", "the end of the filter"), "found 'donated'"),
        ("active within 0 days", 15, (), "'0' is not a number of days"),
        ("active within 30", 17, ("'days'",), "after 'the number'"),
        ("zip = 331", 5, ("'starts'",), "expected 'starts' after 'zip'"),
        ('profile.team = "blue', 16, (), "an unclosed quote"),
        ("profile.Team = x", 9, (), "'Team' is not a profile field name"),
        ("status(rise) = gone", 16, (), "'gone' is not subscribed, pending or opted_out"),
        ("program = news; drop table contacts", 15, (), "unexpected character ';'"),
        ("salary > 10", 1, (), "expected program or status(...)"),
    ],
)
def test_errors_say_where_and_what_was_expected(
    source: str, position: int, expected: tuple[str, ...], message: str
) -> None:
    with pytest.raises(AudienceError) as err:
        parse_audience(source)
    assert err.value.position == position
    assert message in str(err.value)
    assert str(err.value).startswith(f"column {position}: ")
    if expected:
        assert err.value.expected == expected


def test_nesting_and_length_are_bounded() -> None:
    with pytest.raises(AudienceError, match="nested deeper"):
        parse_audience("(" * 500 + "donated" + ")" * 500)
    with pytest.raises(AudienceError, match="nested deeper"):
        parse_audience("not " * 500 + "donated")
    assert parse_audience("not " * (MAX_DEPTH - 1) + "donated") is not None
    with pytest.raises(AudienceError, match="longer than"):
        parse_audience("donated or " * 2000 + "donated")


# -- properties ---------------------------------------------------------------------------------


def values_of(strategy: st.SearchStrategy[str]) -> st.SearchStrategy[tuple[str, ...]]:
    return st.lists(strategy, min_size=1, max_size=4).map(tuple)


programs = st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True)
profile_values = st.text(st.characters(exclude_characters="\x00"), max_size=20)
leaves: st.SearchStrategy[Audience] = st.one_of(
    st.builds(InProgram, values_of(programs)),
    st.builds(ProgramStatus, programs, values_of(st.sampled_from(STATUSES))),
    st.builds(ZipPrefix, values_of(st.from_regex(r"[0-9A-Z]{1,6}", fullmatch=True))),
    st.builds(StateIn, values_of(st.from_regex(r"[A-Z0-9]{2,3}", fullmatch=True))),
    st.builds(GenderIn, values_of(st.sampled_from(["F", "M", "other"]))),
    st.builds(ProfileIn, st.from_regex(r"[a-z][a-z0-9_]{0,12}", fullmatch=True),
              values_of(profile_values)),
    st.builds(ActiveWithin, st.integers(1, MAX_DAYS)),
    st.just(Donated()),
    st.builds(NumberIn, values_of(st.from_regex(r"\+[1-9][0-9]{6,14}", fullmatch=True))),
)


def _groups(children: st.SearchStrategy[Audience]) -> st.SearchStrategy[Audience]:
    many = st.lists(children, min_size=2, max_size=4).map(tuple)
    return st.one_of(st.builds(Not, children), st.builds(And, many), st.builds(Or, many))


def depth(audience: Audience) -> int:
    if isinstance(audience, Not):
        return 1 + depth(audience.item)
    if isinstance(audience, And | Or):
        return 1 + max(depth(item) for item in audience.items)
    return 0


segments = st.recursive(leaves, _groups, max_leaves=12).filter(lambda s: depth(s) < MAX_DEPTH)


@settings(max_examples=300)
@given(audience=segments)
def test_printing_then_parsing_gives_the_same_ast(audience: Audience) -> None:
    text = format_audience(audience)
    assert parse_audience(text) == audience
    assert format_audience(parse_audience(text)) == text


VOCABULARY = [
    "program", "status", "zip", "starts", "with", "state", "gender", "profile", "active",
    "within", "days", "donated", "and", "or", "not", "in", "=", "(", ")", ",", ".", "rise",
    "FL", "f", "30", "0", "99999999999", '"a b"', '"', "\\", "pending", "team", "é", ";", "$1",
]
token_soup = st.lists(st.sampled_from(VOCABULARY), max_size=14).flatmap(
    lambda words: st.sampled_from([" ".join(words), "".join(words)])
)


@settings(max_examples=400)
@given(source=st.one_of(st.text(max_size=60), token_soup))
def test_any_text_parses_or_fails_with_an_audience_error(source: str) -> None:
    try:
        audience = parse_audience(source)
    except AudienceError as err:
        assert 1 <= err.position <= len(source) + 1
        return
    assert parse_audience(format_audience(audience)) == audience


def test_a_number_list_parses_and_a_non_number_is_refused_where_it_is() -> None:
    parsed = parse_audience("number in (+12025550123, +33612345678)")
    assert parsed == NumberIn(("+12025550123", "+33612345678"))
    with pytest.raises(AudienceError, match=r"column 10: .2025550123. is not an E\.164 number"):
        parse_audience("number = 2025550123")
