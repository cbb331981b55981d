"""Donor details as a supporter types them: one parser per fact, total and pure.

The FEC asks for a donor's name, address, employer and occupation (compliance
rule 18). They arrive as SMS answers (donor_details.py) or from the web form
(gateway/web/donor_details.py); both use these parsers, so a fact accepted by
one is accepted by the other. Every parser takes any text and returns either
the cleaned values or an error code naming what is wrong; none raises.

Addresses by SMS are one line, in the shape the question shows:

    us  "12 Main St, Springfield, IL 62701"   (the comma before the state optional,
                                                ZIP+4 accepted)
    fr  "12 rue de la Paix, 75002 Paris"

Values are cleaned: control characters dropped, runs of spaces collapsed,
state codes upper-cased. A name needs two words (first and last), as the
report wants; a one-word answer is asked again, and the web form is there
for anyone the rule does not fit.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

from gateway.engine.model import Profile

FIELDS: Final = ("name", "address", "employer", "occupation")
MAX_LENGTH: Final = 100
US_STATES: Final = frozenset({  # and DC, the territories, the armed forces
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID", "IL", "IN",
    "IA", "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH",
    "NJ", "NM", "NY", "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT",
    "VT", "VA", "WA", "WV", "WI", "WY", "AS", "GU", "MP", "PR", "VI", "AA", "AE", "AP",
})
# Answers that are surely not a fact: a confused reply to the question.
_NOT_AN_ANSWER: Final = frozenset({"Y", "YES", "N", "NO", "OUI", "NON", "OK", "STOP", "HELP",
                                   "?", "WHAT", "WHY", "QUOI"})
_US_TAIL = re.compile(r"[,\s]+([A-Za-z]{2})[,\s]*(\d{5}(?:-\d{4})?)$")
_US_ZIP = re.compile(r"^\d{5}(?:-\d{4})?$")
_FR_ADDRESS = re.compile(r"^(.+?),\s*(\d{5})\s+(.+)$")
_FR_POSTAL = re.compile(r"^\d{5}$")
_NAME_PUNCTUATION = frozenset(" '-.,’")
_PLACE_PUNCTUATION = frozenset(" '-.’")


@dataclass(frozen=True, slots=True)
class Parsed:
    """`values` maps donor_details columns to cleaned text; `error` names what is wrong."""

    values: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def clean(text: str) -> str:
    """Printable characters only, one space between words, nothing at either end."""
    kept = "".join(c if unicodedata.category(c)[0] != "C" else " " for c in text)
    return " ".join(kept.split())


def parse_answer(field_name: str, text: str, profile: Profile) -> Parsed:
    """An SMS answer to the question for `field_name` (one of FIELDS)."""
    if field_name == "name":
        return _one("name", parse_name(text))
    if field_name == "address":
        return parse_address(text, profile)
    if field_name in ("employer", "occupation"):
        return _one(field_name, parse_work(text))
    return Parsed(error=field_name)


def parse_name(text: str) -> str | None:
    value = clean(text)
    words = value.replace(",", " ").split()
    if not _fits(value, 3) or len(words) < 2 or not all(any(c.isalpha() for c in w)
                                                        for w in words):
        return None
    if not all(c.isalpha() or c in _NAME_PUNCTUATION for c in value):
        return None
    return value


def parse_work(text: str) -> str | None:
    """Employer or occupation: free text with a letter in it ("Self-employed", "Retired")."""
    value = clean(text)
    if not _fits(value, 2) or not any(c.isalpha() for c in value):
        return None
    return value


def parse_street(text: str) -> str | None:
    value = clean(text)
    has_digit = any(c.isdigit() for c in value)
    if not _fits(value, 3) or not any(c.isalpha() for c in value):
        return None
    return value if has_digit or value.upper().startswith(("PO BOX", "P.O.", "BP ")) else None


def parse_city(text: str) -> str | None:
    """A place name. Unlike a whole answer, it may be a word such as "No" or "Ok": those
    are refused when they are the entire text (the engine's own checks), not as the city
    of an address that says more."""
    value = clean(text)
    if not 2 <= len(value) <= MAX_LENGTH or not any(c.isalpha() for c in value):
        return None
    return value if all(c.isalpha() or c in _PLACE_PUNCTUATION for c in value) else None


def parse_region(text: str, profile: Profile) -> str | None:
    """A US state code; French addresses have none (returns '')."""
    if profile == "fr":
        return ""
    value = clean(text).upper()
    return value if value in US_STATES else None


def parse_postal_code(text: str, profile: Profile) -> str | None:
    value = clean(text)
    pattern = _FR_POSTAL if profile == "fr" else _US_ZIP
    return value if pattern.match(value) else None


def parse_address(text: str, profile: Profile) -> Parsed:
    """One line: street, city, state and ZIP (us) or street, postal code and city (fr)."""
    value = clean(text)
    if len(value) > 3 * MAX_LENGTH:
        return Parsed(error="address")
    if profile == "fr":
        match = _FR_ADDRESS.match(value)
        if match is None:
            return Parsed(error="address")
        street, postal, city, region = match.group(1), match.group(2), match.group(3), ""
    else:
        tail = _US_TAIL.search(value)
        if tail is None:
            return Parsed(error="address")
        parts = [p.strip() for p in value[:tail.start()].split(",") if p.strip()]
        if len(parts) < 2:
            return Parsed(error="address")
        street, city = ", ".join(parts[:-1]), parts[-1]
        region, postal = tail.group(1), tail.group(2)
    return address_fields(street, city, region, postal, profile)


def address_fields(street: str, city: str, region: str, postal_code: str, profile: Profile
                   ) -> Parsed:
    """The four parts of an address checked one by one; `error` names the first bad one."""
    checked = (("street", parse_street(street)), ("city", parse_city(city)),
               ("region", parse_region(region, profile)),
               ("postal_code", parse_postal_code(postal_code, profile)))
    for name, value in checked:
        if value is None:
            return Parsed(error=name)
    values = {name: str(value) for name, value in checked if value}
    values["country"] = "FR" if profile == "fr" else "US"
    return Parsed(MappingProxyType(values))


def format_address(values: Mapping[str, str], profile: Profile) -> str:
    """The one-line form `parse_address` reads back."""
    if profile == "fr":
        return f"{values['street']}, {values['postal_code']} {values['city']}"
    return f"{values['street']}, {values['city']}, {values['region']} {values['postal_code']}"


def _fits(value: str, shortest: int) -> bool:
    return shortest <= len(value) <= MAX_LENGTH and value.upper() not in _NOT_AN_ANSWER


def _one(name: str, value: str | None) -> Parsed:
    return Parsed(error=name) if value is None else Parsed(MappingProxyType({name: value}))
