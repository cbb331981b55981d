"""Where a supporter probably is: from the zip they gave, else from their number's area code.

Quiet hours and local targeting need a state and an IANA time zone per
contact (compliance rule 11). What the supporter told us wins: people keep
their number when they move, so a zip beats an area code. Everything is
offline and pure: `zipcodes` and `phonenumbers` ship their data, and the zip
lookup is the engine's own validator (so a zip the dialog accepted always
resolves to the same state and zone here).

An area code can span several zones (208: Boise and Los Angeles). All are
kept, so quiet hours can allow only the hours allowed in every one of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final, Literal

import phonenumbers
import zipcodes
from phonenumbers import geocoder
from phonenumbers import timezone as phone_timezone

from gateway.engine.model import Step
from gateway.engine.validators import VALIDATORS, fr_postal_code

GeoSource = Literal["zip", "area_code"]

# Validators whose answer is a postal code, and the country it belongs to.
POSTAL_VALIDATORS: Final = {"us_zip": "US", "fr_postal_code": "FR"}
# The countries whose postal codes the gateway can place (WHERE, committees, events).
POSTAL_COUNTRIES: Final = tuple(dict.fromkeys(POSTAL_VALIDATORS.values()))
_REGION_KEYS: Final = ("state", "department")
_UNKNOWN_ZONE: Final = "Etc/Unknown"
_PER_EXCHANGE: Final = frozenset({"US", "CA"})

# phonenumbers describes a US area code by state name ("Florida") or by city
# and USPS code ("New York, NY"); the names are turned into USPS codes here.
US_STATE_CODES: Final = {
    "Alabama": "AL", "Alaska": "AK", "Arizona": "AZ", "Arkansas": "AR", "California": "CA",
    "Colorado": "CO", "Connecticut": "CT", "Delaware": "DE", "District of Columbia": "DC",
    "Washington D.C.": "DC", "Florida": "FL", "Georgia": "GA", "Hawaii": "HI", "Idaho": "ID",
    "Illinois": "IL", "Indiana": "IN", "Iowa": "IA", "Kansas": "KS", "Kentucky": "KY",
    "Louisiana": "LA", "Maine": "ME", "Maryland": "MD", "Massachusetts": "MA",
    "Michigan": "MI", "Minnesota": "MN", "Mississippi": "MS", "Missouri": "MO",
    "Montana": "MT", "Nebraska": "NE", "Nevada": "NV", "New Hampshire": "NH",
    "New Jersey": "NJ", "New Mexico": "NM", "New York": "NY", "North Carolina": "NC",
    "North Dakota": "ND", "Ohio": "OH", "Oklahoma": "OK", "Oregon": "OR",
    "Pennsylvania": "PA", "Rhode Island": "RI", "South Carolina": "SC", "South Dakota": "SD",
    "Tennessee": "TN", "Texas": "TX", "Utah": "UT", "Vermont": "VT", "Virginia": "VA",
    "Washington": "WA", "West Virginia": "WV", "Wisconsin": "WI", "Wyoming": "WY",
    "Puerto Rico": "PR", "Guam": "GU", "American Samoa": "AS", "U.S. Virgin Islands": "VI",
    "Northern Mariana Islands": "MP",
}
_US_CODES: Final = frozenset(US_STATE_CODES.values())


@dataclass(frozen=True, slots=True)
class Geo:
    """A contact's derived location; every field None/empty when nothing is known."""

    zip: str | None = None
    region: str | None = None
    country: str | None = None
    timezones: tuple[str, ...] = ()
    source: GeoSource | None = None


UNKNOWN: Final = Geo()

PostalSteps = Sequence[tuple[str, Step]]


def postal_steps(steps: Iterable[Step]) -> list[tuple[str, Step]]:
    """(profile field, step) for every dialog step that asks for a postal code, US first."""
    found = {step.field: step for step in steps if step.validator in POSTAL_VALIDATORS}
    return sorted(found.items(), key=lambda item: item[1].validator != "us_zip")


def derive(msisdn: str, profile: Mapping[str, Any], steps: PostalSteps) -> Geo:
    """The zip's location when the profile holds a valid one, else the area code's."""
    return from_profile(profile, steps) or from_area_code(msisdn)


def from_profile(profile: Mapping[str, Any], steps: PostalSteps) -> Geo | None:
    for field, step in steps:
        value = profile.get(field)
        if value is None:
            continue
        accepted = VALIDATORS[step.validator](str(value), step)
        if accepted is None:  # a zip a later version of the data no longer knows
            continue
        region = next((accepted.derived[k] for k in _REGION_KEYS if k in accepted.derived), None)
        timezone = accepted.derived.get("timezone")
        return Geo(
            zip=str(accepted.value),
            region=region,
            country=POSTAL_VALIDATORS[step.validator],
            timezones=(timezone,) if timezone else (),
            source="zip",
        )
    return None


def from_area_code(msisdn: str) -> Geo:
    """Zones, country and (US) state the numbering plan gives for this E.164 number.

    North American numbers are cached per exchange (+1, area code,
    exchange): a lookup costs about 60 µs, which a burst of first-time
    texters would pay per MO, and libphonenumber's answer for the US, Canada
    and unassigned exchanges depends on nothing past the exchange (checked on
    three line numbers of every exchange). Some Caribbean answers depend on
    the line number, so those numbers are looked up whole.
    """
    if len(msisdn) == 12 and msisdn.startswith("+1") and msisdn[1:].isdigit():
        shared = _lookup(msisdn[:8] + "0000")
        if shared.country in _PER_EXCHANGE or shared == UNKNOWN:
            return shared
    return _lookup(msisdn)


@lru_cache(maxsize=65_536)
def _lookup(msisdn: str) -> Geo:
    try:
        number = phonenumbers.parse(msisdn)
    except phonenumbers.NumberParseException:
        return UNKNOWN
    zones = tuple(
        z for z in phone_timezone.time_zones_for_number(number) if z != _UNKNOWN_ZONE
    )
    country = phonenumbers.region_code_for_number(number)
    if not zones or not country or country == "001":
        return UNKNOWN
    region = us_state(geocoder.description_for_number(number, "en")) if country == "US" else None
    return Geo(region=region, country=country, timezones=zones, source="area_code")


def us_state(description: str) -> str | None:
    """'Florida' -> 'FL', 'New York, NY' -> 'NY'; None for anything else ('', 'United States')."""
    tail = description.rsplit(", ", 1)[-1].strip()
    if tail in _US_CODES:
        return tail
    return US_STATE_CODES.get(tail)


# The postal validators ignore their step; they are called here outside any dialog.
_POSTAL_STEP: Final = Step.model_validate({"field": "postal_code", "prompt": "-",
                                           "validator": "fr_postal_code"})


@lru_cache(maxsize=4096)
def postal_position(country: str, postal_code: str) -> tuple[str, float | None, float | None]:
    """(area, lat, lon) of a postal code: département (FR) or zip3 (US); lat/lon for US zips.

    The knowledge base's lookups (pipeline/contact_centre.py) and the committee
    and event forms (services/campaign_data.py) derive an area the same way,
    so `WHERE 90210` finds the committees entered for that area.
    """
    code = postal_code.strip()[:5]
    if country == "FR":
        accepted = fr_postal_code(code, _POSTAL_STEP)
        return (accepted.derived["department"] if accepted else code[:2]), None, None
    entries: list[dict[str, Any]] = []
    if code.isascii() and code.isdigit() and len(code) == 5:
        entries = zipcodes.matching(code)  # type: ignore[no-untyped-call]
    for entry in entries:
        if entry.get("lat") and entry.get("long"):
            return code[:3], float(entry["lat"]), float(entry["long"])
    return code[:3], None, None
