"""Conversations as data: tests/scenarios/*.yaml, run against the shipped keywords.yaml.

File format (one file may hold several scenarios):

    scenarios:
      - name: what it shows
        shortcode: "12345"            # default 12345
        start: 2024-05-01T15:00:00Z   # default shown; the clock is seeded
        steps:
          - send: JOIN
            after: 30s                # silence before this MO (default 10s)
            replies: ["reply Y"]      # one substring per expected reply, in order
            compliance: [false]       # optional: Reply.compliance per reply
            events: [keyword_matched, opt_in_requested]   # exact names, in order
            data: {opt_in_requested: {keyword: JOIN}}     # optional: subset of event data
            opted_out: false          # optional
            profile: {zip: "10001"}   # optional: subset of the profile
            dialog: null              # optional: open dialog id, or null
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from gateway.engine import Rules, decide, load_rules
from gateway.engine.model import duration_seconds
from gateway.engine.types import ContactState, Inbound
from gateway.engine.yamlsource import load_located

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = Path(__file__).parent / "scenarios"
STEP_KEYS = {"send", "after", "replies", "compliance", "events", "data", "opted_out", "profile",
             "dialog"}


@dataclass(frozen=True)
class Scenario:
    file: str
    name: str
    spec: dict[str, Any]


def _collect() -> list[Scenario]:
    found = []
    for path in sorted(SCENARIOS.glob("*.yaml")):
        document = load_located(path.read_text(encoding="utf-8"), path.name).data
        for spec in document["scenarios"]:
            found.append(Scenario(path.name, spec["name"], spec))
    return found


@pytest.fixture(scope="module")
def rules() -> Rules:
    return load_rules(ROOT / "keywords.yaml")


def test_there_are_scenarios() -> None:
    assert len(_collect()) >= 10


@pytest.mark.parametrize("scenario", _collect(), ids=lambda s: f"{s.file}:{s.name}")
def test_scenario(scenario: Scenario, rules: Rules) -> None:
    spec = scenario.spec
    shortcode = str(spec.get("shortcode", "12345"))
    msisdn = str(spec.get("msisdn", "+15551230000"))
    now = datetime.fromisoformat(str(spec.get("start", "2024-05-01T15:00:00+00:00")))
    state = ContactState(msisdn=msisdn, shortcode=shortcode)
    for index, step in enumerate(spec["steps"]):
        where = f"step {index + 1} ({step['send']!r})"
        assert set(step) <= STEP_KEYS, f"{where}: unknown keys {set(step) - STEP_KEYS}"
        now += timedelta(seconds=int(str(duration_seconds(step.get("after", "10s")))))
        inbound = Inbound(index + 1, msisdn, shortcode, str(step["send"]), now)
        decision = decide(state, inbound, now=now, rules=rules)
        state = decision.new_state
        texts = [r.text for r in decision.replies]
        if "replies" in step:
            assert len(texts) == len(step["replies"]), f"{where}: replies were {texts}"
            for text, expected in zip(texts, step["replies"], strict=True):
                assert str(expected) in text, f"{where}: {expected!r} not in {text!r}"
        if "compliance" in step:
            assert [r.compliance for r in decision.replies] == step["compliance"], where
        names = [e.name for e in decision.events]
        if "events" in step:
            assert names == step["events"], f"{where}: events were {names}"
        for event_name, subset in (step.get("data") or {}).items():
            matching = [e.to_json() for e in decision.events if e.name == event_name]
            assert matching, f"{where}: no {event_name} event"
            for key, value in subset.items():
                assert matching[0].get(key) == value, f"{where}: {event_name}.{key}"
        if "opted_out" in step:
            assert state.opted_out is step["opted_out"], where
        for key, value in (step.get("profile") or {}).items():
            assert state.data.get("profile", {}).get(key) == value, f"{where}: profile {key}"
        if "dialog" in step:
            dialog = state.data.get("dialog")
            assert (dialog["id"] if dialog else None) == step["dialog"], where
        json.dumps(state.to_json())  # what the pipeline stores must be JSON
        json.dumps([e.to_json() for e in decision.events])  # what the timeline stores
