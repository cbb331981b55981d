"""Dialog answer validators: pure functions from a raw answer to a value.

Each returns `Accepted(value, derived)` or None (re-prompt). `derived` holds
facts computed from the answer that other parts need without another
lookup: a US zip brings its state and IANA timezone (quiet hours), a French
postal code its département. Lookups are offline (the `zipcodes` package
carries its data), so a validator never does network I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

import zipcodes

from gateway.engine.model import Step, ValidatorName
from gateway.engine.text import normalize

JsonScalar = str | int | float


@dataclass(frozen=True, slots=True)
class Accepted:
    value: JsonScalar
    derived: dict[str, str] = field(default_factory=dict)


Validator = Callable[[str, Step], "Accepted | None"]

_US_ZIP = re.compile(r"^(\d{5})(?:[-\s]?(\d{4}))?$")


@lru_cache(maxsize=4096)
def _zip_facts(zip5: str) -> tuple[str, str] | None:
    """(state, timezone) for a real US zip code, None for one that does not exist."""
    entries: list[dict[str, object]] = zipcodes.matching(zip5)  # type: ignore[no-untyped-call]
    for entry in entries:
        state, timezone = entry.get("state"), entry.get("timezone")
        if state and timezone:
            return str(state), str(timezone)
    return None


def us_zip(answer: str, _: Step) -> Accepted | None:
    match = _US_ZIP.match(answer.strip())
    if not match:
        return None
    facts = _zip_facts(match.group(1))
    if facts is None:
        return None  # well-formed but not a real zip: better to ask again
    value = match.group(1) + (f"-{match.group(2)}" if match.group(2) else "")
    return Accepted(value, {"state": facts[0], "timezone": facts[1]})


_FR_OVERSEAS_TIMEZONES = {
    "971": "America/Guadeloupe", "972": "America/Martinique", "973": "America/Cayenne",
    "974": "Indian/Reunion", "975": "America/Miquelon", "976": "Indian/Mayotte",
    "977": "America/St_Barthelemy", "978": "America/Marigot", "980": "Europe/Monaco",
    "986": "Pacific/Wallis", "987": "Pacific/Tahiti", "988": "Pacific/Noumea",
}


def fr_postal_code(answer: str, _: Step) -> Accepted | None:
    code = answer.strip().replace(" ", "")
    if not re.fullmatch(r"\d{5}", code):
        return None
    prefix = int(code[:2])
    if 1 <= prefix <= 95:
        department = code[:2]
        if prefix == 20:  # Corsica: 20000-20199 is 2A, 20200-20699 is 2B
            department = "2A" if int(code) < 20200 else "2B"
        return Accepted(code, {"department": department, "timezone": "Europe/Paris"})
    overseas = _FR_OVERSEAS_TIMEZONES.get(code[:3])
    if overseas is None:
        return None
    return Accepted(code, {"department": code[:3], "timezone": overseas})


_GENDERS = {
    "F": ("F", "FEMALE", "FEMME", "WOMAN", "WOMEN", "GIRL", "LADY", "FILLE", "MADAME", "MME",
          "SHE", "ELLE"),
    "M": ("M", "MALE", "MAN", "MEN", "HOMME", "H", "BOY", "GUY", "GARCON", "MONSIEUR", "MR",
          "HE", "IL"),
    "other": ("OTHER", "O", "X", "NB", "NONBINARY", "NON BINARY", "ENBY", "AUTRE",
              "NON BINAIRE", "NONBINAIRE", "GENDERQUEER", "AGENDER"),
}
_GENDER_BY_WORD = {word: value for value, words in _GENDERS.items() for word in words}


def gender(answer: str, _: Step) -> Accepted | None:
    words = normalize(answer)
    if words in _GENDER_BY_WORD:
        return Accepted(_GENDER_BY_WORD[words])
    first = words.split(" ", 1)[0]
    value = _GENDER_BY_WORD.get(first)
    return Accepted(value) if value is not None and len(first) > 1 else None


def choice(answer: str, step: Step) -> Accepted | None:
    """Match the whole answer, its first word, or a 1-based position ("2")."""
    options = step.choices or []
    words = normalize(answer)
    by_word = {normalize(option): option for option in options}
    if words in by_word:
        return Accepted(by_word[words])
    first = words.split(" ", 1)[0]
    if first in by_word:
        return Accepted(by_word[first])
    if first.isdecimal() and 1 <= int(first) <= len(options) and words == first:
        return Accepted(options[int(first) - 1])
    return None


_NUMBER = re.compile(r"^[+-]?\d+(?:[.,]\d+)?$")


def number(answer: str, step: Step) -> Accepted | None:
    text = answer.strip().replace(" ", "")
    if not _NUMBER.match(text):
        return None
    value = float(text.replace(",", "."))
    if (step.min is not None and value < step.min) or (step.max is not None and value > step.max):
        return None
    return Accepted(int(value) if value.is_integer() else value)


FREE_TEXT_LIMIT = 500


def free_text(answer: str, _: Step) -> Accepted | None:
    text = " ".join(answer.split())
    return Accepted(text[:FREE_TEXT_LIMIT]) if text else None


_EMAIL = re.compile(r"^[^@\s]{1,64}@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})$")


def email(answer: str, _: Step) -> Accepted | None:
    text = answer.strip()
    match = _EMAIL.match(text)
    if not match:
        return None
    local = text[: match.start(1) - 1]
    return Accepted(f"{local}@{match.group(1).lower()}")


VALIDATORS: dict[ValidatorName, Validator] = {
    "us_zip": us_zip,
    "fr_postal_code": fr_postal_code,
    "gender": gender,
    "choice": choice,
    "number": number,
    "free_text": free_text,
    "email": email,
}

# Profile fields a validator adds beside the step's own field.
DERIVED_FIELDS: dict[ValidatorName, frozenset[str]] = {
    "us_zip": frozenset({"state", "timezone"}),
    "fr_postal_code": frozenset({"department", "timezone"}),
}
