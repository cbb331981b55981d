"""What counts as a revocation (gateway/engine/revocation.py) and look-alike folding."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.engine import RulesError, decide, normalize, parse_rules
from gateway.engine.lookalikes import LATIN_LOOKALIKES
from gateway.engine.revocation import SHORT_MESSAGE_WORDS, Verdict, classify, words_of
from gateway.engine.types import ContactState, Inbound
from tests.support.rules_text import BASE


def verdict(text: str, profile: str = "us") -> Verdict:
    words = normalize(text)
    return classify(words, words.split(" ", 1)[0] if words else "", "fr" if profile == "fr"
                    else "us")


@pytest.mark.parametrize("text", [
    # the examples that used to leave the number subscribed
    "ok stop", "I said STOP", "can you stop", "this is the wrong number, stop",
    "don't text me anymore",
    # each FCC word as a whole word in a short message
    "ok quit", "please end", "i revoke", "ok opt out", "cancel it", "yes unsubscribe",
    "stop stop stop", "why won't you stop", "I want to quit", "no, stop", "so, stop!",
    # phrases at any length
    "Hi, you have the wrong number, I am not the person you are looking for at all",
    "I do not want any more texts from your campaign, thank you very much",
    "I told you to stop already, this is getting ridiculous and annoying",
    # look-alike letters (Cyrillic, Greek, Cherokee) folded before matching
    "\u0405\u0422\u041e\u0420", "ok \u0455\u0442\u043e\u0440", "\u0395\u039d\u0044",
    "\u13da\u0422\u041e\u0420 now",
])
def test_revocations_opt_out(text: str) -> None:
    assert verdict(text) == "opt_out", text


@pytest.mark.parametrize("text", [
    "don't stop", "I can't stop smiling", "the end", "see you at the end of the rally",
    "when does the event end?", "please stop by", "can you stop by",
    "I need to cancel my RSVP for saturday please",
])
def test_an_opt_out_word_that_is_not_plainly_a_request_is_unclear(text: str) -> None:
    assert verdict(text) == "unclear", text


@pytest.mark.parametrize("text", [
    "JOIN", "Stopping by later", "unstoppable", "questions?", "see you at the rally",
    "weekend plans?", "10001",
])
def test_texts_without_an_opt_out_word_are_not_revocations(text: str) -> None:
    assert verdict(text) == "none", text


def test_stop_first_still_opts_out_even_before_by() -> None:
    # Rule 1 is unchanged: a text that starts with STOP opts out ("stop by the office").
    assert verdict("stop by the office") == "opt_out"


def test_french_words_and_phrases_on_a_french_code() -> None:
    assert verdict("ok arret", "fr") == "opt_out"
    assert verdict("mauvais numéro", "fr") == "opt_out"
    assert verdict("ok arret") == "none"  # a US code does not know ARRET


def test_contractions_count_as_one_word() -> None:
    assert words_of(normalize("I can't stop, won't stop")) == ["I", "CANT", "STOP", "WONT",
                                                                 "STOP"]
    assert words_of("OK OPT OUT") == ["OK", "OPTOUT"]


@given(st.lists(st.sampled_from(["ok", "so", "hey", "now", "yes", "pls"]), max_size=3),
       st.sampled_from(["STOP", "QUIT", "END", "REVOKE", "CANCEL", "UNSUBSCRIBE", "OPT OUT"]))
def test_any_fcc_word_in_a_short_plain_message_opts_out(filler: list[str], word: str) -> None:
    text = " ".join([*filler, word])
    assert len(words_of(normalize(text))) <= SHORT_MESSAGE_WORDS
    assert verdict(text) == "opt_out", text


@given(st.text(alphabet="\u0405\u0422\u041e\u0420\u0455\u0442\u043e\u0440", min_size=4,
               max_size=4))
def test_folded_look_alikes_are_stable_under_normalize(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once
    assert once.isascii()


def test_the_look_alike_table_comes_from_the_unicode_data_and_is_broad() -> None:
    # Derived from confusable-homoglyphs, not typed by hand: hundreds of letters.
    assert len(LATIN_LOOKALIKES) > 500
    assert LATIN_LOOKALIKES[ord("\u0422")] == "T"  # Cyrillic capital TE
    assert LATIN_LOOKALIKES[ord("\u039f")] == "O"  # Greek capital OMICRON
    assert LATIN_LOOKALIKES[ord("\u0406")] == "I"  # Cyrillic capital I: the I/l class reads I
    assert not any(chr(c).isascii() for c in LATIN_LOOKALIKES)
    assert normalize("10001") == "10001" and normalize("Adhérer") == "ADHERER"


def _with_own_words(words: str) -> str:
    """The loader tests' file, its program given `opt_out_words: <words>`."""
    own = f"    double_opt_in: true\n    opt_out_words: {words}\n"
    return BASE.replace("    double_opt_in: true\n", own)


def test_a_programs_own_opt_out_word_works_like_stop_on_its_code() -> None:
    rules = parse_rules(_with_own_words("[Unfollow]"), "kw.yaml")
    assert rules.shortcodes["12345"].opt_out_words == frozenset({"UNFOLLOW"})
    now = datetime(2024, 5, 1, 15, 0, tzinfo=UTC)
    for text in ("UNFOLLOW", "ok unfollow", "unfolow"):  # alone, in a short text, one typo
        state = ContactState(msisdn="+15551230000", shortcode="12345")
        decision = decide(state, Inbound(1, state.msisdn, "12345", text, now), now=now,
                          rules=rules)
        assert decision.new_state.opted_out, text
        assert [r.compliance for r in decision.replies] == [True]


def test_a_programs_own_opt_out_word_is_checked_against_keywords_and_consent_words() -> None:
    with pytest.raises(RulesError) as caught:
        parse_rules(_with_own_words("[FACTS]"), "kw.yaml")
    assert any("'FACTS' is a program's own opt-out word on 12345" in p
               for p in caught.value.problems)
    with pytest.raises(RulesError) as caught:
        parse_rules(_with_own_words("[Help, two words]"), "kw.yaml")
    problems = " ".join(caught.value.problems)
    assert "'Help' is HELP, START or YES" in problems
    assert "'two words' must be one word" in problems


def test_without_a_stop_hint_the_help_text_says_how_to_stop_once() -> None:
    rules = parse_rules(BASE, "kw.yaml")  # no texts.stop_hint: the file still loads
    state = ContactState(msisdn="+15551230000", shortcode="12345")
    now = datetime(2024, 5, 1, 15, 0, tzinfo=UTC)
    first = decide(state, Inbound(1, state.msisdn, "12345", "don't stop", now), now=now,
                   rules=rules)
    assert [r.text for r in first.replies] == [
        "News Alerts: help@example.org. Up to 4 msgs/mo. Msg&data rates may apply. STOP to "
        "cancel."]
    assert not first.new_state.opted_out
    later = now.replace(day=3)  # past the default reply's day: only the hint is once-only
    second = decide(first.new_state, Inbound(2, state.msisdn, "12345", "the end", later),
                    now=later, rules=rules)
    assert [r.text for r in second.replies] == ["Text JOIN for news or HELP for help."]


def test_a_stop_hint_must_say_how_to_stop() -> None:
    opted_out = 'opted_out: "News Alerts: unsubscribed, no more messages."\n'
    text = BASE.replace(opted_out, opted_out + '      stop_hint: "News Alerts: just ask us."\n')
    with pytest.raises(RulesError) as caught:
        parse_rules(text, "kw.yaml")
    assert any("stop_hint text on 12345 lacks STOP instructions" in p
               for p in caught.value.problems)
