"""A program's `donations:` entry compiled with its profile's defaults, and money as text.

Split from the dialog (gift_requests.py) and the load-time checks (donation_checks.py):
the billing service and the checks read these values; only the dialog talks.
Profile defaults follow the law of the program's country: US FEC text-giving
limits, French political funding (card only, EUR 7,500 a year per party).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from gateway.engine import compliance
from gateway.engine.donation_texts import default_templates
from gateway.engine.model import Donations, Election, Profile, RulesFile
from gateway.engine.templates import Template
from gateway.engine.yamlsource import Path

CARRIER: Final = "carrier"
CARD: Final = "card"
# Values a donation template may name, besides the program's own.
DONATION_VARIABLES: Final = frozenset(
    {"amount", "committee", "terms_url", "card_last4", "price_points", "limit", "details_url",
     "checkout_url", "action_url", "question", "expected"}
)
# What confirms a charge: the opt-in's YES words less the lone French "O", which a
# stray letter (or an accented "ò") could send. A charge wants an unmistakable yes.
YES_WORDS: Final[dict[Profile, frozenset[str]]] = {
    "us": compliance.YES_WORDS["us"],
    "fr": compliance.YES_WORDS["fr"] - {"O"},
}
NO_WORDS: Final[dict[Profile, frozenset[str]]] = {
    "us": frozenset({"N", "NO"}),
    "fr": frozenset({"N", "NO", "NON"}),
}


@dataclass(frozen=True, slots=True)
class Limits:
    """Integer cents. Carrier limits apply per number per committee (FEC AOs 2012-17..30)."""

    per_text: int
    per_month_by_phone: int
    per_cycle_by_phone: int
    per_election: int  # per donor, all methods
    details_name_address_over: int  # aggregate above which name and address are needed
    details_employer_over: int  # ... and employer and occupation (best efforts)


@dataclass(frozen=True, slots=True)
class _ProfileDefaults:
    methods: tuple[str, ...]
    currency: str
    timezone: str
    cycle: str
    limits: Limits


NEVER: Final = 10**12  # a threshold no donation reaches
PROFILE_DEFAULTS: Final[dict[Profile, _ProfileDefaults]] = {
    "us": _ProfileDefaults((CARRIER, CARD), "USD", "America/New_York", "two_year",
                           Limits(1000, 5000, 20000, 350000, 5000, 20000)),
    # France: carrier billing is off for political giving; EUR 7,500 a year per party;
    # the donor's identity is needed for every gift (the payment page collects it).
    "fr": _ProfileDefaults((CARD,), "EUR", "Europe/Paris", "calendar_year",
                           Limits(0, 0, 0, 750000, 0, NEVER)),
}


@dataclass(frozen=True, slots=True)
class DonationRules:
    """One program's compiled `donations:` entry, profile defaults filled in."""

    program: str
    profile: Profile
    committee: str
    terms_url: str
    methods: frozenset[str]
    price_points: tuple[int, ...]
    currency: str
    confirm_within: int  # seconds
    timezone: str
    cycle: str  # "two_year" | "calendar_year"
    election: Election | None
    limits: Limits
    texts: Mapping[str, Template]

    def variables(self) -> dict[str, str]:
        return {
            "committee": self.committee,
            "terms_url": self.terms_url,
            "price_points": format_choices(self.price_points, self.currency, self.profile),
        }

    def money(self, cents: int) -> str:
        return format_money(cents, self.currency, self.profile)


def compile_donations(doc: RulesFile, templates: Mapping[Path, Template]
                      ) -> Mapping[str, DonationRules]:
    compiled = {}
    for pid, spec in doc.donations.items():
        program = doc.programs.get(pid)
        if program is not None:
            compiled[pid] = compile_one(pid, spec, program.profile, templates)
    return MappingProxyType(compiled)


def compile_one(pid: str, spec: Donations, profile: Profile,
                 templates: Mapping[Path, Template]) -> DonationRules:
    base = PROFILE_DEFAULTS[profile]
    given = spec.limits
    limits = Limits(
        per_text=given.per_text or base.limits.per_text,
        per_month_by_phone=given.per_month_by_phone or base.limits.per_month_by_phone,
        per_cycle_by_phone=given.per_cycle_by_phone or base.limits.per_cycle_by_phone,
        per_election=given.per_election or base.limits.per_election,
        details_name_address_over=_or(spec.details.name_address_over,
                                      base.limits.details_name_address_over),
        details_employer_over=_or(spec.details.employer_occupation_over,
                                  base.limits.details_employer_over),
    )
    # A text missing here failed to parse: the checker reports it and the loader stops.
    # One the file leaves out says the profile's default (donation_texts.py), if it has one.
    texts = {**default_templates(profile)}
    texts.update({name: t for name in spec.texts.model_dump()
                  if (t := templates.get(("donations", pid, "texts", name))) is not None})
    return DonationRules(
        program=pid, profile=profile, committee=spec.committee, terms_url=spec.terms_url,
        methods=frozenset(spec.methods or base.methods),
        price_points=tuple(sorted(set(spec.price_points))),
        currency=spec.currency or base.currency, confirm_within=spec.confirm_within,
        timezone=spec.timezone or base.timezone, cycle=spec.cycle or base.cycle,
        election=spec.election, limits=limits, texts=MappingProxyType(texts),
    )


def _or(value: int | None, default: int) -> int:
    return default if value is None else value


# -- money -------------------------------------------------------------------

_AMOUNT = re.compile(r"^\$?\s*(\d{1,6})(?:[.,](\d{1,2}))?\s*(?:\$|USD|EUR|€|DOLLARS?)?$",
                     re.IGNORECASE)


def parse_amount_cents(argument: str) -> int | None:
    """'25' -> 2500, '$10.50' -> 1050; None when the text is not a plain amount."""
    match = _AMOUNT.match(argument.strip().split("\n", 1)[0].strip())
    if not match:
        return None
    cents = (match.group(2) or "0").ljust(2, "0")
    return int(match.group(1)) * 100 + int(cents)


def format_money(cents: int, currency: str, profile: Profile) -> str:
    """'$10', '$10.50', '$3,500' in English; '10 €', '10,50 €', '7 500 €' in French."""
    whole, rest = divmod(cents, 100)
    if profile == "fr":
        digits = f"{whole:,}".replace(",", " ") + (f",{rest:02d}" if rest else "")
        return f"{digits} €" if currency == "EUR" else f"{digits} {currency}"
    digits = f"{whole:,}" + (f".{rest:02d}" if rest else "")
    return f"${digits}" if currency == "USD" else f"{digits} {currency}"


def format_choices(amounts: tuple[int, ...], currency: str, profile: Profile) -> str:
    words = [format_money(a, currency, profile) for a in amounts]
    if len(words) < 2:
        return "".join(words)
    return ", ".join(words[:-1]) + (" ou " if profile == "fr" else " or ") + words[-1]
