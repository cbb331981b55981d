"""The legal limits on a donation, and the pure check the billing service runs before charging.

Why the check is here and not in the engine: limits need the donor's totals
from the database (the engine has no I/O). The split is:

    engine      GIVE -> confirmation request -> YES -> `donation_confirmed`
    service     lock the donor, sum `DonorTotals` for `policy.windows(now)`,
                `check_limits(...)` -> a `Refusal` (record `refused`, send its
                text, charge nothing) or None -> `required_details(...)` ->
                hold for details, or charge.

Which clock a "calendar month" uses: the committee's (`donations.<program>.
timezone`, default America/New_York for US programs, Europe/Paris for French
ones). A $10 given at 11:30 pm on May 31 in New York (03:30 UTC on June 1)
counts towards May, as the committee's treasurer would book it. The legal
date of receipt (the YES time, UTC) decides which window a donation is in.

Which limits apply to which method (FEC advisory opinions 2012-17..30): the
per-text, monthly and per-cycle limits bind carrier-billed ("by phone")
money per number per committee; the per-election limit binds the donor's
money by every method. We know a donor by their number; cards saved on the
number count as theirs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from types import MappingProxyType
from typing import Final, Literal
from urllib.parse import urljoin
from zoneinfo import ZoneInfo

from gateway.engine.gift_requests import CARD, CARRIER, format_choices, format_money
from gateway.engine.model import Profile
from gateway.engine.rules import Rules
from gateway.engine.templates import Template

Method = Literal["carrier", "card"]
RefusalReason = Literal[
    "method_unavailable", "invalid_amount", "not_a_price_point", "outside_election",
    "over_per_text", "over_monthly", "over_cycle", "over_election",
]
NAME_ADDRESS: Final = frozenset({"name", "address"})
# A gift held for donor details expires this long after the hold, like an unconfirmed one.
DETAILS_HOLD: Final = timedelta(hours=24)
EMPLOYER_OCCUPATION: Final = frozenset({"employer", "occupation"})

Window = tuple[datetime, datetime]  # [start, end) in UTC


@dataclass(frozen=True, slots=True)
class LimitWindows:
    month: Window
    cycle: Window
    election: Window


@dataclass(frozen=True, slots=True)
class DonorTotals:
    """What one number already gave one committee, per window, in integer cents.

    Count money that is or may become ours: confirmed donations being charged,
    charged/billed ones, minus refunds. The store's `donor_totals` sums the
    same thing in SQL; `from_history` is its pure twin (tests, batch folding).
    """

    windows: LimitWindows
    month_by_phone_cents: int = 0  # carrier, this calendar month
    cycle_by_phone_cents: int = 0  # carrier, this election cycle
    cycle_cents: int = 0  # every method, this cycle: the donor-details thresholds
    election_cents: int = 0  # every method, this election

    @classmethod
    def from_history(cls, history: Iterable[tuple[int, str, datetime]],
                     windows: LimitWindows) -> DonorTotals:
        """Totals from (amount_cents, method, confirmed_at) of the donations that count."""
        totals = cls(windows)
        for amount, method, at in history:
            totals = totals.plus(amount, method, at)
        return totals

    def plus(self, amount_cents: int, method: str, at: datetime) -> DonorTotals:
        """These totals with one more donation; how a batch checks a donor's second gift."""
        by_phone = method == CARRIER
        w = self.windows
        return replace(
            self,
            month_by_phone_cents=self.month_by_phone_cents + _in(w.month, at, by_phone,
                                                                 amount_cents),
            cycle_by_phone_cents=self.cycle_by_phone_cents + _in(w.cycle, at, by_phone,
                                                                 amount_cents),
            cycle_cents=self.cycle_cents + _in(w.cycle, at, True, amount_cents),
            election_cents=self.election_cents + _in(w.election, at, True, amount_cents),
        )


def _in(window: Window, at: datetime, counts: bool, amount: int) -> int:
    return amount if counts and window[0] <= at < window[1] else 0


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a donation cannot be taken, and the polite text that says so."""

    reason: RefusalReason
    text: str
    limit_cents: int | None = None
    already_cents: int = 0  # what the window already holds


@dataclass(frozen=True, slots=True)
class DonationPolicy:
    """One program's donation rules for one short code; every amount in integer cents."""

    program: str
    shortcode: str
    profile: Profile
    committee: str
    terms_url: str
    currency: str
    methods: frozenset[str]
    price_points: tuple[int, ...]
    per_text_cents: int
    per_month_by_phone_cents: int
    per_cycle_by_phone_cents: int
    per_election_cents: int
    details_name_address_over_cents: int
    details_employer_over_cents: int
    confirm_within: timedelta
    timezone: ZoneInfo
    cycle: str  # "two_year" (FEC: Jan 1 of an odd year, two years) | "calendar_year"
    election: tuple[str, date, date] | None  # name, first and last day (local)
    texts: Mapping[str, Template]
    variables: Mapping[str, str]  # program and committee values for the texts

    @classmethod
    def from_rules(cls, rules: Rules, program: str, shortcode: str | None = None
                   ) -> DonationPolicy:
        found = rules.donations.get(program)
        if found is None:
            raise KeyError(f"program {program!r} has no donations: entry in the keywords file")
        spec = rules.programs[program]
        code = shortcode or spec.shortcodes[0]
        limits = found.limits
        election = found.election
        return cls(
            program=program, shortcode=code, profile=found.profile,
            committee=found.committee, terms_url=found.terms_url, currency=found.currency,
            methods=found.methods, price_points=found.price_points,
            per_text_cents=limits.per_text,
            per_month_by_phone_cents=limits.per_month_by_phone,
            per_cycle_by_phone_cents=limits.per_cycle_by_phone,
            per_election_cents=limits.per_election,
            details_name_address_over_cents=limits.details_name_address_over,
            details_employer_over_cents=limits.details_employer_over,
            confirm_within=timedelta(seconds=found.confirm_within),
            timezone=ZoneInfo(found.timezone), cycle=found.cycle,
            election=None if election is None else (election.name, election.starts,
                                                    election.ends),
            texts=found.texts,
            variables=MappingProxyType({**spec.variables(code), **found.variables()}),
        )

    def money(self, cents: int) -> str:
        return format_money(cents, self.currency, self.profile)

    def render(self, name: str, **values: str) -> str:
        """A donation text ('thanks', 'refused'...); '' when the file does not define it."""
        template = self.texts.get(name)
        return "" if template is None else template.render({**self.variables, **values})

    def windows(self, now: datetime) -> LimitWindows:
        """The calendar month, cycle and election containing `now`, in the committee's zone."""
        local = now.astimezone(self.timezone).date()
        month = (self._midnight(local.replace(day=1)), self._midnight(_next_month(local)))
        first_year = local.year - (local.year + 1) % 2 if self.cycle == "two_year" else local.year
        years = 2 if self.cycle == "two_year" else 1
        cycle = (self._midnight(date(first_year, 1, 1)),
                 self._midnight(date(first_year + years, 1, 1)))
        election = cycle
        if self.election is not None:
            election = (self._midnight(self.election[1]),
                        self._midnight(self.election[2] + timedelta(days=1)))
        return LimitWindows(month=month, cycle=cycle, election=election)

    def _midnight(self, day: date) -> datetime:
        return datetime.combine(day, time(0), tzinfo=self.timezone).astimezone(UTC)


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def check_limits(amount_cents: int, method: str, totals: DonorTotals, policy: DonationPolicy,
                 now: datetime) -> Refusal | None:
    """None when the donation may be charged; else the first limit it breaks.

    `now` is the donation's legal date of receipt (its `confirmed_at`), not the
    time the service runs: a YES on May 31 counts for May even if charged on
    June 1. `totals` must have been summed for `policy.windows(now)`: totals
    of another month would let a donor through twice, so a mismatch raises.
    """
    windows = policy.windows(now)
    if totals.windows != windows:
        raise ValueError("check_limits: totals were summed for other windows than "
                         "policy.windows(now); sum them again for this time")
    if method not in policy.methods or method not in (CARRIER, CARD):
        return _refuse(policy, "method_unavailable", amount_cents, None, 0)
    if amount_cents <= 0:
        return _refuse(policy, "invalid_amount", amount_cents, None, 0)
    if not windows.election[0] <= now < windows.election[1]:
        return _refuse(policy, "outside_election", amount_cents, None, 0)
    if method == CARRIER:
        if amount_cents not in policy.price_points:
            return _refuse(policy, "not_a_price_point", amount_cents, None, 0)
        checks: tuple[tuple[RefusalReason, int, int], ...] = (
            ("over_per_text", policy.per_text_cents, 0),
            ("over_monthly", policy.per_month_by_phone_cents, totals.month_by_phone_cents),
            ("over_cycle", policy.per_cycle_by_phone_cents, totals.cycle_by_phone_cents),
        )
        for reason, limit, already in checks:
            if already + amount_cents > limit:
                return _refuse(policy, reason, amount_cents, limit, already)
    if totals.election_cents + amount_cents > policy.per_election_cents:
        return _refuse(policy, "over_election", amount_cents, policy.per_election_cents,
                       totals.election_cents)
    return None


def required_details(amount_cents: int, totals: DonorTotals, policy: DonationPolicy
                     ) -> frozenset[str]:
    """Donor facts the law asks for once this gift is added (compliance rule 18)."""
    aggregate = totals.cycle_cents + amount_cents
    needed: frozenset[str] = frozenset()
    if aggregate > policy.details_name_address_over_cents:
        needed |= NAME_ADDRESS
    if aggregate > policy.details_employer_over_cents:
        needed |= EMPLOYER_OCCUPATION
    return needed


def missing_details(needed: frozenset[str], on_file: Mapping[str, str | None]) -> frozenset[str]:
    """The needed facts not on file (blank counts as missing)."""
    return frozenset(name for name in needed if not (on_file.get(name) or "").strip())


# How a refusal names the limit it broke ("$50 a month by text"): a text per limit.
_LIMIT_TEXTS: Final[dict[str, str]] = {
    "over_per_text": "limit_per_text", "over_monthly": "limit_per_month",
    "over_cycle": "limit_per_cycle", "over_election": "limit_per_election"}


def method_unavailable(policy: DonationPolicy, amount_cents: int) -> Refusal:
    """No configured method can take this gift (a card gift without a Stripe key)."""
    return _refuse(policy, "method_unavailable", amount_cents, None, 0)


def _refuse(policy: DonationPolicy, reason: RefusalReason, amount: int, limit: int | None,
            already: int) -> Refusal:
    """A limit names itself ("$50 a month by text"); anything else is `unavailable`."""
    money = policy.money(amount)
    if limit is not None:
        phrase = policy.render(_LIMIT_TEXTS[reason], limit=policy.money(limit))
        text = policy.render("refused", amount=money, limit=phrase)
    else:
        choices = format_choices(policy.price_points, policy.currency, policy.profile)
        text = policy.render("unavailable", amount=money, price_points=choices) or \
            policy.render("refused", amount=money, limit=choices or money)
    return Refusal(reason=reason, text=text, limit_cents=limit, already_cents=already)


def details_link(policy: DonationPolicy, token: str, base_url: str | None = None) -> str:
    """The donor-details form for one held gift (gateway/web/donor_details.py).

    `base_url` is where the gateway's form is reachable from the internet
    (GATEWAY_DONOR_DETAILS_URL); without it the link is on the committee's own
    site (its terms_url origin), which must then pass /give/details/ to the gateway.
    The token is random and only its hash is stored (billing/details.py).
    """
    base = base_url.rstrip("/") + "/" if base_url else urljoin(policy.terms_url, "/")
    return urljoin(base, f"give/details/{token}")
