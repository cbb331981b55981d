"""The donation dialog in the pure engine: saved cards, precedence, and properties (hypothesis)."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.engine import Rules, decide, load_rules
from gateway.engine.events import EngineEvent
from gateway.engine.gift_requests import format_money, parse_amount_cents
from gateway.engine.text import normalize
from gateway.engine.types import ContactState, Decision, Inbound

ROOT = Path(__file__).resolve().parents[1]
RULES: Rules = load_rules(ROOT / "keywords.yaml")
NOW = datetime(2024, 5, 1, 15, 0, tzinfo=UTC)
CARD = {"card": {"last4": "4242", "brand": "visa"}}


def state(shortcode: str = "12345", data: dict[str, Any] | None = None) -> ContactState:
    return ContactState(msisdn="+15551230000", shortcode=shortcode, data=dict(data or {}))


def send(before: ContactState, text: str, now: datetime = NOW, mo_id: int = 1) -> Decision:
    inbound = Inbound(mo_id, before.msisdn, before.shortcode, text, now)
    return decide(before, inbound, now=now, rules=RULES)


def named(decision: Decision, name: str) -> dict[str, Any]:
    found = [e.to_json() for e in decision.events if e.name == name]
    assert len(found) == 1, [e.name for e in decision.events]
    return found[0]


def test_a_saved_card_gets_an_express_confirmation_with_its_last_four() -> None:
    asked = send(state(data=CARD), "GIVE 25", mo_id=7)
    assert [r.text for r in asked.replies] == [
        "Rise Up PAC: reply YES to give $25 with your card ending 4242. You certify you are 18+, "
        "giving your own funds, a US citizen or permanent resident and not a federal "
        "contractor. Msg&data rates may apply. Terms: https://riseup.example.org/give-terms"]
    assert named(asked, "donation_requested")["method"] == "card"
    confirmed = send(asked.new_state, "Yes", NOW + timedelta(minutes=1), mo_id=8)
    data = named(confirmed, "donation_confirmed")
    assert (data["donation_ref"], data["amount_cents"], data["method"]) == (7, 2500, "card")
    assert data["confirmed_at"] == (NOW + timedelta(minutes=1)).isoformat()
    assert confirmed.replies == ()  # the billing service answers after charging
    assert confirmed.new_state.data["card"] == CARD["card"]  # the saved card survives


def test_a_saved_card_wins_over_the_phone_bill_even_at_a_price_point() -> None:
    asked = send(state(data=CARD), "GIVE 10")
    assert "card ending 4242" in asked.replies[0].text
    assert named(asked, "donation_requested")["method"] == "card"


def test_the_french_express_confirmation_says_oui_and_takes_it() -> None:
    asked = send(state("38200", CARD), "DON 20")
    assert asked.replies[0].text.startswith(
        "AF Ensemble Citoyen : répondez OUI pour donner 20 € avec votre carte finissant par 4242.")
    confirmed = send(asked.new_state, "oui", NOW + timedelta(hours=1))
    data = named(confirmed, "donation_confirmed")
    assert (data["amount_cents"], data["currency"], data["method"]) == (2000, "EUR", "card")


def test_a_lone_o_is_no_yes_to_a_charge() -> None:
    asked = send(state("38200", CARD), "DON 20")
    stray = send(asked.new_state, "ò", NOW + timedelta(minutes=1))
    assert not any(e.name == "donation_confirmed" for e in stray.events)
    assert "donation" in stray.new_state.data


def test_a_yes_in_a_flood_confirms_no_charge() -> None:
    current = send(state(), "GIVE 10").new_state
    for i in range(10):
        current = send(current, "lol", NOW + timedelta(seconds=i + 1)).new_state
    flooded = send(current, "YES", NOW + timedelta(seconds=12))
    assert [e.name for e in flooded.events] == ["flood_suppressed"]
    assert "donation" in flooded.new_state.data  # still pending, still needs a real YES
    later = send(flooded.new_state, "YES", NOW + timedelta(minutes=5))
    assert [e.name for e in later.events] == ["donation_confirmed"]


def test_a_reload_without_donations_cancels_a_pending_request() -> None:
    pending = send(state(), "GIVE 10").new_state
    stripped = type(RULES)(source=RULES.source, defaults=RULES.defaults,
                           shortcodes=RULES.shortcodes, programs=RULES.programs,
                           dialogs=RULES.dialogs)
    decision = decide(pending, Inbound(2, pending.msisdn, "12345", "YES", NOW), now=NOW,
                      rules=stripped)
    assert [e.name for e in decision.events][:1] == ["donation_cancelled"]
    assert named(decision, "donation_cancelled")["reason"] == "rules_changed"
    assert not any(e.name == "donation_confirmed" for e in decision.events)


def test_money_is_written_the_local_way() -> None:
    assert [format_money(c, "USD", "us") for c in (500, 1050, 350000)] == ["$5", "$10.50",
                                                                           "$3,500"]
    assert [format_money(c, "EUR", "fr") for c in (2000, 1050, 750000)] == ["20 €", "10,50 €",
                                                                            "7 500 €"]
    assert parse_amount_cents("$10.50") == 1050 and parse_amount_cents("ten") is None


# -- properties ---------------------------------------------------------------

WORDS = ["GIVE 10", "GIVE 5", "give", "GIVE 25", "donate 7.50", "5", "$10", "YES", "yes", "Y",
         "NO", "STOP", "HELP", "JOIN", "FACTS", "START", "hello", "DON 20", "DON", "OUI",
         "10001", "O", "ò"]
GAPS = [1, 30, 600, 3600, 23 * 3600, 25 * 3600, 3 * 86400]
conversations = st.lists(st.tuples(st.one_of(st.sampled_from(WORDS), st.text(max_size=12)),
                                   st.sampled_from(GAPS)), max_size=30)


def play(shortcode: str, card: bool, conversation: list[tuple[str, int]]
         ) -> list[tuple[Inbound, Decision]]:
    current = state(shortcode, CARD if card else None)
    now = NOW
    played = []
    for i, (text, gap) in enumerate(conversation):
        now += timedelta(seconds=gap)
        inbound = Inbound(i + 1, current.msisdn, shortcode, text, now)
        snapshot = copy.deepcopy(current.data)
        decision = decide(current, inbound, now=now, rules=RULES)
        assert current.data == snapshot  # the input state is never touched
        played.append((inbound, decision))
        current = decision.new_state
    return played


@given(st.sampled_from(["12345", "38200"]), st.booleans(), conversations)
@settings(max_examples=300, deadline=None)
def test_no_confirmation_without_its_own_request_and_a_timely_yes(
    shortcode: str, card: bool, conversation: list[tuple[str, int]]
) -> None:
    requests: dict[int, tuple[dict[str, Any], datetime]] = {}
    closed: set[int] = set()
    for inbound, decision in play(shortcode, card, conversation):
        events: list[EngineEvent] = list(decision.events)
        json.dumps([e.to_json() for e in events])
        for event in events:
            data = event.to_json()
            if event.name == "donation_requested" and data["flow"] == "sms_confirmation":
                requests[data["donation_ref"]] = (data, inbound.received_at)
                assert data["donation_ref"] == inbound.mo_id
            elif event.name == "donation_confirmation_sent":
                reply = decision.replies[data["reply_index"]].text
                request = requests[data["donation_ref"]][0]
                assert request["committee"] in reply
                assert format_money(request["amount_cents"], request["currency"],
                                    "fr" if shortcode == "38200" else "us") in reply
            elif event.name == "donation_confirmed":
                ref = data["donation_ref"]
                assert ref in requests and ref not in closed, "confirmed twice or after closing"
                request, asked_at = requests[ref]
                assert normalize(inbound.text) in {"Y", "YES", "OUI"}
                assert inbound.received_at - asked_at <= timedelta(hours=24)
                assert data["amount_cents"] == request["amount_cents"]
                closed.add(ref)
            elif event.name in ("donation_cancelled", "donation_expired"):
                assert data["donation_ref"] in requests and data["donation_ref"] not in closed
                closed.add(data["donation_ref"])
        if decision.new_state.opted_out:
            assert "donation" not in decision.new_state.data
            assert all(r.compliance for r in decision.replies)
