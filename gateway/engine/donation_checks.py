"""Load-time refusals for `donations:` (compliance rules 15, 17, 18 and 25).

A confirmation text that lacks a disclosure, a price point over the per-text
limit, carrier billing on a French program: the keywords file is refused
with the path of the offending value, before any supporter sees the text.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from gateway.engine.donation_rules import (
    CARD,
    CARRIER,
    PROFILE_DEFAULTS,
    YES_WORDS,
    DonationRules,
    compile_one,
)
from gateway.engine.model import Donations, Profile, RulesFile
from gateway.engine.templates import Template
from gateway.engine.text import normalize
from gateway.engine.yamlsource import Path

Finding = tuple[Path, str]

_BILLED_TO_PHONE = ("mobile account", "mobile bill", "phone bill", "wireless bill",
                    "phone account", "wireless account")
_ELIGIBILITY: dict[Profile, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "us": (
        ("that the donor is 18 or older", ("18",)),
        ("own funds", ("own funds", "own money")),
        ("US citizen", ("citizen",)),
        ("or permanent resident", ("permanent resident",)),
        ("not a federal contractor", ("federal contractor",)),
    ),
    "fr": (
        ("majeur / 18 ans", ("majeur", "majeure", "18 ans")),
        ("nationalité française ou résidence en France",
         ("nationalite francaise", "residant", "residante", "resident", "residente",
          "residez", "reside")),
        ("personne physique", ("personne physique",)),
    ),
}
_SAMPLE_CENTS = 777
_SAMPLE_LAST4 = "9876"


def donation_findings(doc: RulesFile, templates: Mapping[Path, Template]) -> Iterator[Finding]:
    """compliance rules 15, 17 and 25 as load-time refusals."""
    for i, kw in enumerate(doc.keywords):
        if kw.action == "donate" and kw.program in doc.programs and kw.program not in doc.donations:
            yield (("keywords", i, "action"),
                   f"action donate needs a donations.{kw.program} entry (committee, terms, texts)")
    for pid, spec in doc.donations.items():
        at: Path = ("donations", pid)
        program = doc.programs.get(pid)
        if program is None:
            yield at, f"unknown program {pid!r}; donations are keyed by program id"
            continue
        yield from _check_settings(spec, program.profile, at)
        compiled = compile_one(pid, spec, program.profile, templates)
        yield from _check_placeholders(compiled, at)
        for code in program.shortcodes:
            values = {"program": program.name, "shortcode": code, "support": program.support,
                      "frequency": program.frequency_text, "privacy_url": program.privacy.url}
            yield from _check_texts(compiled, values, at)


def _check_settings(spec: Donations, profile: Profile, at: Path) -> Iterator[Finding]:
    methods = set(spec.methods or PROFILE_DEFAULTS[profile].methods)
    if profile == "fr" and CARRIER in methods:
        yield (*at, "methods"), ("carrier billing is off for political donations on a French "
                                 "program (profile fr); use methods: [card]")
    if len(set(spec.methods or [])) != len(spec.methods or []):
        yield (*at, "methods"), "a method is listed twice"
    per_text = spec.limits.per_text or PROFILE_DEFAULTS[profile].limits.per_text
    if CARRIER in methods and profile != "fr":
        if not spec.price_points:
            yield (*at, "price_points"), "carrier billing needs price_points (e.g. [5, 10])"
        for j, cents in enumerate(spec.price_points):
            if cents > per_text:
                yield (*at, "price_points", j), (f"price point {cents / 100:.2f} is over the "
                                                 f"per-text limit {per_text / 100:.2f}")
        if len(set(spec.price_points)) != len(spec.price_points):
            yield (*at, "price_points"), "a price point is listed twice"
        if spec.texts.confirm_carrier is None:
            yield (*at, "texts"), "carrier billing needs texts.confirm_carrier"
    elif spec.price_points:
        yield (*at, "price_points"), "price_points only apply to carrier billing"
    if CARD in methods and spec.texts.confirm_card is None:
        yield (*at, "texts"), "card donations need texts.confirm_card"
    if profile == "us":
        for name in ("details_name_address", "details_employer"):
            if getattr(spec.texts, name) is None:
                yield (*at, "texts"), f"texts.{name} is needed to collect donor details (FEC)"
    if spec.timezone is not None:
        try:
            ZoneInfo(spec.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            yield (*at, "timezone"), f"unknown time zone {spec.timezone!r} (e.g. America/Chicago)"
    if spec.election is not None and spec.election.starts > spec.election.ends:
        yield (*at, "election"), "election starts after it ends"


def _check_texts(rules: DonationRules, program_values: dict[str, str], at: Path
                 ) -> Iterator[Finding]:
    values = {**program_values, **rules.variables(), "amount": rules.money(_SAMPLE_CENTS),
              "card_last4": _SAMPLE_LAST4}
    for method, name in ((CARRIER, "confirm_carrier"), (CARD, "confirm_card")):
        template = rules.texts.get(name)
        if method not in rules.methods or template is None:
            continue
        missing = missing_confirmation_disclosures(template.render(values), rules, method,
                                                   program_values["shortcode"])
        if missing:
            yield (*at, "texts", name), (f"{name} on {program_values['shortcode']} lacks "
                                         + ", ".join(missing))
    ask = rules.texts.get("ask_amount")
    if ask is not None and CARRIER in rules.methods and rules.price_points:
        rendered = _words(ask.render(values))
        if not all(_has(rendered, rules.money(p)) for p in rules.price_points):
            yield (*at, "texts", "ask_amount"), "ask_amount must list the price points " \
                                                "({price_points})"
    employer = rules.texts.get("details_employer")
    if rules.profile == "us" and employer is not None and not _has(
            _words(employer.render(values)), "best efforts"):
        yield (*at, "texts", "details_employer"), \
            "details_employer must carry the best-efforts statement (\"best efforts\")"
    link = rules.texts.get("checkout_link")
    if CARD in rules.methods and link is not None:
        words = _words(link.render(values))
        needs: list[tuple[str, tuple[str, ...]]] = [("the terms link", (rules.terms_url,))]
        if rules.profile == "us":  # a French page carries its own certification
            needs += _ELIGIBILITY["us"]
        missing = [what for what, needles in needs if not any(_has(words, n) for n in needles)]
        if missing:
            yield (*at, "texts", "checkout_link"), ("checkout_link on "
                                                   f"{program_values['shortcode']} lacks "
                                                   + ", ".join(missing))


# A text that must name a value, or what it exists for is lost (the page, the question).
_MUST_NAME: Final = {"checkout_link": "checkout_url", "requires_action": "action_url",
                     "details_reply_here": "question"}


def _check_placeholders(rules: DonationRules, at: Path) -> Iterator[Finding]:
    for name, placeholder in _MUST_NAME.items():
        template = rules.texts.get(name)
        if template is not None and placeholder not in template.names:
            yield (*at, "texts", name), f"{name} must name {{{placeholder}}}"


def missing_confirmation_disclosures(text: str, rules: DonationRules, method: str,
                                     shortcode: str) -> list[str]:
    """What a rendered confirmation request lacks (compliance rule 15)."""
    words = _words(text)
    sample = rules.money(_SAMPLE_CENTS)
    needs: list[tuple[str, tuple[str, ...]]] = [
        ("the amount ({amount})", (sample,)),
        ("the committee name", (rules.committee,)),
        ("the terms link", (rules.terms_url,)),
    ]
    if method == CARRIER:
        needs.append(("that it is billed to the mobile account", _BILLED_TO_PHONE))
    else:
        needs.append(("the card ending ({card_last4})", (_SAMPLE_LAST4,)))
    needs += _ELIGIBILITY[rules.profile]
    if rules.profile == "us":
        needs.append(('"Msg&data rates may apply"', ("Msg&data rates may apply",
                                                     "Msg & data rates may apply")))
    missing = [what for what, needles in needs if not any(_has(words, n) for n in needles)]
    yes = YES_WORDS[rules.profile] - {"Y"}
    if not yes & set(words.split()):
        missing.append("how to confirm (reply " + " or ".join(sorted(yes)) + ")")
    return missing


def _words(text: str) -> str:
    return f" {normalize(text)} "


def _has(words: str, needle: str) -> bool:
    folded = normalize(needle)
    return bool(folded) and f" {folded} " in words
