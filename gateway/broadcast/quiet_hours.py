"""Quiet hours: the earliest instant a message may reach someone, in every zone they may be in.

Pure (no clock, no I/O): the caller passes `now`. A recipient whose zone is
ambiguous (an area code that spans two zones) may only be reached at hours
allowed in *every* candidate zone (compliance rule 11), so the allowed
set is the intersection of each zone's allowed set.

How the answer is found exactly, DST included: in one zone, whether an
instant is allowed can only change where the local clock crosses the
window's start or end, or jumps (a DST gap or fold); a new day (weekday and
holiday checks) only matters from the window's start, which is such a
point. Between two such "change points" of all zones together nothing
changes, so the earliest allowed instant is `now` itself or the first
change point that is allowed everywhere. Window bounds are whole
minutes and zone offsets and transitions are whole minutes (tzdata since
1970), so a deferred message gets a minute boundary: "deferred to the next
allowed minute, not dropped" (item 14).

The values (hours, days, holidays, the per-subject cap) are data in
`QuietRules`, chosen per recipient by `gateway.broadcast.policy`; counsel
changes them in config, never here.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

EVERY_DAY = frozenset(range(7))  # Monday is 0, as `date.weekday()`
MONDAY_TO_SATURDAY = frozenset(range(6))
DEFAULT_HORIZON = timedelta(days=14)
_HOUR = timedelta(hours=1)
_DAY = timedelta(days=1)
_SECOND = timedelta(seconds=1)


class QuietHoursError(ValueError):
    """A rule or a zone the function cannot work with; the message says which."""


class NoAllowedTime(QuietHoursError):
    """The candidate zones share no allowed minute within the horizon (e.g. Guam and Alaska)."""


@dataclass(frozen=True, slots=True)
class QuietRules:
    """One recipient's rule set: when, in local time, messages may reach them.

    `start` is inclusive and `end` exclusive (08:00-21:00 allows 20:59:59 and
    not 21:00). `zone`, when set, is evaluated in addition to the
    recipient's own zones (France: Paris time, whatever the département).
    `max_per_subject` per `subject_period` is the FL/OK/MD frequency cap.
    """

    start: time = time(8)
    end: time = time(21)
    weekdays: frozenset[int] = EVERY_DAY
    holidays_country: str | None = None
    zone: str | None = None
    max_per_subject: int | None = None
    subject_period: timedelta = timedelta(hours=24)

    def __post_init__(self) -> None:
        for bound in (self.start, self.end):
            if bound.tzinfo is not None or bound.second or bound.microsecond:
                raise QuietHoursError(f"window bound {bound} must be a plain HH:MM local time")
        if not self.start < self.end:
            raise QuietHoursError(
                f"window {self.start:%H:%M}-{self.end:%H:%M}: the start must be before the end"
            )
        if not self.weekdays or not self.weekdays <= EVERY_DAY:
            raise QuietHoursError(f"weekdays {sorted(self.weekdays)}: use 0 (Monday) to 6")
        if self.holidays_country is not None:
            _holiday_dates(self.holidays_country, 2024)  # fails now, not at 2 a.m.
        if self.zone is not None:
            zone_info(self.zone)
        if self.max_per_subject is not None and self.max_per_subject < 1:
            raise QuietHoursError("max_per_subject must be at least 1 (or unset)")
        if self.subject_period <= timedelta(0):
            raise QuietHoursError("subject_period must be positive")


def zone_info(name: str) -> ZoneInfo:
    try:
        return _zone(name)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise QuietHoursError(f"unknown time zone {name!r}; use an IANA name") from err


@lru_cache(maxsize=512)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@lru_cache(maxsize=256)
def _holiday_dates(country: str, year: int) -> frozenset[date]:
    try:
        return frozenset(holidays.country_holidays(country, years=year))
    except NotImplementedError as err:
        raise QuietHoursError(f"no public-holiday calendar for country {country!r}") from err


def is_allowed(instant: datetime, zones: Sequence[str], rules: QuietRules) -> bool:
    """Is `instant` inside the window in every zone (and the rule's own zone)?"""
    _require_aware(instant)
    return _allowed_everywhere(instant, _zones(zones, rules), rules)


def next_allowed(
    now: datetime,
    zones: Sequence[str],
    rules: QuietRules,
    *,
    horizon: timedelta = DEFAULT_HORIZON,
) -> datetime:
    """The earliest instant >= `now` (UTC) allowed in every zone; `now` itself when allowed.

    `zones` must not be empty: picking a fallback for a recipient of unknown
    whereabouts is a policy decision (`QuietHoursPolicy.zones_for`), not a
    clock computation. Raises `NoAllowedTime` when the zones share no
    allowed minute within `horizon`.
    """
    _require_aware(now)
    now = now.astimezone(UTC)
    infos = _zones(zones, rules)
    if _allowed_everywhere(now, infos, rules):
        return now
    for candidate in _change_points(now, infos, rules, horizon):
        if _allowed_everywhere(candidate, infos, rules):
            return candidate
    raise NoAllowedTime(
        f"zones {', '.join(zones)} share no allowed minute in the {horizon.days} days after {now}"
    )


def allowed_until(
    instant: datetime,
    zones: Sequence[str],
    rules: QuietRules,
    *,
    horizon: timedelta = DEFAULT_HORIZON,
) -> datetime:
    """The first instant after `instant` that is forbidden somewhere; `instant` if it already is.

    What a sender checks before submitting a message whose `not_before`
    opened a window: past this, the window has closed and the message must
    wait for the next one.
    """
    _require_aware(instant)
    instant = instant.astimezone(UTC)
    infos = _zones(zones, rules)
    if not _allowed_everywhere(instant, infos, rules):
        return instant
    for candidate in _change_points(instant, infos, rules, horizon):
        if not _allowed_everywhere(candidate, infos, rules):
            return candidate
    raise NoAllowedTime(f"no window end within {horizon.days} days; check the rules")


def next_allowed_by_frequency(
    now: datetime,
    recent_sends: Iterable[tuple[datetime, str]],
    subject: str,
    rules: QuietRules,
) -> datetime:
    """Earliest instant >= now at which one more message on `subject` keeps within the cap.

    `recent_sends` are (sent at, subject) of the recipient's past messages.
    With a cap of 3 per 24 h, a fourth message may go once fewer than 3 of
    them lie in the 24 h before it: at the oldest of the last three plus 24 h.
    """
    if rules.max_per_subject is None:
        return now
    since = now - rules.subject_period
    inside = sorted(at for at, about in recent_sends if about == subject and since < at <= now)
    if len(inside) < rules.max_per_subject:
        return now
    return inside[-rules.max_per_subject] + rules.subject_period


# -- internals ---------------------------------------------------------------------------------


def _require_aware(instant: datetime) -> None:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise QuietHoursError(f"{instant} has no time zone; pass UTC instants")


def _zones(zones: Sequence[str], rules: QuietRules) -> tuple[ZoneInfo, ...]:
    names = list(dict.fromkeys(zones))
    if rules.zone is not None and rules.zone not in names:
        names.append(rules.zone)
    if not names:
        raise QuietHoursError("no candidate time zone; resolve a fallback with the policy first")
    return tuple(zone_info(name) for name in names)


def _allowed_in(instant: datetime, zone: ZoneInfo, rules: QuietRules) -> bool:
    local = instant.astimezone(zone)
    day = local.date()
    if day.weekday() not in rules.weekdays:
        return False
    if rules.holidays_country is not None and day in _holiday_dates(
        rules.holidays_country, day.year
    ):
        return False
    return rules.start <= local.time() < rules.end


def _allowed_everywhere(instant: datetime, zones: Sequence[ZoneInfo], rules: QuietRules) -> bool:
    return all(_allowed_in(instant, zone, rules) for zone in zones)


def _change_points(
    after: datetime, zones: Sequence[ZoneInfo], rules: QuietRules, horizon: timedelta
) -> Iterator[datetime]:
    """Every instant in (after, after + horizon] where some zone's answer may change, in order.

    Produced one UTC day at a time so the common case (a window opening a
    few hours later) touches only a day or two.
    """
    low = after
    limit = after + horizon
    while low < limit:
        high = min(datetime.combine(low.date() + _DAY, time(0), tzinfo=UTC), limit)
        points = {
            point
            for zone in zones
            for point in _zone_change_points(low, high, zone, rules)
            if after < point <= high
        }
        yield from sorted(points)
        low = high


def _zone_change_points(
    low: datetime, high: datetime, zone: ZoneInfo, rules: QuietRules
) -> Iterator[datetime]:
    """Where, in [low, high], one zone's local clock meets start or end, or jumps.

    Midnight needs no point of its own: the window never spans it (start <
    end), so a new day only matters from its start, which is a point.
    """
    first = low.astimezone(zone).date() - _DAY
    last = high.astimezone(zone).date() + _DAY
    day = first
    while day <= last:
        for clock in (rules.start, rules.end):
            for fold in (0, 1):  # a fold holds the local time twice; a gap's are filtered later
                local = datetime.combine(day, clock, tzinfo=zone).replace(fold=fold)
                yield local.astimezone(UTC)
        day += _DAY
    yield from _transitions(low, high, zone)


def _transitions(low: datetime, high: datetime, zone: ZoneInfo) -> Iterator[datetime]:
    """Instants in [low, high] where the zone's UTC offset changes, found to the second.

    Stepping starts on a whole UTC hour so the bisection lands on whole
    seconds, where tzdata puts every transition.
    """
    step = low.replace(minute=0, second=0, microsecond=0)
    offset = step.astimezone(zone).utcoffset()
    while step < high:
        following = step + _HOUR
        next_offset = following.astimezone(zone).utcoffset()
        if next_offset != offset:
            before, after = step, following
            while after - before > _SECOND:
                middle = before + (after - before) / 2
                middle = middle.replace(microsecond=0)
                if middle.astimezone(zone).utcoffset() == offset:
                    before = middle
                else:
                    after = middle
            yield after
        step, offset = following, next_offset
