"""Donation limits: the config from keywords.yaml, the windows, and check_limits (hypothesis)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.billing.policy import (
    DonationPolicy,
    DonorTotals,
    check_limits,
    missing_details,
    required_details,
)
from gateway.engine import load_rules

ROOT = Path(__file__).resolve().parents[1]
RULES = load_rules(ROOT / "keywords.yaml")
RISE = DonationPolicy.from_rules(RULES, "rise")
ENSEMBLE = DonationPolicy.from_rules(RULES, "ensemble")
NOW = datetime(2024, 5, 15, 15, 0, tzinfo=UTC)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def empty(policy: DonationPolicy = RISE, now: datetime = NOW) -> DonorTotals:
    return DonorTotals(policy.windows(now))


def holding(cents: dict[str, int]) -> DonorTotals:
    """Totals for NOW already holding `cents` in the named windows."""
    return DonorTotals(RISE.windows(NOW), **cents)


def test_the_shipped_file_gives_the_fec_defaults_in_cents() -> None:
    assert (RISE.per_text_cents, RISE.per_month_by_phone_cents, RISE.per_cycle_by_phone_cents,
            RISE.per_election_cents) == (1000, 5000, 20000, 350000)
    assert (RISE.details_name_address_over_cents, RISE.details_employer_over_cents) == (5000,
                                                                                         20000)
    assert RISE.price_points == (500, 1000)
    assert RISE.methods == {"carrier", "card"}
    assert RISE.confirm_within == timedelta(hours=24)
    assert RISE.timezone == ZoneInfo("America/New_York")
    assert (RISE.committee, RISE.currency) == ("Rise Up PAC", "USD")


def test_a_french_program_is_card_only_in_euros_with_a_yearly_limit() -> None:
    assert ENSEMBLE.methods == {"card"}
    assert ENSEMBLE.currency == "EUR"
    assert ENSEMBLE.per_election_cents == 750000
    assert ENSEMBLE.cycle == "calendar_year"
    window = ENSEMBLE.windows(utc("2024-12-31T23:30:00"))  # already 2025 in Paris
    assert window.cycle == (utc("2024-12-31T23:00:00"), utc("2025-12-31T23:00:00"))
    refusal = check_limits(1000, "carrier", empty(ENSEMBLE), ENSEMBLE, NOW)
    assert refusal is not None and refusal.reason == "method_unavailable"
    assert "nous ne pouvons pas accepter ce don par SMS" in refusal.text


def test_a_program_without_donations_is_a_clear_error() -> None:
    with pytest.raises(KeyError, match="no donations: entry"):
        DonationPolicy.from_rules(RULES, "nope")


@pytest.mark.parametrize(("instant", "month_start", "month_end"), [
    # 11:30 pm on May 31 in New York is already June in UTC: it counts for May.
    ("2024-06-01T03:30:00", "2024-05-01T04:00:00", "2024-06-01T04:00:00"),
    ("2024-06-01T04:00:00", "2024-06-01T04:00:00", "2024-07-01T04:00:00"),
    # Winter: New York is UTC-5; November ends at 05:00 UTC on December 1.
    ("2024-12-01T04:59:59", "2024-11-01T04:00:00", "2024-12-01T05:00:00"),
    ("2024-12-31T23:00:00", "2024-12-01T05:00:00", "2025-01-01T05:00:00"),
])
def test_calendar_months_are_the_committees(instant: str, month_start: str,
                                            month_end: str) -> None:
    assert RISE.windows(utc(instant)).month == (utc(month_start), utc(month_end))


def test_the_month_time_zone_is_configurable() -> None:
    in_utc = replace(RISE, timezone=ZoneInfo("UTC"))
    assert in_utc.windows(utc("2024-06-01T03:30:00")).month[0] == utc("2024-06-01T00:00:00")


@pytest.mark.parametrize(("instant", "start", "end"), [
    ("2024-06-01T12:00:00", "2023-01-01T05:00:00", "2025-01-01T05:00:00"),
    ("2025-01-01T04:59:00", "2023-01-01T05:00:00", "2025-01-01T05:00:00"),
    ("2025-01-01T05:00:00", "2025-01-01T05:00:00", "2027-01-01T05:00:00"),
])
def test_election_cycles_are_two_years_from_an_odd_january(instant: str, start: str,
                                                           end: str) -> None:
    windows = RISE.windows(utc(instant))
    assert windows.cycle == (utc(start), utc(end))
    assert windows.election == windows.cycle  # no election configured: the cycle


def test_a_configured_election_bounds_the_per_election_limit() -> None:
    general = replace(RISE, election=("2024 general", date(2024, 1, 1), date(2024, 11, 5)))
    windows = general.windows(NOW)
    assert windows.election == (utc("2024-01-01T05:00:00"), utc("2024-11-06T05:00:00"))
    after = utc("2024-11-07T12:00:00")
    refusal = check_limits(2500, "card", empty(general, after), general, after)
    assert refusal is not None and refusal.reason == "outside_election"
    assert "can't take $25 by text right now" in refusal.text


def test_totals_for_another_month_are_refused() -> None:
    june = utc("2024-06-15T12:00:00")
    with pytest.raises(ValueError, match="other windows"):
        check_limits(500, "carrier", empty(RISE, NOW), RISE, june)


@pytest.mark.parametrize(("amount", "method", "totals", "reason", "limit"), [
    (1500, "carrier", {}, "not_a_price_point", None),
    (1000, "carrier", {"month_by_phone_cents": 4500}, "over_monthly", 5000),
    (1000, "carrier", {"cycle_by_phone_cents": 19500}, "over_cycle", 20000),
    (1000, "carrier", {"election_cents": 349500}, "over_election", 350000),
    (10000, "card", {"election_cents": 345000}, "over_election", 350000),
    (0, "card", {}, "invalid_amount", None),
])
def test_refusals(amount: int, method: str, totals: dict[str, int], reason: str,
                  limit: int | None) -> None:
    refusal = check_limits(amount, method, holding(totals), RISE, NOW)
    assert refusal is not None
    assert (refusal.reason, refusal.limit_cents) == (reason, limit)
    assert "Nothing was charged" in refusal.text


def test_a_refusal_names_the_limit_politely() -> None:
    refusal = check_limits(1000, "carrier", holding({"month_by_phone_cents": 4500}), RISE, NOW)
    assert refusal is not None
    assert refusal.already_cents == 4500
    assert refusal.text.startswith("Rise Up PAC: thank you! We can't accept $10 by text")
    assert "legal limit of $50 a month by text" in refusal.text


@pytest.mark.parametrize(("amount", "method", "totals"), [
    (1000, "carrier", {"month_by_phone_cents": 4000, "cycle_by_phone_cents": 19000}),
    (500, "carrier", {}),
    (2500, "card", {"month_by_phone_cents": 5000, "cycle_by_phone_cents": 20000}),
    (350000, "card", {}),
])
def test_accepted_up_to_each_limit(amount: int, method: str, totals: dict[str, int]) -> None:
    assert check_limits(amount, method, holding(totals), RISE, NOW) is None


def test_donor_details_thresholds_are_strictly_over() -> None:
    assert required_details(5000, empty(), RISE) == frozenset()
    assert required_details(1500, holding({"cycle_cents": 4000}), RISE) == {"name", "address"}
    assert required_details(1500, holding({"cycle_cents": 19000}), RISE) == {
        "name", "address", "employer", "occupation"}
    needed = required_details(1500, holding({"cycle_cents": 19000}), RISE)
    on_file = {"name": "Ada", "address": "1 Main St", "employer": " ", "occupation": None}
    assert missing_details(needed, on_file) == {"employer", "occupation"}


# -- properties ---------------------------------------------------------------

ZONES = ["America/New_York", "America/Los_Angeles", "Europe/Paris", "Pacific/Auckland",
         "America/Santiago", "UTC", "Asia/Kolkata"]
instants = st.datetimes(min_value=datetime(2015, 1, 1), max_value=datetime(2035, 1, 1),
                        timezones=st.just(UTC))
policies = st.builds(
    lambda zone, cycle: replace(RISE, timezone=ZoneInfo(zone), cycle=cycle),
    st.sampled_from(ZONES), st.sampled_from(["two_year", "calendar_year"]),
)
# Counsel may lower any limit: random ones make every limit reachable in a short history.
limited_policies = st.builds(
    lambda policy, month, cycle, election: replace(
        policy, per_month_by_phone_cents=month, per_cycle_by_phone_cents=cycle,
        per_election_cents=election),
    policies, st.integers(500, 5000), st.integers(500, 20000), st.integers(1000, 350000),
)


@given(policies, instants)
@settings(max_examples=300)
def test_windows_contain_now_and_tile_time(policy: DonationPolicy, now: datetime) -> None:
    windows = policy.windows(now)
    for start, end in (windows.month, windows.cycle):
        assert start <= now < end
        assert policy.windows(end).month[0] == end  # the next window starts where this ends
        assert policy.windows(start - timedelta(microseconds=1)).month[1] == start
    local_start = windows.month[0].astimezone(policy.timezone)
    assert local_start.day == 1 and local_start.date() == now.astimezone(
        policy.timezone).date().replace(day=1)
    assert windows.cycle[0] <= windows.month[0] and windows.month[1] <= windows.cycle[1]


# Mostly gifts close together (so monthly and cycle limits are reached), some far apart.
attempts = st.lists(
    st.tuples(
        st.one_of(st.integers(min_value=0, max_value=20 * 86400),
                  st.integers(min_value=0, max_value=800 * 86400)),
        st.one_of(st.sampled_from([500, 1000, 500, 1000, 1500, 2500, 100000, 250000]),
                  st.integers(min_value=-100, max_value=400000)),
        st.sampled_from(["carrier", "carrier", "card"]),
    ),
    max_size=60,
)


@given(limited_policies, instants, attempts)
@settings(max_examples=300, deadline=None)
def test_no_accepted_donation_makes_any_aggregate_exceed_its_limit(
    policy: DonationPolicy, start: datetime, tries: list[tuple[int, int, str]]
) -> None:
    accepted: list[tuple[int, str, datetime]] = []
    for offset, amount, method in tries:  # times in any order, as receipts and retries come
        at = start + timedelta(seconds=offset)
        totals = DonorTotals.from_history(accepted, policy.windows(at))
        if check_limits(amount, method, totals, policy, at) is None:
            accepted.append((amount, method, at))
    for amount, method, at in accepted:
        assert amount > 0
        if method == "carrier":
            assert amount in policy.price_points and amount <= policy.per_text_cents
        totals = DonorTotals.from_history(accepted, policy.windows(at))
        assert totals.month_by_phone_cents <= policy.per_month_by_phone_cents
        assert totals.cycle_by_phone_cents <= policy.per_cycle_by_phone_cents
        assert totals.election_cents <= policy.per_election_cents


@given(instants, st.lists(st.tuples(st.integers(1, 10**6), st.sampled_from(["carrier", "card"]),
                                    st.integers(-90 * 86400, 90 * 86400)), max_size=20))
def test_totals_plus_counts_only_what_falls_in_each_window(
    now: datetime, gifts: list[tuple[int, str, int]]
) -> None:
    windows = RISE.windows(now)
    history = [(a, m, now + timedelta(seconds=s)) for a, m, s in gifts]
    totals = DonorTotals.from_history(history, windows)
    assert totals.month_by_phone_cents == sum(
        a for a, m, t in history if m == "carrier" and windows.month[0] <= t < windows.month[1])
    assert totals.election_cents == sum(
        a for a, _, t in history if windows.election[0] <= t < windows.election[1])
