from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gateway.engine import Rules, decide, load_rules, parse_rules
from gateway.engine.compliance import is_opt_out
from gateway.engine.decide import parse_amount_cents
from gateway.engine.text import parse_command
from gateway.engine.types import ContactState, Decision, Inbound

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2024, 5, 1, 15, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def rules() -> Rules:
    return load_rules(ROOT / "keywords.yaml")


def send(rules: Rules, state: ContactState, text: str, now: datetime = NOW) -> Decision:
    return decide(state, Inbound(1, state.msisdn, state.shortcode, text, now), now=now, rules=rules)


def fresh(shortcode: str = "12345") -> ContactState:
    return ContactState(msisdn="+15551230000", shortcode=shortcode)


def test_minimal_vertical_join_stop_help(rules: Rules) -> None:
    joined = send(rules, fresh(), "JOIN")
    assert "reply Y to confirm" in joined.replies[0].text
    stopped = send(rules, joined.new_state, "STOP")
    assert stopped.new_state.opted_out
    assert [r.compliance for r in stopped.replies] == [True]
    helped = send(rules, fresh(), "HELP")
    assert "Msg&data rates may apply" in helped.replies[0].text


@pytest.mark.parametrize(
    "text",
    ["STOP", "stop", "Stop.", " STOP ", "STOPALL", "end", "Cancel", "UNSUBSCRIBE", "quit",
     "revoke", "opt out", "OPT-OUT", "optout", "remove", "STOP!!!", "stop 🛑", "Stop sending",
     "please stop", "Please stop texting me", "remove me", "Unsubscribe me please",
     "take me off", "I want to unsubscribe", "don't text me again", "no more texts",
     "opt me out", "leave me alone", "STOPP", "cancle", "stop it"],
)
def test_opt_out_forms(rules: Rules, text: str) -> None:
    decision = send(rules, fresh(), text)
    assert decision.new_state.opted_out, text
    assert [r.compliance for r in decision.replies] == [True]


@pytest.mark.parametrize(
    "text",
    ["I can't stop smiling", "when does the event end?", "Stopping by later", "JOIN",
     "the end", "questions?", "unstoppable"],
)
def test_ordinary_texts_do_not_opt_out(text: str) -> None:
    command = parse_command(text)
    assert not is_opt_out(command.words, command.first, "us")


@pytest.mark.parametrize("text", ["ARRET", "arrêt", "STOP SMS", "Désabonner", "desinscrire"])
def test_french_opt_out_words_on_french_code(rules: Rules, text: str) -> None:
    assert send(rules, fresh("38200"), text).new_state.opted_out


def test_long_opt_out_words_match_with_one_typo_on_purpose() -> None:
    # A missed opt-out is a violation; a wrong one costs a START. REMOTE is REMOVE typed badly.
    assert is_opt_out("REMOTE", "REMOTE", "us")
    assert not is_opt_out("QUITE", "QUITE", "us")  # QUIT is too short for typo matching


def test_arret_is_not_an_opt_out_word_on_a_us_code() -> None:
    assert not is_opt_out("ARRET", "ARRET", "us")


def test_stop_ends_every_program_on_the_code(rules: Rules) -> None:
    state = send(rules, fresh(), "JOIN").new_state
    state = send(rules, state, "Y").new_state
    decision = send(rules, state, "STOP")
    statuses = {p: s["status"] for p, s in decision.new_state.data["subs"].items()}
    assert statuses == {"rise": "opted_out"}
    opted = [e for e in decision.events if e.name == "opted_out"]
    assert [e.to_json()["program"] for e in opted] == ["rise"]
    assert opted[0].to_json()["disclosure_text"] == decision.replies[0].text
    assert opted[0].to_json()["at"] == NOW.isoformat()


def test_decide_does_not_mutate_its_input(rules: Rules) -> None:
    state = send(rules, fresh(), "JOIN").new_state
    state = send(rules, state, "Y").new_state
    before = copy.deepcopy(state.data)
    for text in ["10001", "STOP", "HELP", "START", "hello"]:
        send(rules, state, text)
    assert state.data == before


def test_decide_is_deterministic(rules: Rules) -> None:
    state = send(rules, fresh(), "JOIN").new_state
    assert send(rules, state, "Y") == send(rules, state, "Y")


def test_state_and_events_are_json(rules: Rules) -> None:
    decision = send(rules, fresh(), "JOIN")
    decision = send(rules, decision.new_state, "Y")
    decision = send(rules, decision.new_state, "10001")
    data = decision.new_state.to_json()
    assert json.loads(json.dumps(data)) == data
    assert json.loads(json.dumps([e.to_json() for e in decision.events]))


def test_naive_time_is_refused(rules: Rules) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        send(rules, fresh(), "JOIN", datetime(2024, 5, 1, 15, 0))


def test_times_are_stored_in_utc(rules: Rules) -> None:
    paris = datetime(2024, 5, 1, 17, 0, tzinfo=UTC).astimezone(
        datetime.now(UTC).astimezone().tzinfo
    )
    decision = send(rules, fresh(), "JOIN", paris)
    assert decision.new_state.data["subs"]["rise"]["since"].endswith("+00:00")


def test_unknown_shortcode_still_honours_stop(rules: Rules) -> None:
    decision = send(rules, fresh("99999"), "STOP")
    assert decision.new_state.opted_out
    assert decision.new_state.shortcode == "99999"
    assert decision.replies and decision.replies[0].compliance


def test_state_written_by_an_older_file_survives_a_removed_dialog(rules: Rules) -> None:
    state = fresh()
    state = ContactState(state.msisdn, state.shortcode, False, {
        "v": 1, "subs": {}, "mo": [],
        "dialog": {"id": "gone", "program": "rise", "step": 3, "retries": 0,
                   "started": NOW.isoformat(), "last": NOW.isoformat()},
    })
    decision = send(rules, state, "FACTS", NOW + timedelta(seconds=5))
    assert [e.name for e in decision.events] == ["dialog_expired", "keyword_matched"]
    assert decision.events[0].to_json()["reason"] == "rules_changed"


@pytest.mark.parametrize(
    ("argument", "cents"),
    [("25", 2500), ("$10", 1000), ("10.50", 1050), ("$ 5.5", 550), ("7,25", 725),
     ("10 dollars", 1000), ("", None), ("ten", None), ("-5", None), ("1e3", None)],
)
def test_parse_amount_cents(argument: str, cents: int | None) -> None:
    assert parse_amount_cents(argument) == cents


AMBIGUOUS = """\
version: 1
defaults: {default_reply: "Text PLANT or PLATE."}
fields: [zip]
programs:
  p:
    name: P
    shortcodes: ["12345"]
    support: s@example.org
    frequency: 1 msg/mo
    privacy: {url: "https://example.org", version: "1"}
    disclosure_version: "1"
    texts:
      confirmation: "P: in. 1 msg/mo. Msg&data rates may apply. HELP for help, STOP to end."
      help: "P: s@example.org. 1 msg/mo. Msg&data rates may apply. STOP to end."
      opted_out: "P: unsubscribed."
keywords:
  - {word: PLANT, program: p, action: reply, reply: plant}
  - {word: PLATE, program: p, action: reply, reply: plate}
"""


def test_a_typo_near_two_keywords_matches_neither() -> None:
    rules = parse_rules(AMBIGUOUS)
    assert send(rules, fresh(), "plnat").replies[0].text == "plant"
    ambiguous = send(rules, fresh(), "PLANE")
    assert [e.name for e in ambiguous.events] == ["unmatched"]
