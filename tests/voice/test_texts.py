"""The `voice:` section of keywords.yaml: loaded with its defaults, refused with a position
when wrong; the spoken values; the parsers of what a caller sends (hypothesis); the docs.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.engine import RulesError, load_rules, parse_rules
from gateway.engine.model import Frequency
from gateway.engine.voice import frequency_spoken, privacy_site, spoken_choice
from gateway.engine.voice_texts import DEFAULT_TEXTS, TEXT_NAMES
from gateway.voice.audio import NotAudio, audio_format
from tests.support.rules_text import BASE

ROOT = Path(__file__).resolve().parents[2]
THEMES = """\
themes:
  news:
    texts:
      menu: "{program}: pick {menu}"
      ask: "{program}: your question on {theme}?"
      acknowledgement: "{program}: thanks, answer within {response_time}."
    topics:
      schools: {name: Schools, words: [SCHOOL]}
      health: {name: Health, sla: 1d, words: [HEALTH]}
      general: {name: Other}
"""


def problems_of(text: str) -> list[str]:
    with pytest.raises(RulesError) as caught:
        parse_rules(text, "kw.yaml")
    return caught.value.problems


def test_a_program_without_a_section_speaks_the_defaults_of_its_language() -> None:
    rules = parse_rules(BASE + THEMES, "kw.yaml")
    voice = rules.voice["news"]
    assert voice.language == "en" and voice.prompt_version.startswith("auto-")
    assert [(t.id, t.digit, t.sla) for t in voice.topics] == [
        ("schools", "1", 172800), ("health", "2", 86400)]
    assert voice.other is not None and (voice.other.id, voice.other.digit) == ("general", "9")
    assert voice.text("fr", "goodbye").source == DEFAULT_TEXTS["fr"]["goodbye"]
    shipped = load_rules(ROOT / "keywords.yaml").voice
    assert shipped["ensemble"].language == "fr"
    assert shipped["ensemble"].prompt_version == "fr-voix-2024-06"
    assert shipped["rise"].topics == () and shipped["rise"].other is None


def test_written_texts_replace_the_defaults_one_at_a_time() -> None:
    rules = parse_rules(BASE + THEMES + """\
voice:
  news:
    prompt_version: v7
    topics: [health]
    texts:
      en:
        goodbye: "Bye from {program}."
""", "kw.yaml")
    voice = rules.voice["news"]
    assert voice.prompt_version == "v7"
    assert voice.text("en", "goodbye").source == "Bye from {program}."
    assert voice.text("en", "greeting").source == DEFAULT_TEXTS["en"]["greeting"]
    assert [t.id for t in voice.topics] == ["health"]


def test_a_changed_consent_wording_changes_the_derived_version() -> None:
    before = parse_rules(BASE, "kw.yaml").voice["news"].prompt_version
    after = parse_rules(BASE + """\
voice:
  news:
    texts:
      en:
        support_updates: "For {program} texts, {frequency_spoken}, press 2."
""", "kw.yaml").voice["news"].prompt_version
    assert before != after


@pytest.mark.parametrize(("section", "expected"), [
    ("voice:\n  nope: {}\n", "unknown program 'nope'"),
    ("voice:\n  news:\n    topics: [schools]\n", "topics: needs a themes.news section"),
    ("voice:\n  news:\n    texts:\n      en:\n        goodbye: \"Bye {first_name}\"\n",
     "names unknown value {first_name}"),
    ("voice:\n  news:\n    texts:\n      en:\n        support_updates: \"Press 2.\"\n",
     "it must name {program} and {frequency_spoken}"),
    ("voice:\n  news:\n    texts:\n      fr:\n        goodbye: \"Au {revoir\"\n", "unpaired"),
    ("voice:\n  news:\n    donation_url: https://example.org/give\n    texts:\n      en:\n"
     "        donation_link: \"" + "Give now {donation_url} " * 30 + "\"\n",
     "SMS segments, over max_segments"),
    ("voice:\n  news:\n    tone: high\n", "unknown key"),
])
def test_a_wrong_section_is_refused_with_its_position(section: str, expected: str) -> None:
    problems = problems_of(BASE + section)
    assert any(expected in p for p in problems), problems
    assert all(p.startswith("kw.yaml:") for p in problems)


def test_the_question_menu_lists_only_real_themes() -> None:
    problems = problems_of(BASE + THEMES + "voice:\n  news:\n    topics: [health, general, x]\n")
    assert any("'general' is the fallback theme" in p for p in problems)
    assert any("unknown theme 'x'" in p for p in problems)


def test_a_french_programs_donation_text_must_say_how_to_stop() -> None:
    french = (ROOT / "keywords.yaml").read_text(encoding="utf-8").replace(
        "    prompt_version: fr-voix-2024-06\n",
        "    prompt_version: fr-voix-2024-06\n    texts:\n      fr:\n"
        "        donation_link: \"Donnez : {donation_url}\"\n")
    assert any('must carry "STOP au {shortcode}"' in p for p in problems_of(french))


def test_spoken_values() -> None:
    month = Frequency(max_messages=4, per="month")
    assert frequency_spoken(month, "fr") == "4 messages par mois au plus"
    assert frequency_spoken(Frequency(max_messages=1, per="day"), "en") == "up to 1 message a day"
    assert privacy_site("https://www.example.org/privacy?x=1") == "example.org"


@given(st.text(max_size=40))
def test_a_spoken_answer_is_a_digit_or_nothing(speech: str) -> None:
    choice = spoken_choice(speech)
    assert choice is None or (len(choice) == 1 and choice.isdigit())


@pytest.mark.parametrize(("speech", "digit"), [
    ("Deux.", "2"), ("three please", "3"), ("1", "1"), ("neuf", "9"), ("hello", None), ("", None)])
def test_spoken_numbers_in_french_and_english(speech: str, digit: str | None) -> None:
    assert spoken_choice(speech) == digit


@given(st.binary(max_size=200))
def test_any_bytes_are_told_apart_or_refused_with_a_reason(data: bytes) -> None:
    try:
        assert audio_format(data) in ("wav", "mp3")
    except NotAudio as err:
        assert str(err)


def test_docs_show_every_default_text_in_both_languages() -> None:
    doc = (ROOT / "docs" / "voice.md").read_text(encoding="utf-8")
    missing = [f"{lang}.{name}" for lang, texts in DEFAULT_TEXTS.items() for name in TEXT_NAMES
               if texts[name] not in doc]
    assert missing == []
    assert set(DEFAULT_TEXTS["fr"]) == set(DEFAULT_TEXTS["en"]) == set(TEXT_NAMES)
