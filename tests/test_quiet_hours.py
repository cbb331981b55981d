"""Quiet hours: never inside a forbidden window, never later than needed, across DST both ways.

The oracle below is the rule read literally (local clock, weekday, holiday
in each zone) and a minute-by-minute walk: slow, obviously right, and
independent of the change-point search it checks.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays as holiday_calendars
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.broadcast.policy import FRANCE, US_FALLBACK_ZONES, QuietHoursPolicy
from gateway.broadcast.quiet_hours import (
    EVERY_DAY,
    NoAllowedTime,
    QuietHoursError,
    QuietRules,
    allowed_until,
    is_allowed,
    next_allowed,
    next_allowed_by_frequency,
)

POLICY = QuietHoursPolicy()
MINUTE = timedelta(minutes=1)
# DST changes in both directions: US (2 a.m. local) and EU (1 a.m. UTC), 2024 and 2025,
# plus Lord Howe's 30-minute shift and the southern hemisphere's opposite seasons.
TRANSITIONS = [
    datetime(2024, 3, 10, 7, tzinfo=UTC), datetime(2024, 11, 3, 6, tzinfo=UTC),
    datetime(2024, 3, 10, 10, tzinfo=UTC), datetime(2024, 11, 3, 9, tzinfo=UTC),
    datetime(2024, 3, 31, 1, tzinfo=UTC), datetime(2024, 10, 27, 1, tzinfo=UTC),
    datetime(2025, 3, 9, 7, tzinfo=UTC), datetime(2025, 11, 2, 6, tzinfo=UTC),
    datetime(2025, 3, 30, 1, tzinfo=UTC), datetime(2025, 10, 26, 1, tzinfo=UTC),
    datetime(2024, 4, 6, 15, tzinfo=UTC), datetime(2024, 10, 5, 16, tzinfo=UTC),
]
US_ZONES = ["America/New_York", "America/Chicago", "America/Denver", "America/Phoenix",
            "America/Los_Angeles", "America/Boise", "America/Anchorage", "Pacific/Honolulu"]
OTHER_ZONES = ["Europe/Paris", "America/St_Johns", "Australia/Lord_Howe", "Asia/Kolkata"]
_CALENDARS: dict[tuple[str, int], frozenset[date]] = {}


def public_holidays(country: str, year: int) -> frozenset[date]:
    if (country, year) not in _CALENDARS:
        _CALENDARS[country, year] = frozenset(
            holiday_calendars.country_holidays(country, years=year)
        )
    return _CALENDARS[country, year]


def oracle_allowed(instant: datetime, zones: list[str], rules: QuietRules) -> bool:
    names = [*zones, *([rules.zone] if rules.zone else [])]
    for name in names:
        local = instant.astimezone(ZoneInfo(name))
        if local.weekday() not in rules.weekdays:
            return False
        if rules.holidays_country and local.date() in public_holidays(
            rules.holidays_country, local.year
        ):
            return False
        if not rules.start <= local.time().replace(tzinfo=None) < rules.end:
            return False
    return True


def minutes_between(low: datetime, high: datetime) -> list[datetime]:
    """Every whole minute m with low < m < high."""
    first = low.replace(second=0, microsecond=0) + MINUTE
    return [first + k * MINUTE for k in range(int((high - first) / MINUTE) + 1)
            if first + k * MINUTE < high]


near_transitions = st.builds(
    lambda base, minutes, micros: base + timedelta(minutes=minutes, microseconds=micros),
    st.sampled_from(TRANSITIONS),
    st.integers(-36 * 60, 36 * 60),
    st.integers(0, 59_999_999),
)
anytime = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2037, 12, 31), timezones=st.just(UTC)
)


@st.composite
def rule_sets(draw: st.DrawFn) -> QuietRules:
    """Any window, but half of them open or close in the small hours, where clocks change."""
    small_hours = st.integers(0, 4 * 60)
    start = draw(st.one_of(st.integers(0, 22 * 60), small_hours))
    end = draw(st.one_of(st.integers(start + 60, 23 * 60 + 59),
                         st.integers(start + 60, min(start + 150, 23 * 60 + 59))))
    weekdays = draw(st.frozensets(st.integers(0, 6), min_size=4))
    return QuietRules(
        start=time(start // 60, start % 60), end=time(end // 60, end % 60), weekdays=weekdays,
        holidays_country=draw(st.sampled_from([None, None, "FR", "US"])),
        zone=draw(st.sampled_from([None, None, None, "Europe/Paris"])),
    )


zone_sets = st.one_of(
    st.lists(st.sampled_from(US_ZONES), min_size=1, max_size=3, unique=True),
    st.lists(st.sampled_from(US_ZONES + OTHER_ZONES), min_size=1, max_size=2, unique=True),
)
shipped_rules = st.sampled_from([POLICY.default, POLICY.restricted, FRANCE])
heavy = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check_next_allowed(now: datetime, zones: list[str], rules: QuietRules) -> None:
    horizon = timedelta(days=14)
    try:
        result = next_allowed(now, zones, rules, horizon=horizon)
    except NoAllowedTime:
        walk = [now, *minutes_between(now, now + horizon)]
        assert not any(oracle_allowed(m, zones, rules) for m in walk[::1])
        return
    assert result >= now
    assert result.tzinfo is not None and result.utcoffset() == timedelta(0)
    assert oracle_allowed(result, zones, rules), "result falls in a forbidden window"
    if result > now:
        assert (result.second, result.microsecond) == (0, 0), "deferred to a whole minute"
        assert not oracle_allowed(now, zones, rules)
        earlier = [m for m in minutes_between(now, result) if oracle_allowed(m, zones, rules)]
        assert earlier == [], f"{earlier[0]} was allowed and earlier"


@heavy
@given(now=near_transitions, zones=zone_sets, rules=rule_sets())
def test_next_allowed_is_the_earliest_allowed_minute_across_dst(
    now: datetime, zones: list[str], rules: QuietRules
) -> None:
    check_next_allowed(now, zones, rules)


# (zone, a UTC instant at which its clock changes), both directions, both hemispheres.
CLOCK_CHANGES = [
    ("America/New_York", datetime(2024, 3, 10, 7, tzinfo=UTC)),
    ("America/New_York", datetime(2024, 11, 3, 6, tzinfo=UTC)),
    ("America/Los_Angeles", datetime(2025, 3, 9, 10, tzinfo=UTC)),
    ("America/Los_Angeles", datetime(2025, 11, 2, 9, tzinfo=UTC)),
    ("Europe/Paris", datetime(2024, 3, 31, 1, tzinfo=UTC)),
    ("Europe/Paris", datetime(2024, 10, 27, 1, tzinfo=UTC)),
    ("Australia/Lord_Howe", datetime(2024, 4, 6, 15, tzinfo=UTC)),  # 30-minute change
    ("Australia/Lord_Howe", datetime(2024, 10, 5, 15, 30, tzinfo=UTC)),
]


@st.composite
def around_a_clock_change(draw: st.DrawFn) -> tuple[datetime, list[str], QuietRules]:
    """A window opening or closing in the hours where the clock jumps, `now` around the jump."""
    zone, change = draw(st.sampled_from(CLOCK_CHANGES))
    now = change + timedelta(minutes=draw(st.integers(-30 * 60, 3 * 60)), seconds=draw(
        st.integers(0, 59)))
    start = draw(st.integers(0, 4 * 60))
    end = draw(st.one_of(st.integers(start + 1, start + 150), st.integers(start + 1, 23 * 60)))
    rules = QuietRules(start=time(start // 60, start % 60), end=time(end // 60, end % 60))
    return now, [zone], rules


@heavy
@given(case=around_a_clock_change())
def test_windows_that_open_or_close_inside_a_clock_change(
    case: tuple[datetime, list[str], QuietRules],
) -> None:
    now, zones, rules = case
    check_next_allowed(now, zones, rules)
    opens = next_allowed(now, zones, rules)
    closes = allowed_until(opens, zones, rules)
    assert not oracle_allowed(closes, zones, rules)
    assert all(oracle_allowed(m, zones, rules) for m in minutes_between(opens, closes))
    check_next_allowed(closes, zones, rules)  # and when does it open again?


@heavy
@given(now=st.one_of(near_transitions, anytime), zones=zone_sets, rules=shipped_rules)
def test_shipped_rules_hold_anywhere_in_time(
    now: datetime, zones: list[str], rules: QuietRules
) -> None:
    check_next_allowed(now, zones, rules)


@heavy
@given(now=near_transitions, zones=zone_sets, rules=st.one_of(shipped_rules, rule_sets()))
def test_allowed_until_is_the_first_forbidden_instant(
    now: datetime, zones: list[str], rules: QuietRules
) -> None:
    try:
        opens = next_allowed(now, zones, rules)
    except NoAllowedTime:
        return
    closes = allowed_until(opens, zones, rules)
    assert closes > opens
    assert not oracle_allowed(closes, zones, rules)
    assert all(oracle_allowed(m, zones, rules) for m in minutes_between(opens, closes))


@given(now=near_transitions, zones=zone_sets, rules=shipped_rules)
def test_is_allowed_agrees_with_the_rule_read_literally(
    now: datetime, zones: list[str], rules: QuietRules
) -> None:
    assert is_allowed(now, zones, rules) == oracle_allowed(now, zones, rules)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_spring_forward_gap_opens_the_window_at_the_jump() -> None:
    """02:30 does not exist in New York on 2024-03-10: the clock jumps from 02:00 to 03:00."""
    rules = QuietRules(start=time(2, 30), end=time(21))
    assert next_allowed(utc(2024, 3, 10, 6, 0), ["America/New_York"], rules) == utc(
        2024, 3, 10, 7, 0
    )


def test_fall_back_fold_reopens_a_window_that_ended_in_the_repeated_hour() -> None:
    """01:00-01:59 happens twice in New York on 2024-11-03; a window ending 01:30 reopens."""
    rules = QuietRules(start=time(0), end=time(1, 30))
    zones = ["America/New_York"]
    assert is_allowed(utc(2024, 11, 3, 5, 10), zones, rules)  # 01:10 EDT
    assert not is_allowed(utc(2024, 11, 3, 5, 45), zones, rules)  # 01:45 EDT
    assert next_allowed(utc(2024, 11, 3, 5, 45), zones, rules) == utc(2024, 11, 3, 6, 0)
    assert allowed_until(utc(2024, 11, 3, 6, 0), zones, rules) == utc(2024, 11, 3, 6, 30)


def test_florida_ends_at_eight_and_new_york_at_nine() -> None:
    late = utc(2024, 7, 1, 0, 30)  # 20:30 EDT
    zones = ["America/New_York"]
    assert next_allowed(late, zones, POLICY.default) == late
    assert next_allowed(late, zones, POLICY.restricted) == utc(2024, 7, 1, 12, 0)
    assert allowed_until(utc(2024, 6, 30, 12), zones, POLICY.restricted) == utc(2024, 7, 1, 0)
    assert allowed_until(utc(2024, 6, 30, 12), zones, POLICY.default) == utc(2024, 7, 1, 1)


def test_ambiguous_area_code_gets_only_the_hours_allowed_in_both_zones() -> None:
    """208 is Boise (Mountain) and northern Idaho (Pacific): 08:00 Pacific, 21:00 Mountain."""
    zones = ["America/Boise", "America/Los_Angeles"]
    assert next_allowed(utc(2024, 7, 1, 14, 30), zones, POLICY.default) == utc(2024, 7, 1, 15)
    assert allowed_until(utc(2024, 7, 1, 15), zones, POLICY.default) == utc(2024, 7, 2, 3)


def test_france_skips_sunday_and_easter_monday() -> None:
    saturday_evening = utc(2024, 3, 30, 19, 30)  # 20:30 Paris, after the 20:00 end
    assert next_allowed(saturday_evening, ["Europe/Paris"], FRANCE) == utc(2024, 4, 2, 6, 0)
    assert date(2024, 4, 1) in holiday_calendars.country_holidays("FR", years=2024)


def test_france_is_paris_time_even_overseas() -> None:
    """A Réunion number (UTC+4) is reached only when both Paris and Réunion allow it."""
    monday = utc(2024, 6, 3, 4, 0)  # 06:00 Paris, 08:00 Réunion
    assert next_allowed(monday, ["Indian/Reunion"], FRANCE) == utc(2024, 6, 3, 6, 0)


def test_no_zone_needs_the_policy_fallback() -> None:
    with pytest.raises(QuietHoursError, match="fallback"):
        next_allowed(utc(2024, 7, 1), [], POLICY.default)
    assert POLICY.zones_for([], None) == US_FALLBACK_ZONES
    assert POLICY.zones_for(["Etc/Unknown"], "FR") == ("Europe/Paris",)
    # The fallback is the most restrictive US hours: 08:00 in Honolulu, 20:00 in New York.
    opens = next_allowed(utc(2024, 7, 1, 12), US_FALLBACK_ZONES, POLICY.restricted)
    assert opens == utc(2024, 7, 1, 18, 0)
    assert allowed_until(opens, US_FALLBACK_ZONES, POLICY.restricted) == utc(2024, 7, 2, 0, 0)


def test_zones_that_never_overlap_fall_back_instead_of_never_sending() -> None:
    narrow = QuietRules(start=time(9), end=time(12))
    zones = ("Pacific/Guam", "America/New_York")
    with pytest.raises(NoAllowedTime):
        next_allowed(utc(2024, 7, 1), zones, narrow)
    assert POLICY.schedulable_zones(zones, "US", narrow, utc(2024, 7, 1)) == US_FALLBACK_ZONES


def test_naive_times_and_bad_rules_are_refused() -> None:
    with pytest.raises(QuietHoursError, match="time zone"):
        next_allowed(datetime(2024, 7, 1), ["America/New_York"], POLICY.default)
    with pytest.raises(QuietHoursError, match="unknown time zone"):
        next_allowed(utc(2024, 7, 1), ["Mars/Olympus"], POLICY.default)
    with pytest.raises(QuietHoursError, match="before the end"):
        QuietRules(start=time(21), end=time(8))
    with pytest.raises(QuietHoursError, match="weekdays"):
        QuietRules(weekdays=frozenset({7}))
    with pytest.raises(QuietHoursError, match="holiday"):
        QuietRules(holidays_country="XX")


@pytest.mark.parametrize(
    ("country", "regions", "expected"),
    [
        ("US", ("NY", None), "default"),
        ("US", ("NY", "FL"), "restricted"),  # zip in New York, Florida area code
        ("US", ("OK",), "restricted"),
        (None, ("MD",), "restricted"),
        ("US", (None, None), "restricted"),  # unknown state: it could be Florida
        ("FR", ("75",), "france"),
        ("CA", (None,), "default"),
    ],
)
def test_rules_for_a_recipient(
    country: str | None, regions: tuple[str | None, ...], expected: str
) -> None:
    chosen = POLICY.rules_for(country=country, regions=regions)
    wanted = {"default": POLICY.default, "restricted": POLICY.restricted, "france": FRANCE}
    assert chosen == wanted[expected]


def test_policy_values_come_from_config() -> None:
    policy = QuietHoursPolicy.from_mapping({
        "default": {"start": "09:00", "end": "20:30"},
        "restricted_regions": ["fl", "tx"],
        "countries": {"fr": {"start": "09:00", "end": "19:00", "days": "mon-fri",
                             "holidays": "FR", "zone": "Europe/Paris"}},
    })
    assert policy.default == QuietRules(start=time(9), end=time(20, 30), weekdays=EVERY_DAY)
    assert policy.rules_for(country="US", regions=("TX",)) == policy.restricted
    assert policy.countries["FR"].weekdays == frozenset(range(5))
    with pytest.raises(QuietHoursError) as err:
        QuietHoursPolicy.from_mapping({"default": {"start": "22:00", "end": "8:00", "x": 1},
                                       "countries": {"fr": {"days": "sun-mon"}}, "y": 2})
    message = str(err.value)
    for part in ("default.x: unknown", "before the end", "countries.fr: days", "y: unknown"):
        assert part in message


sends = st.lists(
    st.tuples(
        st.integers(-3 * 86_400, 0).map(lambda s: utc(2024, 7, 1, 12) + timedelta(seconds=s)),
        st.sampled_from(["rise", "news"]),
    ),
    max_size=12,
)


@given(recent=sends, subject=st.sampled_from(["rise", "news"]))
def test_frequency_cap_gives_the_earliest_time_within_the_cap(
    recent: list[tuple[datetime, str]], subject: str
) -> None:
    now = utc(2024, 7, 1, 12)
    rules = POLICY.restricted
    result = next_allowed_by_frequency(now, recent, subject, rules)
    period, cap = rules.subject_period, rules.max_per_subject
    assert cap is not None

    def in_window(at: datetime) -> int:
        return sum(1 for t, s in recent if s == subject and at - period < t <= at)

    assert result >= now
    assert in_window(result) < cap
    if result > now:
        assert in_window(result - timedelta(microseconds=1)) >= cap


def test_frequency_cap_only_applies_where_the_rules_say() -> None:
    now = utc(2024, 7, 1, 12)
    recent = [(now - timedelta(hours=h), "rise") for h in (1, 2, 3)]
    assert next_allowed_by_frequency(now, recent, "rise", POLICY.default) == now
    assert next_allowed_by_frequency(now, recent, "news", POLICY.restricted) == now
    assert next_allowed_by_frequency(now, recent, "rise", POLICY.restricted) == now + timedelta(
        hours=21
    )
