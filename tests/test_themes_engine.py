"""Themes and knowledge base in the pure engine: classifier, menu parser, checker, lookups."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.engine import Rules, RulesError, decide, load_rules, normalize, parse_rules
from gateway.engine.events import KnowledgeLookup
from gateway.engine.knowledge import find_postal_code, format_events, render_lookup
from gateway.engine.themes import classify, parse_menu_choice, response_time
from gateway.engine.types import ContactState, Inbound

ROOT = Path(__file__).resolve().parents[1]
RULES: Rules = load_rules(ROOT / "keywords.yaml")
THEMES = RULES.themes["ensemble"]
NOW = datetime(2024, 5, 1, 15, tzinfo=UTC)
EXACT_WORDS = sorted({w for t in THEMES.topics.values() for w in t.words})


def ask(text: str, shortcode: str = "38200") -> Any:
    state = ContactState("+33612340000", shortcode)
    return decide(state, Inbound(7, state.msisdn, shortcode, text, NOW), now=NOW, rules=RULES)


# -- classifier --------------------------------------------------------------------------

@given(st.text(max_size=200))
@settings(max_examples=300)
def test_every_text_gets_a_known_theme(text: str) -> None:
    assert classify(THEMES, normalize(text)) in THEMES.topics


@given(st.lists(st.sampled_from([*EXACT_WORDS, "LE", "LA", "POURQUOI", "QUAND"]), max_size=12),
       st.randoms(use_true_random=False))
def test_word_order_does_not_change_the_theme(words: list[str], random: Any) -> None:
    # drawn from rule words only, so no phrase can form: only the counts matter
    shuffled = list(words)
    random.shuffle(shuffled)
    assert classify(THEMES, " ".join(words)) == classify(THEMES, " ".join(shuffled))


@given(st.sampled_from(sorted(THEMES.topics)), st.data())
def test_a_text_of_one_themes_words_goes_to_that_theme(topic_id: str, data: st.DataObject) -> None:
    topic = THEMES.topics[topic_id]
    if not topic.words:
        return
    words = data.draw(st.lists(st.sampled_from(sorted(topic.words)), min_size=1, max_size=5))
    assert classify(THEMES, " ".join(words)) == topic_id


@pytest.mark.parametrize(("text", "theme"), [
    ("Les écoles de mon quartier ferment", "education"),
    ("ÉCOLES fermées", "education"),  # accents, case and the ECOLE* prefix
    ("la sécurité sociale et mon médecin", "sante"),  # phrase (2) + word (1) beats SECURITE
    ("le prix de l'essence", "economie"),  # a tie goes to the earlier topic in the menu
    ("rien a voir", "general"),
])
def test_examples(text: str, theme: str) -> None:
    assert classify(THEMES, normalize(text)) == theme


@given(st.text(max_size=80))
@settings(max_examples=300, deadline=None)
def test_any_free_text_is_decided_and_a_question_is_acknowledged_once(text: str) -> None:
    decision = ask(text)
    questions = [e for e in decision.events if e.name == "question_asked"]
    if questions:
        assert len(questions) == 1 and questions[0].to_json()["theme"] in THEMES.topics
        assert len(decision.replies) == 1 and "STOP au 38200" in decision.replies[0].text


# -- menu parser -------------------------------------------------------------------------

@given(st.integers(1, 13), st.sampled_from(["", " ", "#", "  "]), st.sampled_from(["", ".", ")",
       " -", ":"]), st.from_regex(r"[a-zA-Z][a-zA-Z ?]{0,30}", fullmatch=True))
def test_a_menu_number_with_or_without_the_question(
    number: int, before: str, after: str, rest: str
) -> None:
    assert parse_menu_choice(f"{before}{number}{after}", 13) == (number, "")
    assert parse_menu_choice(f"{before}{number}{after} {rest}", 13) == (number, rest.strip())


@given(st.text(max_size=40), st.integers(1, 30))
@settings(max_examples=500)
def test_the_menu_parser_never_fails_and_stays_in_range(text: str, count: int) -> None:
    choice = parse_menu_choice(text, count)
    assert choice is None or 1 <= choice[0] <= count


@pytest.mark.parametrize(
    "text", ["0", "14", "999", "1000000", "3rd", "trois", "", "٣", "2024 budget"])
def test_not_menu_choices(text: str) -> None:
    assert parse_menu_choice(text, 13) is None


# -- small pure pieces -------------------------------------------------------------------

@pytest.mark.parametrize(("seconds", "profile", "said"), [
    (172800, "fr", "2 jours"), (86400, "us", "1 day"), (3 * 3600, "us", "3 hours"),
    (36 * 3600, "fr", "36 heures"), (5400, "us", "90 minutes"), (30, "us", "1 minute"),
])
def test_response_time(seconds: int, profile: Any, said: str) -> None:
    assert response_time(seconds, profile) == said


@pytest.mark.parametrize(("text", "profile", "code"), [
    ("WHERE 90210", "us", "90210"), ("near 90210-1234 please", "us", "90210"),
    ("where 00000", "us", None), ("COMITE 75 011", "fr", "75011"), ("COMITE 99000", "fr", None),
    ("tel 0612345678", "fr", None),
])
def test_postal_codes_in_text(text: str, profile: Any, code: str | None) -> None:
    assert find_postal_code(text, profile) == code


def test_events_are_told_in_their_own_time_zone() -> None:
    start = datetime(2024, 5, 4, 16, 0, tzinfo=UTC)
    assert format_events([("Town hall", start, "America/Los_Angeles", "Beverly Hills")],
                         "us") == "Sat May 4 9am Town hall, Beverly Hills"
    assert format_events([("Réunion", start, "Europe/Paris", ""), ("Tractage", start,
                          "Europe/Paris", "Lyon")], "fr") == (
        "sam. 4 mai 18h00 Réunion; sam. 4 mai 18h00 Tractage, Lyon")


def test_a_lookup_is_rendered_with_what_was_found_or_the_not_found_text() -> None:
    [lookup] = [e for e in ask("WHERE 90210", "12345").events if isinstance(e, KnowledgeLookup)]
    found = {"committee_name": "LA Rise", "committee_address": "1 Main St, Los Angeles"}
    assert render_lookup(RULES, lookup, found, {}) == (
        "Rise Up Alerts: your nearest office is LA Rise, 1 Main St, Los Angeles. Text EVENTS "
        "for what's coming up.")
    assert "no office near 90210" in render_lookup(RULES, lookup, None, {})


# -- keywords check ----------------------------------------------------------------------

def problems_after(change: Callable[[dict[str, Any]], None]) -> tuple[list[str], str]:
    doc = yaml.safe_load((ROOT / "keywords.yaml").read_text(encoding="utf-8"))
    change(doc)
    text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)
    with pytest.raises(RulesError) as caught:
        parse_rules(text, "keywords.yaml")
    for problem in caught.value.problems:
        assert re.match(r"^keywords\.yaml:\d+:\d+: ", problem), problem
    return caught.value.problems, text


def line_of(problem: str, text: str) -> str:
    return text.splitlines()[int(problem.split(":")[1]) - 1]


def keyword(doc: dict[str, Any], word: str) -> dict[str, Any]:
    return next(k for k in doc["keywords"] if k["word"] == word)


def test_a_keyword_naming_an_unknown_theme_points_at_it() -> None:
    problems, text = problems_after(lambda d: keyword(d, "SANTE").update(theme="health"))
    [problem] = [p for p in problems if "unknown theme 'health'" in p]
    assert "theme: health" in line_of(problem, text)


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d["themes"]["ensemble"].update(fallback="autre"), "fallback theme 'autre'"),
    (lambda d: d["themes"]["ensemble"]["topics"]["sante"]["words"].append("MAL DE DOS"),
     "must be one word"),
    (lambda d: d["themes"]["ensemble"]["topics"]["sante"]["words"].append("POLICE*"),
     "also classifies into topic 'securite'"),
    (lambda d: d["themes"]["ensemble"]["topics"]["sante"]["phrases"].append("dos"),
     "is one word; put it under words:"),
    (lambda d: d["knowledge"]["rise"]["where"].pop("usage"), "needs a `usage:` text"),
    (lambda d: d["knowledge"]["rise"]["events"].pop("not_found"), "needs a `not_found:` text"),
    (lambda d: d["knowledge"]["rise"]["privacy"].update(usage="x"), "only used with a lookup"),
    (lambda d: d["knowledge"]["rise"]["events"].update(answer="{committee_name}"),
     "unknown field {committee_name}"),
    (lambda d: keyword(d, "WHERE").update(knowledge="whereabouts"),
     "unknown knowledge entry 'whereabouts'"),
    (lambda d: keyword(d, "FACTS").update(action="menu", reply=None), "needs a themes.rise"),
    (lambda d: d["themes"]["ensemble"]["texts"].update(answer="{answer}"), "STOP au {shortcode}"),
    (lambda d: d["themes"]["ensemble"]["texts"].update(acknowledgement="{menu}"),
     "unknown field {menu}"),
    (lambda d: [t.update(name=t["name"] * 6) for t in d["themes"]["ensemble"]["topics"].values()],
     "over max_segments 3"),
    (lambda d: d["themes"].update(nobody=d["themes"]["ensemble"]), "unknown program 'nobody'"),
])
def test_the_checker_refuses(change: Callable[[dict[str, Any]], None], message: str) -> None:
    problems, _ = problems_after(change)
    assert any(message in p for p in problems), problems


def test_the_shipped_file_has_thirteen_themes_and_its_knowledge_base() -> None:
    assert len(THEMES.topics) == 13 and THEMES.fallback == "general"
    assert THEMES.menu.startswith("1 Education, 2 Sécurité, 3 Régions")
    assert set(RULES.knowledge["rise"]) == {"where", "events", "privacy"}
    assert RULES.themes.keys() == {"ensemble"}  # the US program keeps its default reply
