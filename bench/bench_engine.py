"""How many `decide()` calls one core makes per second on a realistic MO mix.

Usage (from the project root):
    python bench/bench_engine.py [--seconds 3] [--keywords keywords.yaml]
Prints one JSON object. Target (issue 3): 50,000 decisions/s.

The mix is prepared up front (states already mid-dialog, pending, opted out…)
so the timed loop measures the engine and nothing else.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a plain script

from gateway.engine import Rules, decide, load_rules
from gateway.engine.types import ContactState, Inbound

SHORTCODE = "12345"
NOW = datetime(2024, 5, 1, 15, 0, tzinfo=UTC)
Case = tuple[ContactState, Inbound]

# (weight, state builder key, text)
MIX: list[tuple[int, str, str]] = [
    (20, "subscribed", "what time is the rally on saturday?"),  # unmatched chatter
    (10, "new", "JOIN"),
    (5, "new", "jion!"),  # typo
    (10, "pending", "Y"),
    (10, "zip_step", "10001"),
    (5, "zip_step", "1000"),  # bad zip, re-prompt
    (10, "gender_step", "female"),
    (8, "subscribed", "STOP"),
    (3, "subscribed", "please stop texting me"),
    (5, "subscribed", "HELP"),
    (4, "opted_out", "START"),
    (5, "subscribed", "FACTS"),
    (5, "subscribed", "GIVE 25"),
]


def _state(kind: str, rules: Rules, msisdn: str) -> ContactState:
    """Build each kind of state by playing real MOs, so the layout is the engine's own."""
    scripts = {
        "new": [], "subscribed": ["JOIN", "Y", "SKIP", "SKIP"], "pending": ["JOIN"],
        "zip_step": ["JOIN", "Y"], "gender_step": ["JOIN", "Y", "10001"],
        "opted_out": ["JOIN", "Y", "STOP"],
    }
    state = ContactState(msisdn=msisdn, shortcode=SHORTCODE)
    when = NOW - timedelta(hours=1)
    for i, text in enumerate(scripts[kind]):
        when += timedelta(minutes=1)
        inbound = Inbound(i, msisdn, SHORTCODE, text, when)
        state = decide(state, inbound, now=when, rules=rules).new_state
    return state


def build_cases(rules: Rules, count: int, seed: int) -> list[Case]:
    rng = random.Random(seed)
    weights = [w for w, _, _ in MIX]
    cases = []
    for n in range(count):
        _, kind, text = rng.choices(MIX, weights)[0]
        msisdn = f"+1555{n:07d}"
        cases.append((_state(kind, rules, msisdn), Inbound(n, msisdn, SHORTCODE, text, NOW)))
    return cases


def run(rules: Rules, cases: list[Case], seconds: float) -> dict[str, object]:
    decisions = 0
    started = time.perf_counter()
    deadline = started + seconds
    while time.perf_counter() < deadline:
        for state, inbound in cases:
            decide(state, inbound, now=NOW, rules=rules)
        decisions += len(cases)
    elapsed = time.perf_counter() - started
    return {
        "benchmark": "engine.decide",
        "decisions": decisions,
        "seconds": round(elapsed, 3),
        "decisions_per_second": round(decisions / elapsed),
        "target_per_second": 50_000,
        "distinct_cases": len(cases),
        "python": platform.python_version(),
        "machine": platform.machine(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--keywords", type=Path, default=Path("keywords.yaml"))
    args = parser.parse_args(argv)
    rules = load_rules(args.keywords)
    cases = build_cases(rules, args.cases, args.seed)
    run(rules, cases[:200], 0.2)  # warm caches (zip lookups, regexes)
    print(json.dumps(run(rules, cases, args.seconds)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
