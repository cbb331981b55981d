"""The pure parts of e-mail and form routing: the decision, the texts' checks, the form's
stamp and fields (hypothesis over what a robot may post)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.engine import RulesError, parse_rules
from gateway.engine.written import NoRoute, StandardAnswer, ToExperts, Written, route
from gateway.routing import form_stamp
from gateway.routing.form_post import FormFields, FormPost, validate
from tests.support.questions import RULES

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2024, 12, 3, 9, 0, tzinfo=UTC)
KEY = b"test key"


def decided(text: str, *, program: str = "ensemble", theme: str | None = None,
            language: str = "fr", max_words: int = 60) -> object:
    return route(RULES, Written(program, text, "fr" if language == "fr" else "en", theme),
                 now=NOW, knowledge_max_words=max_words)


def test_a_chosen_theme_is_kept_and_a_classified_one_says_so() -> None:
    chosen = decided("Une question sur les urgences de l'hôpital", theme="europe")
    assert isinstance(chosen, ToExperts) and (chosen.theme, chosen.via) == ("europe", "form")
    classified = decided("Une question sur les urgences de l'hôpital")
    assert isinstance(classified, ToExperts)
    assert (classified.theme, classified.via) == ("sante", "classified")
    assert classified.sla_due == NOW + timedelta(days=2)
    nothing = decided("Bonjour, je voulais simplement vous écrire")
    assert isinstance(nothing, ToExperts) and (nothing.theme, nothing.via) == (
        "general", "fallback")
    english = decided("Une question sur l'hôpital", language="en")
    assert isinstance(english, ToExperts) and english.response_time == "2 days"


def test_standard_answers_need_a_short_message_and_a_committee_needs_a_postal_code() -> None:
    agenda = decided("Quand est votre prochaine réunion ?")
    assert isinstance(agenda, StandardAnswer) and agenda.entry == "agenda"
    assert isinstance(decided("prochaine réunion " + "bla " * 60), ToExperts)
    assert isinstance(decided("prochaine réunion", max_words=0), ToExperts)
    committee = decided("le comité local de 25000 svp")
    assert isinstance(committee, StandardAnswer) and committee.lookup is not None
    assert committee.lookup.postal_code == "25000"
    assert isinstance(decided("où est votre comité local ?"), ToExperts)  # no postal code


def test_a_program_without_themes_answers_standard_requests_and_routes_nothing_else() -> None:
    answer = decided("When is the next event?", program="rise", language="en")
    assert isinstance(answer, StandardAnswer) and answer.entry == "events"
    assert decided("Why do you support this bill?", program="rise") == NoRoute("rise",
                                                                               "no_themes")
    assert decided("hello", program="nope") == NoRoute("nope", "unknown_program")


def shipped_with(old: str, new: str) -> str:
    text = (ROOT / "keywords.yaml").read_text(encoding="utf-8")
    assert old in text
    return text.replace(old, new, 1)


def test_the_checker_refuses_an_unknown_placeholder_in_a_mail_text() -> None:
    text = shipped_with('acknowledgement_subject: "{program} : votre question ({theme})',
                        'acknowledgement_subject: "{program} : {answer} ({theme})')
    with pytest.raises(RulesError) as refused:
        parse_rules(text)
    [problem] = refused.value.problems
    assert problem.startswith("keywords.yaml:") and "unknown field {answer}" in problem


def test_the_checker_wants_the_campaign_box_in_the_programs_language() -> None:
    text = shipped_with("        fr: >-\n          Je souhaite recevoir",
                        "        de: >-\n          Je souhaite recevoir")
    with pytest.raises(RulesError):
        parse_rules(text)  # `de` is not a language of the form
    old = ("        fr: >-\n          Je souhaite recevoir des informations sur la campagne "
           "d'Ensemble Citoyen par\n          e-mail. Je peux me désabonner à tout moment.\n")
    with pytest.raises(RulesError) as refused:
        parse_rules(shipped_with(old, ""))
    assert "the campaign box needs its wording in 'fr'" in "\n".join(refused.value.problems)


@given(st.text(max_size=200))
def test_no_posted_stamp_but_ours_passes(stamp: str) -> None:
    found = form_stamp.check(KEY, stamp, NOW, min_seconds=0, max_age=10**9)
    assert found in ("invalid", "too_fast", "expired")


@given(st.integers(min_value=0, max_value=80), st.integers(min_value=0, max_value=60))
def test_our_stamp_passes_once_old_enough_and_not_when_altered(age: int, where: int) -> None:
    stamp = form_stamp.issue(KEY, NOW)
    found = form_stamp.check(KEY, stamp, NOW + timedelta(seconds=age), min_seconds=3,
                             max_age=60)
    if age < 3:
        assert found == "too_fast"
    elif age > 60:
        assert found == "expired"
    else:
        assert isinstance(found, form_stamp.Stamp) and found.nonce == stamp.split(".")[1]
    index = where % len(stamp)
    altered = stamp[:index] + ("A" if stamp[index] != "A" else "B") + stamp[index + 1:]
    assert form_stamp.check(KEY, altered, NOW + timedelta(seconds=10), min_seconds=3,
                            max_age=60) in ("invalid", "too_fast", "expired")
    assert form_stamp.check(b"other key", stamp, NOW + timedelta(seconds=10), min_seconds=3,
                            max_age=60) == "invalid"


@given(st.builds(FormFields, theme=st.text(max_size=20), message=st.text(max_size=300),
                 name=st.text(max_size=300), email=st.text(max_size=60),
                 mobile=st.text(max_size=30), campaign_box=st.booleans()))
def test_any_post_is_either_a_checked_post_or_sentences_per_field(fields: FormFields) -> None:
    checked = validate(fields, language="fr", themes={"sante": "Santé"}, profile="fr",
                       max_chars=200)
    if isinstance(checked, FormPost):
        assert checked.theme == "sante" and checked.message
        assert checked.email is not None or checked.msisdn is not None
    else:
        assert checked and set(checked) <= {"theme", "message", "name", "email", "mobile"}
