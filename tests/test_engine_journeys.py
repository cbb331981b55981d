"""Journeys: random MO sequences per number, against the shipped keywords.yaml (hypothesis).

Every MO gets an answer, or the decision records a documented reason for its
silence (`decide.SILENT_REASONS`): a flood, an opted-out number, the default
reply's rate limit, a consent word's reply limited in a flood, or a donation
step the billing service answers. STOP, START/UNSTOP and HELP always take
effect and are never silent.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.engine import Rules, decide, load_rules
from gateway.engine.compliance import classify_opt_out, is_help, is_start
from gateway.engine.decide import SILENT_REASONS
from gateway.engine.text import parse_command
from gateway.engine.types import ContactState, Decision, Inbound

ROOT = Path(__file__).resolve().parents[1]
RULES: Rules = load_rules(ROOT / "keywords.yaml")
START = datetime(2024, 5, 1, 15, 0, tzinfo=UTC)

CONSENT = ["STOP", "stop.", "START", "unstop", "HELP", "info", "aide", "ok stop", "I said STOP",
           "\u0405\u0422\u041e\u0420", "wrong number", "Y", "yes", "oui", "NO"]
OTHER = ["JOIN", "jion", "FACTS", "GIVE", "GIVE 5", "GIVE 10", "GIVE 7", "GIVE 500", "DON 20",
         "VOLUNTEER", "ADHERER", "10001", "75011", "2", "skip", "passer", "a@b.co", "WHERE 10001",
         "EVENTS", "QUESTION", "EDUCATION pourquoi les classes sont-elles pleines ?", "hello",
         "don't stop", "see you at the end of the rally", "", "🙂", "lol"]
texts = st.one_of(st.sampled_from(CONSENT), st.sampled_from(OTHER), st.text(max_size=30))
# Gaps from a burst (a flood) to days (expiries, the default reply's day).
gaps = st.sampled_from([0, 1, 2, 5, 30, 61, 600, 7200, 90_000])
singles = st.tuples(texts, gaps).map(lambda step: [step])
# A burst: ten texts or more a second apart (past the flood limit), then a consent word.
bursts = st.tuples(st.lists(texts, min_size=10, max_size=13), st.sampled_from(CONSENT)).map(
    lambda burst: [(text, 1) for text in [*burst[0], burst[1]]])
journeys = st.lists(st.one_of(singles, singles, bursts), min_size=1, max_size=8).map(
    lambda parts: [step for part in parts for step in part])
shortcodes = st.sampled_from(sorted(RULES.shortcodes))


def silence_reason(decision: Decision) -> str | None:
    for event in decision.events:
        if event.name not in SILENT_REASONS:
            continue
        if event.name == "unmatched" and not event.to_json().get("rate_limited"):
            continue
        if event.name == "donation_requested" and event.to_json().get("flow") != "checkout":
            continue
        return event.name
    return None


@given(shortcodes, journeys)
@settings(deadline=None, max_examples=300)  # the first zip lookup loads the zip database
def test_every_mo_is_answered_or_its_silence_is_recorded(
    shortcode: str, journey: list[tuple[str, int]]
) -> None:
    code = RULES.shortcodes[shortcode]
    state = ContactState(msisdn="+15551230000", shortcode=shortcode)
    now = START
    for i, (text, gap) in enumerate(journey):
        now += timedelta(seconds=gap)
        decision = decide(state, Inbound(i + 1, state.msisdn, shortcode, text, now), now=now,
                          rules=RULES)
        where = f"MO {i + 1} {text!r} -> events {[e.name for e in decision.events]}"
        names = [e.name for e in decision.events]
        assert decision.replies or silence_reason(decision), where
        command = parse_command(text)
        limited = "compliance_reply_limited" in names
        if classify_opt_out(command.words, command.first, code.profile) == "opt_out":
            assert decision.new_state.opted_out, where
            assert decision.replies or limited, where
            if not state.opted_out:
                assert decision.replies, f"the first STOP is always confirmed: {where}"
        elif is_help(command.first, code.profile):
            assert "help_sent" in names, where
            assert decision.replies or limited, where
        elif is_start(command.first):
            assert not decision.new_state.opted_out, where
            assert decision.replies or limited, where
            if state.opted_out:
                assert decision.replies, f"a re-subscription is always confirmed: {where}"
        state = decision.new_state
