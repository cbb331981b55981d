"""Properties of `decide()` over arbitrary conversations (hypothesis).

The conversations mix the words that matter (keywords, compliance words,
dialog answers, typos) with arbitrary text and arbitrary silences, on both
shipped short codes.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.engine import Rules, decide, load_rules
from gateway.engine.types import ContactState, Decision, Inbound

ROOT = Path(__file__).resolve().parents[1]
RULES: Rules = load_rules(ROOT / "keywords.yaml")
START = datetime(2024, 5, 1, 15, 0, tzinfo=UTC)

WORDS = [
    "JOIN", "jion", "Join!", "Y", "yes", "oui", "HELP", "info", "aide", "START", "unstop",
    "10001", "1234", "94103", "F", "male", "skip", "passer", "FACTS", "GIVE 5", "VOLUNTEER",
    "2", "5", "a@b.co", "hello", "ADHERER", "Adhérer", "75011", "", "🙂", "STOP", "remove me",
]
OPT_OUTS = [
    "STOP", "stop", "Stop!", "STOPALL", "end", "cancel", "UNSUBSCRIBE", "quit", "revoke",
    "opt out", "optout", "remove", "please stop texting me", "remove me", "unsubscribe me",
    "STOP now please", "🛑 stop",
]
GAPS = [0, 1, 5, 30, 600, 7200, 90_000, 3 * 86_400]

texts = st.one_of(st.sampled_from(WORDS), st.text(max_size=25))
conversations = st.lists(st.tuples(texts, st.sampled_from(GAPS)), max_size=25)
shortcodes = st.sampled_from(["12345", "38200"])
# Openings that start a dialog, so dialog properties are not left to chance.
OPENERS = {
    "12345": [[("JOIN", 0), ("Y", 5)], [("VOLUNTEER", 0)], [("JOIN", 0), ("Y", 5), ("10001", 5)]],
    "38200": [[("ADHERER", 0)]],
}


@st.composite
def dialog_conversations(draw: st.DrawFn) -> tuple[str, list[tuple[str, int]]]:
    """A short code and a conversation that opens a dialog, then wanders anywhere."""
    shortcode = draw(shortcodes)
    opener = draw(st.sampled_from(OPENERS[shortcode]))
    tail = draw(st.lists(st.tuples(texts, st.sampled_from(GAPS)), max_size=8))
    return shortcode, opener + tail


def play(shortcode: str, conversation: list[tuple[str, int]]) -> list[tuple[ContactState,
                                                                          Decision, datetime]]:
    """Run a conversation; return (state before, decision, time) for every MO."""
    state = ContactState(msisdn="+15551230000", shortcode=shortcode)
    now = START
    played = []
    for i, (text, gap) in enumerate(conversation):
        now += timedelta(seconds=gap)
        decision = decide(state, Inbound(i, state.msisdn, shortcode, text, now), now=now,
                          rules=RULES)
        played.append((state, decision, now))
        state = decision.new_state
    return played


def last_state(shortcode: str, played: list[tuple[ContactState, Decision, datetime]]
               ) -> tuple[ContactState, datetime]:
    if not played:
        return ContactState(msisdn="+15551230000", shortcode=shortcode), START
    return played[-1][1].new_state, played[-1][2]


@given(st.one_of(dialog_conversations(), st.tuples(shortcodes, conversations)),
       st.sampled_from(OPT_OUTS), st.sampled_from(GAPS))
@settings(deadline=None)  # the first zip lookup loads the zip database
def test_stop_always_wins(case: tuple[str, list[tuple[str, int]]], stop: str, gap: int) -> None:
    shortcode, conversation = case
    state, now = last_state(shortcode, play(shortcode, conversation))
    now += timedelta(seconds=gap)
    decision = decide(state, Inbound(99, state.msisdn, shortcode, stop, now), now=now,
                      rules=RULES)
    assert decision.new_state.opted_out
    assert "dialog" not in decision.new_state.data
    statuses = {s["status"] for s in decision.new_state.data["subs"].values()}
    assert statuses == {"opted_out"}
    assert all(r.compliance for r in decision.replies)
    assert len(decision.replies) <= 1
    if not state.opted_out:
        assert len(decision.replies) == 1, "the first STOP is always confirmed"
    assert any(e.name == "opted_out" for e in decision.events)


@given(shortcodes, conversations)
@settings(deadline=None)  # the first zip lookup loads the zip database
def test_no_ordinary_reply_ever_reaches_an_opted_out_number(
    shortcode: str, conversation: list[tuple[str, int]]
) -> None:
    for _, decision, _ in play(shortcode, conversation):
        if decision.new_state.opted_out:
            assert all(r.compliance for r in decision.replies), decision


@given(shortcodes, conversations)
@settings(deadline=None)  # the first zip lookup loads the zip database
def test_compliance_replies_are_only_opt_out_or_help(
    shortcode: str, conversation: list[tuple[str, int]]
) -> None:
    code = RULES.shortcodes[shortcode]
    allowed = {code.lead.opted_out.render(code.variables[code.lead.id])} | {
        p.help.render(code.variables[p.id]) for p in code.programs
    }
    for _, decision, _ in play(shortcode, conversation):
        for reply in decision.replies:
            if reply.compliance:
                assert reply.text in allowed


@given(dialog_conversations(), st.sampled_from(["zzz", "hello", "10001", "JOIN"]))
@settings(deadline=None)  # the first zip lookup loads the zip database
def test_every_dialog_ends_after_its_silence(
    case: tuple[str, list[tuple[str, int]]], text: str
) -> None:
    shortcode, conversation = case
    state, now = last_state(shortcode, play(shortcode, conversation))
    dialog = state.data.get("dialog")
    longest = max(d.expires_after for d in RULES.dialogs.values())
    later = now + timedelta(seconds=longest + 1)
    decision = decide(state, Inbound(99, state.msisdn, shortcode, text, later), now=later,
                      rules=RULES)
    names = [e.name for e in decision.events]
    if dialog is not None:
        assert names[0] == "dialog_expired"
    assert "dialog" not in decision.new_state.data or "dialog_started" in names


@given(dialog_conversations())
@settings(deadline=None, max_examples=50)
def test_every_dialog_ends_when_answers_keep_failing(
    case: tuple[str, list[tuple[str, int]]]
) -> None:
    shortcode, conversation = case
    state, now = last_state(shortcode, play(shortcode, conversation))
    bound = sum(s.spec.retries + 1 for d in RULES.dialogs.values() for s in d.steps)
    for i in range(bound + 1):
        if "dialog" not in state.data:
            break
        now += timedelta(seconds=30)  # slow enough for the flood guard
        state = decide(state, Inbound(i, state.msisdn, shortcode, "qqq", now), now=now,
                       rules=RULES).new_state
    assert "dialog" not in state.data


@given(shortcodes, conversations)
@settings(deadline=None)  # the first zip lookup loads the zip database
def test_state_stays_small_json_and_inputs_are_untouched(
    shortcode: str, conversation: list[tuple[str, int]]
) -> None:
    for before, decision, _ in play(shortcode, conversation):
        snapshot = copy.deepcopy(before.data)
        data = decision.new_state.to_json()
        assert json.loads(json.dumps(data)) == data
        assert len(json.dumps(data)) < 4000
        assert len(data["mo"]) <= RULES.defaults.flood_limit_per_minute + 1
        for event in decision.events:
            assert json.loads(json.dumps(event.to_json())) == event.to_json()
        assert before.data == snapshot
