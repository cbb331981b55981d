"""Every donation text is a keywords.yaml template: today's wording by default, a program's own
when it writes one, and the checker's refusal when it would lose what the text is for."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gateway.billing.decision_types import Hold
from gateway.billing.decisions import hold_text, link_text, requires_action_text
from gateway.billing.policy import DonationPolicy, DonorTotals, check_limits
from gateway.billing.stripe_client import CheckoutLink
from gateway.engine import RulesError, load_rules, parse_rules
from gateway.engine.donation_rules import DONATION_VARIABLES
from gateway.engine.donation_texts import DEFAULT_TEXTS, default_templates
from gateway.engine.donor_details import first_question
from gateway.engine.model import DonationTexts
from gateway.engine.templates import PROGRAM_VARIABLES
from gateway.store.donations import DonationRow

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = (ROOT / "keywords.yaml").read_text(encoding="utf-8")
RULES = load_rules(ROOT / "keywords.yaml")
RISE = DonationPolicy.from_rules(RULES, "rise", "12345")
ENSEMBLE = DonationPolicy.from_rules(RULES, "ensemble", "38200")
NOW = datetime(2024, 5, 15, 15, 0, tzinfo=UTC)
PAGE = CheckoutLink("cs_1", "https://pay.example/cs_1")
THANKS = ('      thanks: "{committee}: thank you for your gift of {amount}! Reply HELP for help, '
          'STOP to cancel."\n')


def gift(policy: DonationPolicy, amount: int = 2500) -> DonationRow:
    return DonationRow(7, "+12125550123", policy.shortcode, policy.program, policy.committee,
                       "card", amount, policy.currency, NOW, NOW + timedelta(days=1), None,
                       "requested", NOW)


def with_rise_texts(*lines: str) -> str:
    assert THANKS in SHIPPED
    return SHIPPED.replace(THANKS, THANKS + "".join(f"      {line}\n" for line in lines), 1)


def test_the_defaults_are_keys_of_the_file_and_name_only_known_values() -> None:
    keys = set(DonationTexts.model_fields)
    for profile, texts in DEFAULT_TEXTS.items():
        assert set(texts) <= keys, profile
        for name, template in default_templates(profile).items():
            assert template.names <= DONATION_VARIABLES | PROGRAM_VARIABLES, (profile, name)
    # US committees word their own details texts (the FEC's best-efforts statement).
    assert set(DEFAULT_TEXTS["fr"]) - set(DEFAULT_TEXTS["us"]) == {
        "details_name_address", "details_employer"}


def test_by_default_the_texts_say_what_the_gateway_always_said() -> None:
    assert link_text(RISE, gift(RISE), PAGE) == (
        "Rise Up PAC: to give $25 by card, use this secure page: https://pay.example/cs_1 You "
        "certify you are 18+, giving your own funds, a US citizen or permanent resident and "
        "not a federal contractor. Terms: https://riseup.example.org/give-terms")
    assert link_text(ENSEMBLE, gift(ENSEMBLE), PAGE) == (
        "AF Ensemble Citoyen : pour donner 25 € par carte, rendez-vous sur "
        "https://pay.example/cs_1 Conditions : https://ensemble.example.fr/don-conditions")
    assert RISE.render("checkout_description") == "Rise Up PAC donation"
    assert requires_action_text(RISE, "https://bank.example/3ds") == (
        "Rise Up PAC: your bank needs you to confirm this gift: https://bank.example/3ds")
    assert requires_action_text(None, "https://bank.example/3ds") == (
        "your bank needs you to confirm this gift: https://bank.example/3ds")
    hold = Hold(frozenset({"name", "address"}), "details_name_address", 0, NOW)
    assert hold_text(ENSEMBLE, gift(ENSEMBLE), hold, "https://x.example/give/details/t") == (
        "AF Ensemble Citoyen : merci ! Pour un don de 25 €, la loi nous demande d'abord "
        "votre identité : https://x.example/give/details/t Rien n'a été débité. "
        "Ou répondez ici : quels sont vos nom et prénom ?")
    assert first_question(RISE.render, {"occupation", "employer"}) == (
        "Or reply here: who is your employer? (Self-employed, retired or not employed? "
        "Say so.)")


def test_a_refusal_names_the_limit_in_the_programs_words() -> None:
    at = NOW
    over = DonorTotals(RISE.windows(at), month_by_phone_cents=4500)
    refusal = check_limits(1000, "carrier", over, RISE, at)
    assert refusal is not None and "legal limit of $50 a month by text." in refusal.text
    french = DonorTotals(ENSEMBLE.windows(at), election_cents=750_000)
    refusal = check_limits(1000, "card", french, ENSEMBLE, at)
    assert refusal is not None and "plafond légal de 7 500 € par an." in refusal.text


def test_a_program_may_word_them_itself() -> None:
    rules = parse_rules(with_rise_texts(
        'checkout_link: "{committee}: give {amount} at {checkout_url} (18+, own funds, US '
        'citizen or permanent resident, not a federal contractor). Terms: {terms_url}"',
        'details_ask_name: "Your full name, please?"',
        'limit_per_month: "{limit} in a calendar month"',
        'details_expected_region: "a two-letter state"'))
    rise = DonationPolicy.from_rules(rules, "rise", "12345")
    assert link_text(rise, gift(rise), PAGE) == (
        "Rise Up PAC: give $25 at https://pay.example/cs_1 (18+, own funds, US citizen or "
        "permanent resident, not a federal contractor). Terms: "
        "https://riseup.example.org/give-terms")
    assert first_question(rise.render, {"name"}) == "Or reply here: your full name, please?"
    over = DonorTotals(rise.windows(NOW), month_by_phone_cents=4500)
    refusal = check_limits(1000, "carrier", over, rise, NOW)
    assert refusal is not None and "$50 in a calendar month" in refusal.text
    assert rise.render("details_unreadable", expected=rise.render("details_expected_region"),
                       question="Q?") == "Sorry, that doesn't look like a two-letter state. Q?"


@pytest.mark.parametrize(("line", "message"), [
    ('checkout_link: "{committee}: give {amount}. Terms: {terms_url}"',
     "checkout_link must name {checkout_url}"),
    ('checkout_link: "{committee}: give {amount} at {checkout_url} Terms: {terms_url}"',
     "checkout_link on 12345 lacks that the donor is 18 or older, own funds"),
    ('checkout_link: "{committee}: give {amount} at {checkout_url}, 18+, own funds, citizen '
     'or permanent resident, no federal contractor"', "lacks the terms link"),
    ('requires_action: "{committee}: your bank wants you"', "must name {action_url}"),
    ('details_reply_here: "Or reply here."', "details_reply_here must name {question}"),
    ('details_unreadable: "Not {expectd}. {question}"', "unknown field {expectd}"),
    ('details_ask_name: ""', "details_ask_name"),
])
def test_the_checker_refuses_a_text_that_loses_what_it_is_for(line: str, message: str) -> None:
    with pytest.raises(RulesError) as caught:
        parse_rules(with_rise_texts(line), "kw.yaml")
    assert any(message in p for p in caught.value.problems), caught.value.problems


def test_docs_list_every_text_and_its_default() -> None:
    page = (ROOT / "docs/donations.md").read_text(encoding="utf-8")
    missing = [f"`{key}`" for key in DonationTexts.model_fields if f"`{key}`" not in page]
    missing += [f"{profile} {name}" for profile, texts in DEFAULT_TEXTS.items()
                for name, source in texts.items() if f"`{source}`" not in page]
    assert missing == []
