"""Which quiet-hours rules apply to whom: counsel's values, as one config object.

compliance rules 11-14 as data. Nothing here reads the clock or a file:
`QuietHoursPolicy()` holds the defaults, `QuietHoursPolicy.from_mapping`
builds one from a config section (a TOML table), and every list of states,
window and calendar can be changed there without touching code.

Choosing the rule set for one recipient:
- a country with rules of its own (France) wins;
- otherwise the restricted set (08:00-20:00 and 3 messages per 24 h on one
  subject) when the zip state *or* the area-code state is FL, OK or MD;
- otherwise, when no state at all is known, the restricted set again
  (`unknown_region_restricted`): the person could be in Florida;
- otherwise the default set (08:00-21:00).

Choosing the zones: the contact's own (zip, else area code); with none, the
fallback zones of their country, or of the program's country. The US
fallback is every US zone from Eastern to Hawaii, so an unknown American is
only reached at hours allowed coast to coast (and in Honolulu).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from gateway.broadcast.quiet_hours import (
    MONDAY_TO_SATURDAY,
    NoAllowedTime,
    QuietHoursError,
    QuietRules,
    next_allowed,
    zone_info,
)

US_FALLBACK_ZONES = (
    "America/New_York", "America/Chicago", "America/Denver", "America/Phoenix",
    "America/Los_Angeles", "America/Anchorage", "Pacific/Honolulu",
)
FRANCE = QuietRules(
    start=time(8), end=time(20), weekdays=MONDAY_TO_SATURDAY, holidays_country="FR",
    zone="Europe/Paris",
)
DEFAULT_RULES = QuietRules()
RESTRICTED_RULES = QuietRules(end=time(20), max_per_subject=3)
_DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _default_countries() -> dict[str, QuietRules]:
    return {"FR": FRANCE}


def _default_fallbacks() -> dict[str, tuple[str, ...]]:
    return {"US": US_FALLBACK_ZONES, "FR": ("Europe/Paris",)}


@dataclass(frozen=True, slots=True)
class QuietHoursPolicy:
    default: QuietRules = DEFAULT_RULES
    restricted: QuietRules = RESTRICTED_RULES
    restricted_regions: frozenset[str] = frozenset({"FL", "OK", "MD"})
    unknown_region_restricted: bool = True
    countries: Mapping[str, QuietRules] = field(default_factory=_default_countries)
    fallback_zones: Mapping[str, tuple[str, ...]] = field(default_factory=_default_fallbacks)
    default_country: str = "US"

    def __post_init__(self) -> None:
        if self.default_country not in self.fallback_zones:
            raise QuietHoursError(
                f"default_country {self.default_country}: no fallback_zones for it"
            )
        for zones in self.fallback_zones.values():
            if not zones:
                raise QuietHoursError("fallback_zones: every country needs at least one zone")
            for name in zones:
                zone_info(name)

    def rules_for(self, *, country: str | None, regions: Iterable[str | None]) -> QuietRules:
        """The rule set for a recipient in `country` whose known states are `regions`."""
        if country is not None and country in self.countries:
            return self.countries[country]
        known = {r for r in regions if r}
        if known & self.restricted_regions:
            return self.restricted
        if not known and self.unknown_region_restricted and country in (None, "US"):
            return self.restricted
        return self.default

    def zones_for(self, zones: Sequence[str], country: str | None) -> tuple[str, ...]:
        """The recipient's zones, or the documented fallback when none is known."""
        known = tuple(z for z in zones if _is_zone(z))
        if known:
            return known
        return self.fallback_zones.get(country or "", self.fallback_zones[self.default_country])

    def schedulable_zones(
        self, zones: Sequence[str], country: str | None, rules: QuietRules, now: datetime
    ) -> tuple[str, ...]:
        """`zones_for`, unless those zones never share an allowed minute.

        A toll-free or satellite number can list zones from Guam to Alaska:
        no hour is allowed in all of them. Such a number is scheduled as one
        of unknown whereabouts (the country's fallback) rather than never.
        """
        chosen = self.zones_for(zones, country)
        try:
            next_allowed(now, chosen, rules)
        except NoAllowedTime:
            return self.zones_for((), country)
        return chosen

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> QuietHoursPolicy:
        """Build from a config table; every problem is reported at once."""
        problems: list[str] = []
        kwargs: dict[str, Any] = {}
        for name in ("default", "restricted"):
            if name in data:
                kwargs[name] = _rules(name, data[name], problems)
        if "restricted_regions" in data:
            kwargs["restricted_regions"] = frozenset(
                str(r).upper() for r in data["restricted_regions"]
            )
        if "unknown_region_restricted" in data:
            kwargs["unknown_region_restricted"] = bool(data["unknown_region_restricted"])
        if "countries" in data:
            kwargs["countries"] = {
                str(code).upper(): _rules(f"countries.{code}", value, problems)
                for code, value in dict(data["countries"]).items()
            }
        if "fallback_zones" in data:
            kwargs["fallback_zones"] = {
                str(code).upper(): tuple(str(z) for z in zones)
                for code, zones in dict(data["fallback_zones"]).items()
            }
        if "default_country" in data:
            kwargs["default_country"] = str(data["default_country"]).upper()
        unknown = set(data) - {
            "default", "restricted", "restricted_regions", "unknown_region_restricted",
            "countries", "fallback_zones", "default_country",
        }
        problems += [f"{key}: unknown setting" for key in sorted(unknown)]
        if not problems:
            try:
                return cls(**kwargs)
            except QuietHoursError as err:
                problems.append(str(err))
        raise QuietHoursError("invalid quiet-hours config:\n" + "\n".join(problems))


def _is_zone(name: str) -> bool:
    try:
        zone_info(name)
    except QuietHoursError:
        return False
    return True


def _rules(where: str, raw: Any, problems: list[str]) -> QuietRules:
    """{"start": "08:00", "end": "20:00", "days": "mon-sat", "holidays": "FR", ...}."""
    if not isinstance(raw, Mapping):
        problems.append(f"{where}: expected a table with start, end, days...")
        return QuietRules()
    known = {"start", "end", "days", "holidays", "zone", "max_per_subject", "subject_period_hours"}
    problems += [f"{where}.{key}: unknown setting" for key in sorted(set(raw) - known)]
    kwargs: dict[str, Any] = {}
    try:
        for key in ("start", "end"):
            if key in raw:
                kwargs[key] = _clock(raw[key])
        if "days" in raw:
            kwargs["weekdays"] = _weekdays(raw["days"])
        if "holidays" in raw:
            kwargs["holidays_country"] = str(raw["holidays"]).upper()
        if "zone" in raw:
            kwargs["zone"] = str(raw["zone"])
        if "max_per_subject" in raw:
            kwargs["max_per_subject"] = int(raw["max_per_subject"])
        if "subject_period_hours" in raw:
            kwargs["subject_period"] = timedelta(hours=float(raw["subject_period_hours"]))
        return QuietRules(**kwargs)
    except (ValueError, TypeError) as err:  # QuietHoursError is a ValueError
        problems.append(f"{where}: {err}")
        return QuietRules()


def _clock(raw: Any) -> time:
    """'8:00', '08:00' or '20:30' (TOML may also hand over a time value)."""
    if isinstance(raw, time):
        return raw
    hours, sep, minutes = str(raw).strip().partition(":")
    if not (sep and hours.isdigit() and minutes.isdigit() and len(minutes) == 2):
        raise ValueError(f"time {raw!r}: write HH:MM, like 08:00")
    return time(int(hours), int(minutes))  # out of range: ValueError


def _weekdays(raw: Any) -> frozenset[int]:
    """'mon-sat', 'mon,wed,fri', or a list of names or ranges."""
    items = [str(n) for n in raw] if isinstance(raw, list) else str(raw).split(",")
    days: set[int] = set()
    for item in items:
        first, _, last = item.strip().lower().partition("-")
        low = _day_index(first)
        high = _day_index(last) if last else low
        if low is None or high is None or low > high:
            raise ValueError(f"days {raw!r}: write mon-sat, or a list like [mon, wed, fri]")
        days.update(range(low, high + 1))
    return frozenset(days)


def _day_index(name: str) -> int | None:
    name = name.strip()
    if len(name) < 3 or name[:3] not in _DAY_NAMES:
        return None
    return _DAY_NAMES.index(name[:3])
