"""From a contact's stored location to the quiet-hours times of its outbox row.

Recipients are grouped by "zone key" (zones, state, country, dialling
prefix as stored; see `gateway.store.broadcasts`): a million subscribers
make a few hundred keys at most, so the exact, property-tested
`next_allowed` runs per key, not per person, and its answers go to the
database as a small table.

Per key, once: the candidate zones (zip, else area code, else the policy's
fallback for the country or the program's country) and the rule set (the
zip state or the area-code state decides FL/OK/MD). Per batch: not_before
and not_after at that batch's `now`, since a window can close while a large
broadcast is still being materialized.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from gateway import geo
from gateway.broadcast.policy import QuietHoursPolicy
from gateway.broadcast.quiet_hours import QuietRules, allowed_until, next_allowed
from gateway.store.zone_keys import ZoneKey


@dataclass(frozen=True, slots=True)
class Placement:
    """Where one zone key's people may be, and which rules protect them."""

    zones: tuple[str, ...]
    rules: QuietRules


class Scheduler:
    """Quiet-hours times per zone key for one broadcast; `start` is its earliest send time."""

    def __init__(
        self, policy: QuietHoursPolicy, *, program_country: str | None, start: datetime
    ) -> None:
        self._policy = policy
        self._program_country = program_country
        self._start = start
        self._keys: dict[str, Placement] = {}
        self._areas: dict[str, geo.Geo] = {}

    def add(self, keys: Iterable[ZoneKey], now: datetime) -> None:
        for key in keys:
            if key.key not in self._keys:
                self._keys[key.key] = self.place(key, now)

    def place(self, key: ZoneKey, now: datetime) -> Placement:
        area = self._area_code(key.prefix, key.sample) if key.prefix else geo.UNKNOWN
        zones = key.timezones or area.timezones
        country = key.country or area.country or self._program_country
        rules = self._policy.rules_for(country=country, regions=(key.region, area.region))
        zones = self._policy.schedulable_zones(zones, country, rules, max(now, self._start))
        return Placement(zones, rules)

    def _area_code(self, prefix: str, sample: str) -> geo.Geo:
        """The numbering plan's facts for a dialling prefix, read from one number that has it."""
        if prefix not in self._areas:
            self._areas[prefix] = geo.from_area_code(sample)
        return self._areas[prefix]

    def caps(self) -> dict[str, tuple[int, int]]:
        """zone key -> (messages, period in whole seconds) for keys under a frequency cap."""
        return {
            key: (placement.rules.max_per_subject,
                  max(1, int(placement.rules.subject_period.total_seconds())))
            for key, placement in self._keys.items()
            if placement.rules.max_per_subject is not None
        }

    def timing(self, now: datetime) -> dict[str, tuple[datetime, datetime]]:
        """zone key -> (not_before, not_after) for rows made at `now`."""
        earliest = max(now, self._start)
        by_placement: dict[Placement, tuple[datetime, datetime]] = {}
        result: dict[str, tuple[datetime, datetime]] = {}
        for key, placement in self._keys.items():
            if placement not in by_placement:
                opens = next_allowed(earliest, placement.zones, placement.rules)
                by_placement[placement] = (
                    opens, allowed_until(opens, placement.zones, placement.rules)
                )
            result[key] = by_placement[placement]
        return result
