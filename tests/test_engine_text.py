from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.engine import normalize
from gateway.engine.text import TypoIndex, parse_command, within_one_edit


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("join", "JOIN"),
        (" Join ", "JOIN"),
        ("join!", "JOIN"),
        ("JOIN.", "JOIN"),
        ("ADHÉRER", "ADHERER"),
        ("adhérer", "ADHERER"),
        ("Arrêt", "ARRET"),
        ("ＡＤＨＥＲＥＲ", "ADHERER"),  # full-width, NFKC
        ("🙂 join 🎉", "JOIN"),
        ("stop\n\tplease", "STOP PLEASE"),
        ("Opt-Out", "OPT OUT"),
        ("ﬁnd", "FIND"),  # ligature
        ("straße", "STRASSE"),
        ("", ""),
        ("👍", ""),
        ("don't", "DON T"),
    ],
)
def test_normalize(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


@given(st.text())
def test_normalize_is_idempotent(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once


@given(st.text())
def test_normalize_output_is_single_spaced_and_trimmed(text: str) -> None:
    out = normalize(text)
    assert out == out.strip()
    assert "  " not in out
    assert out == out.upper() or not out.isascii()


@pytest.mark.parametrize(
    ("raw", "first", "argument"),
    [
        ("GIVE 25", "GIVE", "25"),
        ("give $10.50 for the cause", "GIVE", "$10.50 for the cause"),
        ("  join  ", "JOIN", ""),
        ("🙂 join now", "JOIN", "now"),
        ("join-now", "JOIN", "NOW"),
        ("ASK Where is the rally?", "ASK", "Where is the rally?"),
        ("", "", ""),
        ("!!!", "", ""),
        ("me@example.org", "ME", "EXAMPLE ORG"),
    ],
)
def test_parse_command(raw: str, first: str, argument: str) -> None:
    command = parse_command(raw)
    assert command.first == first
    assert command.argument == argument
    assert command.words == normalize(raw)


def _osa_distance(a: str, b: str) -> int:
    """Reference optimal-string-alignment distance (dynamic programming)."""
    rows = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) + 1):
        rows[i][0] = i
    for j in range(len(b) + 1):
        rows[0][j] = j
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            rows[i][j] = min(rows[i - 1][j] + 1, rows[i][j - 1] + 1, rows[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                rows[i][j] = min(rows[i][j], rows[i - 2][j - 2] + 1)
    return rows[len(a)][len(b)]


@given(st.text("ABCJOIN", max_size=7), st.text("ABCJOIN", max_size=7))
def test_within_one_edit_matches_reference(a: str, b: str) -> None:
    assert within_one_edit(a, b) == (_osa_distance(a, b) <= 1)


@pytest.mark.parametrize(
    ("a", "b", "near"),
    [("JOIN", "JION", True), ("JOIN", "JOINN", True), ("JOIN", "JON", True),
     ("JOIN", "JOHN", True), ("JOIN", "NIOJ", False), ("VOLUNTEER", "VOLUNTER", True),
     ("GIVE", "GAVE", True), ("GIVE", "GRAVE", False)],
)
def test_within_one_edit_examples(a: str, b: str, near: bool) -> None:
    assert within_one_edit(a, b) is near


def test_typo_index_finds_all_near_words() -> None:
    index = TypoIndex([("VOLUNTEER", 1), ("VOLUNTEERS", 2), ("DONATE", 3)])
    assert sorted(index.near("VOLUNTEER")) == [1, 2]
    assert index.near("DONTAE") == [3]
    assert index.near("XYZ") == []


@given(st.lists(st.text("ABJOIN", min_size=1, max_size=6), max_size=8), st.text("ABJOIN",
                                                                               max_size=7))
def test_typo_index_agrees_with_brute_force(words: list[str], probe: str) -> None:
    index = TypoIndex((w, w) for w in words)
    assert sorted(index.near(probe)) == sorted(w for w in words if _osa_distance(w, probe) <= 1)
