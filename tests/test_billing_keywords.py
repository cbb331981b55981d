"""`gateway keywords check` refuses donation settings that break compliance rules 15-25."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gateway.engine import RulesError, parse_rules

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = (ROOT / "keywords.yaml").read_text(encoding="utf-8")


def edited(old: str, new: str, count: int = 1) -> str:
    assert SHIPPED.count(old) >= count, f"{old!r} is not in keywords.yaml any more"
    return SHIPPED.replace(old, new, count)


def problems_of(text: str) -> list[str]:
    with pytest.raises(RulesError) as caught:
        parse_rules(text, "kw.yaml")
    return caught.value.problems


@pytest.mark.parametrize(("old", "new", "lacks"), [
    ("reply YES to give {amount}, billed", "reply YES to give, billed", "the amount ({amount})"),
    ("{committee}: reply YES to give {amount}, billed", "Reply YES to give {amount}, billed",
     "the committee name"),
    (", billed to your mobile account.", ".", "that it is billed to the mobile account"),
    ("You certify\n        you are 18+,", "You certify\n        you are an adult,",
     "that the donor is 18 or older"),
    ("giving your own funds, a US citizen or permanent resident and not a\n        federal",
     "a US citizen or permanent resident and not a\n        federal", "own funds"),
    ("a US citizen or permanent resident and not a\n        federal",
     "a US citizen and not a\n        federal", "or permanent resident"),
    ("and not a\n        federal contractor.", "and eligible.", "not a federal contractor"),
    ("federal contractor. Msg&data rates may apply. Terms: {terms_url}\n      confirm_card",
     "federal contractor. Terms: {terms_url}\n      confirm_card", '"Msg&data rates may apply"'),
    ("Msg&data rates may apply. Terms: {terms_url}\n      confirm_card",
     "Msg&data rates may apply.\n      confirm_card", "the terms link"),
    ("{committee}: reply YES to give {amount}, billed", "{committee}: give {amount}, billed",
     "how to confirm (reply YES)"),
])
def test_a_carrier_confirmation_missing_a_disclosure_is_refused(old: str, new: str,
                                                                lacks: str) -> None:
    problems = problems_of(edited(old, new))
    assert len(problems) == 1, problems
    assert "confirm_carrier on 12345 lacks" in problems[0] and lacks in problems[0]
    assert problems[0].startswith("kw.yaml:")  # with its line and column


def test_a_card_confirmation_must_name_the_card() -> None:
    problems = problems_of(edited("with your card ending {card_last4}", "with your card"))
    assert any("confirm_card on 12345 lacks the card ending ({card_last4})" in p
               for p in problems), problems


def test_a_french_confirmation_needs_its_own_certification() -> None:
    problems = problems_of(edited("de\n        nationalité francaise ou résidant en France", ""))
    assert any("confirm_card on 38200 lacks nationalité française ou résidence en France" in p
               for p in problems), problems
    problems = problems_of(edited("répondez OUI pour donner", "pour donner"))
    assert any("how to confirm (reply OUI or YES)" in p for p in problems), problems


def test_carrier_billing_is_refused_for_a_french_program() -> None:
    problems = problems_of(edited("    methods: [card]\n    timezone: Europe/Paris",
                                  "    methods: [carrier, card]\n    timezone: Europe/Paris"))
    assert any("carrier billing is off for political donations on a French program" in p
               for p in problems), problems


@pytest.mark.parametrize(("old", "new", "message"), [
    ("price_points: [5, 10]", "price_points: [5, 25]", "price point 25.00 is over the per-text"),
    ("price_points: [5, 10]", "price_points: []", "carrier billing needs price_points"),
    ("price_points: [5, 10]", "price_points: [5, 5]", "a price point is listed twice"),
    ("timezone: America/New_York", "timezone: America/Gotham", "unknown time zone"),
    ("requires us to use our best efforts to collect", "requires us to collect",
     "best-efforts statement"),
    ("Reply {price_points} to give on your\n        phone bill.", "Reply with an amount.",
     "ask_amount must list the price points"),
    ("thank you for your gift of {amount}!", "thank you for your gift of {amont}!",
     "unknown field {amont}"),
    ("      details_name_address: >-", "      unused_text: >-", "unknown key"),
    ("per_election: 3500", "per_election: lots", "expected an amount"),
])
def test_bad_donation_settings_are_refused(old: str, new: str, message: str) -> None:
    problems = problems_of(edited(old, new))
    assert any(message in p for p in problems), problems


def test_a_donate_keyword_needs_donation_settings() -> None:
    start = SHIPPED.index("\n  ensemble:\n    committee:")
    end = SHIPPED.index("cancelled: \"{committee} : c'est noté")
    without = SHIPPED[:start] + SHIPPED[SHIPPED.index("\n", end):]
    problems = problems_of(without)
    assert any("action donate needs a donations.ensemble entry" in p for p in problems), problems


def test_the_cli_check_reports_the_position(tmp_path: Path) -> None:
    path = tmp_path / "keywords.yaml"
    path.write_text(edited(", billed to your mobile account.", "."), encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "gateway.cli", "keywords", "check", str(path)],
                            capture_output=True, text=True, check=False, cwd=ROOT)
    assert result.returncode == 1
    line = SHIPPED[:SHIPPED.index("      confirm_carrier:")].count("\n") + 1
    assert f"keywords.yaml:{line}:" in result.stdout + result.stderr
    assert "billed to the mobile account" in result.stdout + result.stderr
