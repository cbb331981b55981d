"""The lists a form offers instead of a free-text box: programs, countries, time zones.

Why choices: a program typed by its display name ("Rise Up Alerts" instead of
`rise`) was accepted and the event never showed, and a time zone typed from
memory is a typo waiting to happen. A drop-down list offers only what the
gateway knows, labelled in words, and the service still checks the value (a script
calling the API has no select).

Names come from Babel's copy of the CLDR data (territory names, the zones of
each territory, a zone's generic name such as "Central Time"), so nothing here
is a hand-kept list that goes stale when a country changes its clocks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from babel import Locale
from babel.core import get_global
from babel.dates import get_timezone_location, get_timezone_name

from gateway.engine import Rules
from gateway.services.campaign_data import POSTAL_COUNTRIES


@dataclass(frozen=True, slots=True)
class Choice:
    value: str
    label: str


def program_choices(rules: Rules) -> list[Choice]:
    """Each configured program by its name, its id as the value."""
    return [Choice(pid, f"{program.name} ({pid})") for pid, program in rules.programs.items()]


def country_choices(locale: str = "en") -> list[Choice]:
    names = Locale.parse(locale).territories
    return [Choice(code, names.get(code, code)) for code in POSTAL_COUNTRIES]


def zone_choices(countries: Iterable[str] = POSTAL_COUNTRIES, *, locale: str = "en",
                 now: datetime) -> list[Choice]:
    """The zones of `countries`, by UTC offset now, e.g. "Central Time — Chicago"."""
    zones: dict[str, ZoneInfo] = {}
    territory_zones: Mapping[str, list[str]] = get_global("territory_zones")
    for country in countries:
        for name in territory_zones.get(country, ()):
            zones.setdefault(name, ZoneInfo(name))
    ordered = sorted(zones.items(), key=lambda item: (now.astimezone(item[1]).utcoffset(),
                                                      item[0]))
    return [Choice(name, _zone_label(name, locale)) for name, _ in ordered]


def _zone_label(name: str, locale: str) -> str:
    generic = get_timezone_name(name, width="long", zone_variant="generic", locale=locale)
    place = get_timezone_location(name, locale=locale, return_city=True)
    return generic if place in generic else f"{generic} — {place}"


def zone_options(*current: str, now: datetime, locale: str = "en") -> list[Choice]:
    """The zones a send-time picker offers: UTC, the countries' zones, and any zone in
    `current` (the organizer's, or one a script set) that is not among them."""
    choices = zone_choices(locale=locale, now=now)
    known = {c.value for c in choices}
    extra = [Choice(z, z) for z in dict.fromkeys(("UTC", *current)) if z and z not in known]
    return extra + choices


def program_names(rules: Rules) -> dict[str, str]:
    """Program id -> its name, for showing a program chosen by id."""
    return {pid: program.name for pid, program in rules.programs.items()}
