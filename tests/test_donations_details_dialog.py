"""The donor-details dialog by SMS in the pure engine, and its answer parsers (hypothesis).

The shell writes the hold into the state (`details`); these tests write it by
hand, as pipeline/donation_ledger.py would, and check what the engine asks, accepts
and lets route on.
"""

from __future__ import annotations

import string
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.billing.policy import DonationPolicy
from gateway.engine import Rules, decide, load_rules
from gateway.engine.donor_details import MAX_TRIES, first_question, hold_state
from gateway.engine.donor_fields import (
    FIELDS,
    US_STATES,
    clean,
    format_address,
    parse_address,
    parse_answer,
    parse_name,
)
from gateway.engine.types import ContactState, Decision, Inbound

ROOT = Path(__file__).resolve().parents[1]
RULES: Rules = load_rules(ROOT / "keywords.yaml")
NOW = datetime(2024, 5, 1, 15, 0, tzinfo=UTC)


def held(missing: list[str], *, program: str = "rise", refs: list[int] | None = None,
         expires: datetime = NOW + timedelta(hours=20), shortcode: str = "12345",
         **extra: Any) -> ContactState:
    hold = {"refs": refs or [7], "program": program, "missing": missing,
            "expires": expires.isoformat(), **extra}
    return ContactState(msisdn="+15551230000", shortcode=shortcode, data={"details": hold})


def send(before: ContactState, text: str, now: datetime = NOW, mo_id: int = 1) -> Decision:
    return decide(before, Inbound(mo_id, before.msisdn, before.shortcode, text, now),
                  now=now, rules=RULES)


def given_events(decision: Decision) -> list[dict[str, Any]]:
    return [e.to_json() for e in decision.events if e.name == "donor_details_given"]


def test_each_missing_fact_is_asked_in_turn_and_the_last_one_says_thanks() -> None:
    before = held(["address", "employer", "name", "occupation"])
    answers = ["Ada  Lovelace", "12 Main St, Apt 4, Springfield, il 62701-1234",
               "Analytical Engines Ltd", "Engineer"]
    expected_next = ["What is your address?", "Who is your employer?",
                     "What is your occupation?", "Rise Up PAC: thank you, we have your details"]
    for i, (text, after) in enumerate(zip(answers, expected_next, strict=True)):
        decision = send(before, text, NOW + timedelta(minutes=i), mo_id=10 + i)
        assert decision.replies[0].text.startswith(after)
        [event] = given_events(decision)
        assert event["field"] == FIELDS[i] and event["donation_refs"] == [7]
        assert event["complete"] is (i == 3)
        before = decision.new_state
    assert given_events(send(held(["name"]), "Ada Lovelace"))[0]["values"] == {
        "name": "Ada Lovelace"}
    address = given_events(send(held(["address"]), answers[1]))[0]["values"]
    assert address == {"street": "12 Main St, Apt 4", "city": "Springfield", "region": "IL",
                       "postal_code": "62701-1234", "country": "US"}


def test_an_unreadable_answer_is_asked_again_then_the_dialog_steps_aside() -> None:
    before = held(["address"])
    for attempt in range(1, MAX_TRIES + 1):
        decision = send(before, "somewhere nice", mo_id=attempt)
        [event] = [e.to_json() for e in decision.events if e.name == "donor_details_unreadable"]
        assert event["field"] == "address" and event["gave_up"] is (attempt == MAX_TRIES)
        before = decision.new_state
    assert "use the link" in decision.replies[0].text
    # the dialog is off for this hold: the next MO routes as usual (the default reply)
    after = send(before, "hello there", mo_id=9)
    assert given_events(after) == [] and any(e.name == "unmatched" for e in after.events)
    # the shell keeps "off" for the same hold, and a new hold starts afresh
    assert hold_state([7], "rise", ["address"], "x", before.data["details"])["off"] is True
    assert "off" not in hold_state([8], "rise", ["address"], "x", before.data["details"])


def test_wrong_answers_name_what_is_wrong() -> None:
    reply = send(held(["address"]), "12 Main St, Springfield, ZZ 62701").replies[0].text
    assert reply.startswith("Sorry, that doesn't look like a US state code")
    assert "12 Main St, Springfield, IL 62701" in reply  # the question shows the shape


@pytest.mark.parametrize("text", ["STOP", "HELP", "YES", "JOIN"])
def test_stop_help_yes_and_keywords_are_not_answers(text: str) -> None:
    decision = send(held(["name"]), text)
    assert given_events(decision) == []
    assert not any(e.name == "donor_details_unreadable" for e in decision.events)


def test_an_expired_hold_or_a_removed_program_asks_nothing() -> None:
    late = send(held(["name"], expires=NOW - timedelta(minutes=1)), "Ada Lovelace")
    assert given_events(late) == []
    gone = send(held(["name"], program="nope"), "Ada Lovelace")
    assert given_events(gone) == []


def test_a_french_hold_is_asked_in_french_with_a_french_address() -> None:
    before = held(["address", "name"], program="ensemble", shortcode="38200")
    first = send(before, "Camille Martin")
    assert first.replies[0].text.startswith("Quelle est votre adresse ?")
    second = send(first.new_state, "12 rue de la Paix, 75002 Paris")
    assert given_events(second)[0]["values"] == {
        "street": "12 rue de la Paix", "city": "Paris", "postal_code": "75002",
        "country": "FR"}
    french = DonationPolicy.from_rules(RULES, "ensemble", "38200")
    assert first_question(french.render, {"name"}) == \
        "Ou répondez ici : quels sont vos nom et prénom ?"


# -- the parsers (hypothesis) -------------------------------------------------

letters = st.text(alphabet=string.ascii_letters, min_size=1, max_size=12)
words = st.lists(letters, min_size=1, max_size=3).map(" ".join)
places = st.lists(st.text(alphabet=string.ascii_letters, min_size=2, max_size=12),
                  min_size=1, max_size=3).map(" ".join)
streets = st.builds(lambda n, w: f"{n} {w}", st.integers(1, 99999), words)
zips = st.from_regex(r"\A\d{5}(-\d{4})?\Z")
states = st.sampled_from(sorted(US_STATES))
spaces = st.sampled_from([" ", "  ", "\t", " \n "])


@given(field=st.sampled_from([*FIELDS, "bogus"]), text=st.text(max_size=400),
       profile=st.sampled_from(["us", "fr"]))
@settings(max_examples=400)
def test_no_answer_makes_a_parser_raise_and_accepted_values_are_clean(
    field: str, text: str, profile: str
) -> None:
    parsed = parse_answer(field, text, profile)  # type: ignore[arg-type]
    assert parsed.ok != (parsed.error is not None)
    for value in parsed.values.values():
        assert value == clean(value) and 0 < len(value) <= 100


@given(street=streets, city=places, state=states, zip_code=zips, gap=spaces,
       lower=st.booleans(), comma=st.booleans())
def test_a_us_address_in_the_asked_shape_reads_back_whole(
    street: str, city: str, state: str, zip_code: str, gap: str, lower: bool, comma: bool
) -> None:
    typed = f"{street},{gap}{city}{',' if comma else ''}{gap}" \
            f"{state.lower() if lower else state}{gap}{zip_code}"
    parsed = parse_address(typed, "us")
    assert parsed.ok, (typed, parsed.error)
    assert dict(parsed.values) == {"street": clean(street), "city": clean(city),
                                   "region": state, "postal_code": zip_code, "country": "US"}
    assert parse_address(format_address(parsed.values, "us"), "us") == parsed  # idempotent


@given(street=streets, city=places, postal=st.from_regex(r"\A\d{5}\Z"))
def test_a_french_address_reads_back_whole(street: str, city: str, postal: str) -> None:
    parsed = parse_address(f"{street}, {postal} {city}", "fr")
    assert parsed.ok and parsed.values["postal_code"] == postal
    assert parse_address(format_address(parsed.values, "fr"), "fr") == parsed


@given(first=letters, last=letters, gap=spaces)
def test_a_first_and_last_name_is_a_name_and_one_word_is_not(
    first: str, last: str, gap: str
) -> None:
    assert parse_name(f"{gap}{first}{gap}{last}{gap}") == f"{first} {last}"
    assert parse_name(first) is None
    assert parse_name(f"{first} {last} 42") is None


def test_a_city_may_be_a_word_that_is_not_an_answer_on_its_own() -> None:
    """Hypothesis found '1 A, 00000 NO' refused: "NO" is not an answer, but it can be a city."""
    parsed = parse_address("1 A, 00000 NO", "fr")
    assert parsed.ok and parsed.values["city"] == "NO"
    assert parse_address("12 Main St, Ok, NY 10001", "us").ok
