"""Text-to-give: `GIVE 10` -> a confirmation request -> `YES` -> `donation_confirmed`.

The engine runs the conversation only; the money moves elsewhere. Split:

* here (pure): which method (saved card, carrier price point, or a checkout
  link), the confirmation request with every disclosure, the confirmation
  window, and the events the ledger records. `donation_ref` is the requesting
  MO's id: known inside the engine, unique, and the shell makes it the
  donation's primary key and the Stripe idempotency key.
* the billing service (shell): legal limits need totals from the database,
  so `billing.policy.check_limits` runs there, after the YES and before any
  charge; so do donor details. The engine never says "charged" or "refused".

Precedence of a pending confirmation (decide.py has the whole order): STOP
first (it cancels the donation: `donation_cancelled`), then the flood guard
(an auto-responder's YES never confirms a charge), then HELP (answered; the
donation stays pending), then the pending donation: YES confirms it, NO
declines it, even when a double opt-in also waits for its Y. Why the
donation wins: its request is the newer question, and answering the older
one with a charge is impossible this way round (an opt-in costs nothing,
a misdirected YES to a donation would). A YES with no donation pending and
an opt-in pending goes to the opt-in; a repeated YES after a confirmation
with nothing pending is recorded (`donation_yes_repeated`) and confirms
nothing. Anything else leaves the request pending until it expires.

State (`ContactState.data`, see state.py):
    "donation":     the pending request {ref, program, amount_cents, currency,
                    method, requested, expires, keyword[, card_last4]}
    "donation_ask": we asked for an amount; the very next MO may answer it
    "donation_last": the latest confirmation {ref, program, confirmed}
    "card":         {"last4": "4242"} written by the shell from the saved card
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from gateway.engine import compliance
from gateway.engine.model import Donations, Election, Profile, RulesFile
from gateway.engine.templates import Template
from gateway.engine.text import normalize
from gateway.engine.types import Reply
from gateway.engine.yamlsource import Path

if TYPE_CHECKING:
    from gateway.engine.rules import KeywordRules
    from gateway.engine.turn import Turn

CARRIER: Final = "carrier"
CARD: Final = "card"
# Values a donation template may name, besides the program's own.
DONATION_VARIABLES: Final = frozenset(
    {"amount", "committee", "terms_url", "card_last4", "price_points", "limit", "details_url"}
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
Finding = tuple[Path, str]


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
            compiled[pid] = _compile_one(pid, spec, program.profile, templates)
    return MappingProxyType(compiled)


def _compile_one(pid: str, spec: Donations, profile: Profile,
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
    texts = {name: t for name in spec.texts.model_dump()
             if (t := templates.get(("donations", pid, "texts", name))) is not None}
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


# -- checks (called from checks.py) ------------------------------------------

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
    """COMPLIANCE.md items 15, 17 and 25 as load-time refusals."""
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
        compiled = _compile_one(pid, spec, program.profile, templates)
        for code in program.shortcodes:
            values = {"program": program.name, "shortcode": code, "support": program.support,
                      "frequency": program.frequency, "privacy_url": program.privacy.url}
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


def missing_confirmation_disclosures(text: str, rules: DonationRules, method: str,
                                     shortcode: str) -> list[str]:
    """What a rendered confirmation request lacks (COMPLIANCE.md item 15)."""
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


# -- the dialog (called from decide.py) ---------------------------------------


def request(turn: Turn, keyword: KeywordRules) -> None:
    """GIVE / DONATE [amount]: ask for the amount, send the confirmation request, or a link."""
    rules = turn.rules.donations.get(keyword.program)
    assert rules is not None  # guaranteed by checks: a donate keyword needs donations:
    if turn.draft.donation is not None:
        _cancel(turn, "replaced")
    turn.draft.donation_ask = None
    argument = turn.command.argument
    amount = parse_amount_cents(argument) if argument else None
    _offer(turn, rules, amount, keyword.word, argument)


def answer(turn: Turn) -> bool:
    """A reply to the donation dialog; False lets the MO route on (keywords, dialogs...)."""
    if turn.opted_out:
        return False
    draft, words = turn.draft, turn.command.words
    is_yes = words in YES_WORDS[turn.code.profile]
    pending = draft.donation
    if pending is not None:
        rules = turn.rules.donations.get(str(pending["program"]))
        expired = turn.now > datetime.fromisoformat(pending["expires"])
        if rules is None:  # a reload removed this program's donations: nothing to confirm
            _cancel(turn, "rules_changed")
        elif is_yes:
            if expired:
                _expire(turn, rules, reply=True)
            else:
                _confirm(turn, pending, rules)
            return True
        elif words in NO_WORDS[turn.code.profile]:
            _cancel(turn, "declined", rules)
            return True
        elif expired:
            _expire(turn, rules, reply=False)
        else:
            return False
    ask = draft.donation_ask
    if ask is not None:
        draft.donation_ask = None
        rules = turn.rules.donations.get(str(ask["program"]))
        amount = parse_amount_cents(turn.inbound.text)
        if rules is not None and amount is not None and _within(ask["at"], rules, turn.now):
            _offer(turn, rules, amount, str(ask["keyword"]), turn.inbound.text.strip())
            return True
    last = draft.donation_last
    if last is not None:
        rules = turn.rules.donations.get(str(last["program"]))
        if rules is None or not _within(last["confirmed"], rules, turn.now):
            draft.donation_last = None
        elif is_yes and not draft.pending():
            turn.event("donation_yes_repeated", donation_ref=last["ref"],
                       mo_id=turn.inbound.mo_id, at=turn.at)
            _say(turn, rules, "already_confirmed")
            return True
    return False


def cancel_on_opt_out(turn: Turn) -> None:
    """STOP ends a pending request (no charge) and forgets the donation dialog."""
    if turn.draft.donation is not None:
        _cancel(turn, "opted_out")
    turn.draft.donation_ask = None
    turn.draft.donation_last = None


def _offer(turn: Turn, rules: DonationRules, amount: int | None, keyword: str,
           argument: str) -> None:
    card = turn.draft.card if CARD in rules.methods else None
    last4 = str(card.get("last4", "")) if card else ""
    if amount is None or amount <= 0 or amount > rules.limits.per_election:
        _ask(turn, rules, keyword, argument, "missing" if not argument else "invalid")
    elif last4:
        _request_confirmation(turn, rules, amount, CARD, keyword, argument, last4)
    elif CARRIER in rules.methods and amount in rules.price_points:
        _request_confirmation(turn, rules, amount, CARRIER, keyword, argument, "")
    elif CARD in rules.methods:
        # No saved card: the billing service answers with a Checkout link; paying there
        # is the confirmation, so nothing waits for a YES here.
        _requested(turn, rules, amount, CARD, keyword, argument, "checkout")
    else:
        _ask(turn, rules, keyword, argument, "not_a_price_point")


def _ask(turn: Turn, rules: DonationRules, keyword: str, argument: str, reason: str) -> None:
    turn.draft.donation_ask = {"program": rules.program, "keyword": keyword, "at": turn.at}
    turn.event("donation_amount_asked", program=rules.program, keyword=keyword,
               argument=argument, reason=reason, price_points=list(rules.price_points),
               mo_id=turn.inbound.mo_id, at=turn.at)
    _say(turn, rules, "ask_amount")


def _requested(turn: Turn, rules: DonationRules, amount: int, method: str, keyword: str,
               argument: str, flow: str) -> datetime:
    expires = turn.now + timedelta(seconds=rules.confirm_within)
    turn.event("donation_requested", donation_ref=turn.inbound.mo_id, program=rules.program,
               committee=rules.committee, shortcode=turn.code.code, keyword=keyword,
               argument=argument, amount_cents=amount, currency=rules.currency, method=method,
               flow=flow, expires_at=expires.isoformat(), mo_id=turn.inbound.mo_id,
               mo_text=turn.inbound.text, at=turn.at)
    return expires


def _request_confirmation(turn: Turn, rules: DonationRules, amount: int, method: str,
                          keyword: str, argument: str, last4: str) -> None:
    expires = _requested(turn, rules, amount, method, keyword, argument, "sms_confirmation")
    pending: dict[str, Any] = {
        "ref": turn.inbound.mo_id, "program": rules.program, "amount_cents": amount,
        "currency": rules.currency, "method": method, "keyword": keyword,
        "requested": turn.at, "expires": expires.isoformat(),
    }
    if last4:
        pending["card_last4"] = last4
    turn.draft.donation = pending
    name = "confirm_card" if method == CARD else "confirm_carrier"
    text = _say(turn, rules, name, amount=rules.money(amount), card_last4=last4)
    turn.event("donation_confirmation_sent", donation_ref=turn.inbound.mo_id, method=method,
               text=text, reply_index=turn.last_reply_index, at=turn.at)


def _confirm(turn: Turn, pending: Mapping[str, Any], rules: DonationRules) -> None:
    """The legal date of receipt is now (COMPLIANCE.md item 20); no reply: the billing
    service answers once it has charged (thanks) or refused (a limit)."""
    turn.event("donation_confirmed", donation_ref=pending["ref"], program=rules.program,
               committee=rules.committee, amount_cents=pending["amount_cents"],
               currency=pending["currency"], method=pending["method"], confirmed_at=turn.at,
               requested_at=pending["requested"], mo_id=turn.inbound.mo_id,
               mo_text=turn.inbound.text)
    turn.draft.donation = None
    turn.draft.donation_last = {"ref": pending["ref"], "program": rules.program,
                                "confirmed": turn.at}


def _expire(turn: Turn, rules: DonationRules, *, reply: bool) -> None:
    pending = turn.draft.donation
    assert pending is not None
    turn.event("donation_expired", donation_ref=pending["ref"], expired_at=pending["expires"],
               mo_id=turn.inbound.mo_id, at=turn.at)
    turn.draft.donation = None
    if reply:
        _say(turn, rules, "expired", amount=rules.money(int(pending["amount_cents"])))


def _cancel(turn: Turn, reason: str, rules: DonationRules | None = None) -> None:
    pending = turn.draft.donation
    assert pending is not None
    turn.event("donation_cancelled", donation_ref=pending["ref"], reason=reason,
               mo_id=turn.inbound.mo_id, at=turn.at)
    turn.draft.donation = None
    if rules is not None:
        _say(turn, rules, "cancelled", amount=rules.money(int(pending["amount_cents"])))


def _say(turn: Turn, rules: DonationRules, name: str, **values: str) -> str:
    """Queue a donation text (if configured) and return it; '' when not configured."""
    template = rules.texts.get(name)
    if template is None:
        return ""
    base = turn.code.variables.get(rules.program) or turn.program(rules.program).variables(
        turn.code.code)
    profile = turn.draft.profile
    text = template.render({**profile, **base, **rules.variables(), **values})
    turn.replies.append(Reply(text=text))
    return text


def _within(since: str, rules: DonationRules, now: datetime) -> bool:
    return (now - datetime.fromisoformat(since)).total_seconds() <= rules.confirm_within
