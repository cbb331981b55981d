"""Where a contact is: from the zip they gave, else from their number (pure, offline)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway import geo
from gateway.engine import load_rules
from gateway.engine.model import Step

ROOT = Path(__file__).resolve().parents[1]
RULES = load_rules(ROOT / "keywords.yaml")
STEPS = geo.postal_steps(step.spec for d in RULES.dialogs.values() for step in d.steps)


def test_the_shipped_rules_ask_for_a_us_zip_and_a_french_postal_code() -> None:
    assert [(field, step.validator) for field, step in STEPS] == [
        ("zip", "us_zip"), ("postal_code", "fr_postal_code"),
    ]


def test_us_steps_come_first_whatever_the_dialog_order() -> None:
    fr = Step.model_validate({"field": "cp", "prompt": "?", "validator": "fr_postal_code"})
    us = Step.model_validate({"field": "zip5", "prompt": "?", "validator": "us_zip"})
    other = Step.model_validate({"field": "gender", "prompt": "?", "validator": "gender"})
    assert [f for f, _ in geo.postal_steps([fr, other, us])] == ["zip5", "cp"]


def test_a_zip_gives_state_and_zone_and_beats_the_area_code() -> None:
    # A New York number whose owner lives in Miami: what they told us wins.
    found = geo.derive("+12125550123", {"zip": "33101"}, STEPS)
    assert found == geo.Geo(zip="33101", region="FL", country="US",
                            timezones=("America/New_York",), source="zip")


def test_zip_plus_four_keeps_its_extension() -> None:
    found = geo.derive("+12125550123", {"zip": "60601-1234"}, STEPS)
    assert (found.zip, found.region, found.timezones) == (
        "60601-1234", "IL", ("America/Chicago",))


def test_a_french_postal_code_gives_departement_and_paris_time() -> None:
    found = geo.derive("+33612345678", {"postal_code": "20100"}, STEPS)
    assert found == geo.Geo(zip="20100", region="2A", country="FR",
                            timezones=("Europe/Paris",), source="zip")


def test_without_a_zip_the_area_code_gives_state_and_zone() -> None:
    assert geo.derive("+13125550100", {"gender": "F"}, STEPS) == geo.Geo(
        region="IL", country="US", timezones=("America/Chicago",), source="area_code")


def test_an_area_code_spanning_zones_keeps_them_all() -> None:
    found = geo.derive("+12085550123", {}, STEPS)
    assert found.region == "ID"
    assert set(found.timezones) == {"America/Boise", "America/Los_Angeles"}
    assert found.source == "area_code"


def test_an_unknown_zip_falls_back_to_the_area_code() -> None:
    found = geo.derive("+14055550100", {"zip": "00000"}, STEPS)
    assert (found.zip, found.region, found.source) == (None, "OK", "area_code")


def test_a_number_with_no_geography_is_unknown() -> None:
    assert geo.derive("+15555550123", {}, STEPS) is geo.UNKNOWN
    assert geo.from_area_code("not a number") is geo.UNKNOWN


def test_a_french_mobile_has_a_country_and_zone_but_no_region() -> None:
    assert geo.from_area_code("+33612345678") == geo.Geo(
        country="FR", timezones=("Europe/Paris",), source="area_code")


@pytest.mark.parametrize(
    ("description", "state"),
    [("Florida", "FL"), ("New York, NY", "NY"), ("Washington", "WA"),
     ("District of Columbia", "DC"), ("", None), ("United States", None), ("Ontario", None)],
)
def test_phonenumbers_descriptions_become_usps_codes(description: str, state: str | None) -> None:
    assert geo.us_state(description) == state


@given(st.from_regex(r"\+1[2-9][0-9]{2}[2-9][0-9]{6}", fullmatch=True))
@settings(deadline=None, max_examples=200)
def test_a_us_number_never_yields_a_made_up_state_or_zone(msisdn: str) -> None:
    found = geo.from_area_code(msisdn)
    assert found.source in (None, "area_code")
    assert found.zip is None
    assert found.region is None or found.region in set(geo.US_STATE_CODES.values())
    assert all(zone != "Etc/Unknown" and "/" in zone for zone in found.timezones)
    assert (found.source is None) == (found.timezones == ())


@given(st.from_regex(r"\+1[2-9][0-9]{2}[2-9][0-9]{6}", fullmatch=True))
@settings(deadline=None, max_examples=300)
def test_the_nanp_prefix_cache_answers_what_a_lookup_of_the_number_would(msisdn: str) -> None:
    assert geo.from_area_code(msisdn) == geo._lookup.__wrapped__(msisdn)


@pytest.mark.parametrize("msisdn", ["+12465225379", "+18766069999", "+12125550123"])
def test_numbers_whose_line_matters_are_looked_up_whole(msisdn: str) -> None:
    # Barbados 246-522 and Jamaica 876-606: libphonenumber's answer depends on the line
    assert geo.from_area_code(msisdn) == geo._lookup.__wrapped__(msisdn)
