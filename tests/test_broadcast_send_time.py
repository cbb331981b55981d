"""Send times: an explicit zone or a refusal naming the field; shown in the organizer's zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.broadcast import send_time
from gateway.broadcast.compose_checks import ComposeError

ZONES = ["America/New_York", "America/Los_Angeles", "Europe/Paris", "Pacific/Honolulu",
         "Australia/Lord_Howe", "Asia/Kolkata", "UTC"]


@pytest.mark.parametrize(("raw", "zone", "utc"), [
    ("2026-03-01T17:00-05:00", None, "2026-03-01T22:00:00+00:00"),
    ("2026-03-01T22:00Z", None, "2026-03-01T22:00:00+00:00"),
    ("2026-03-01T17:00[America/New_York]", None, "2026-03-01T22:00:00+00:00"),
    ("2026-07-01T17:00", "America/New_York", "2026-07-01T21:00:00+00:00"),  # EDT
    (" 2026-07-01T17:00:00-04:00[America/New_York] ", None, "2026-07-01T21:00:00+00:00"),
    ("2026-07-01T17:00-04:00", "America/New_York", "2026-07-01T21:00:00+00:00"),
])
def test_times_with_a_zone_are_read_as_that_instant(raw: str, zone: str | None,
                                                    utc: str) -> None:
    assert send_time.parse(raw, zone).isoformat() == utc


@pytest.mark.parametrize(("raw", "zone", "field", "says"), [
    ("2026-03-01T17:00", None, "scheduled_at", "has no time zone"),
    ("2026-03-01T17:00", "", "scheduled_at", "has no time zone"),
    ("tomorrow at five", None, "scheduled_at", "not an ISO 8601 date and time"),
    ("2026-03-01T17:00", "Mars/Olympus", "time_zone", "is not a time zone"),
    ("2026-03-01T17:00[Mars/Olympus]", None, "scheduled_at", "is not a time zone"),
    ("2026-03-01T17:00[Europe/Paris]", "America/New_York", "scheduled_at", "give one"),
    ("2026-07-01T17:00-05:00", "America/New_York", "scheduled_at", "the offset -0500"),
    ("2026-03-08T02:30", "America/New_York", "scheduled_at", "does not exist"),
    ("2026-11-01T01:30", "America/New_York", "scheduled_at", "happens twice"),
])
def test_times_without_a_clear_instant_are_refused_naming_the_field(
    raw: str, zone: str | None, field: str, says: str,
) -> None:
    with pytest.raises(ComposeError, match=says) as refused:
        send_time.parse(raw, zone)
    assert refused.value.field == field


def test_a_repeated_hour_offers_both_readings() -> None:
    with pytest.raises(ComposeError) as refused:
        send_time.parse("2026-11-01T01:30", "America/New_York")
    assert "2026-11-01T01:30:00-04:00" in refused.value.message
    assert "2026-11-01T01:30:00-05:00" in refused.value.message


instants = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2060, 1, 1),
                        timezones=st.just(UTC))


@given(instants, st.sampled_from(ZONES))
def test_an_instant_survives_every_accepted_spelling(at: datetime, zone: str) -> None:
    at = at.replace(second=0, microsecond=0)
    local = at.astimezone(ZoneInfo(zone))
    assert send_time.parse(local.isoformat()) == at
    assert send_time.parse(f"{local.isoformat()}[{zone}]") == at
    wall = local.replace(tzinfo=None).isoformat()
    try:
        read = send_time.parse(wall, zone)
    except ComposeError as err:  # only a wall time the zone has twice is refused here
        assert "happens twice" in err.message
        assert local.replace(fold=1 - local.fold).utcoffset() != local.utcoffset()
    else:
        assert read == at


def test_shown_in_the_organizers_zone_with_its_offset() -> None:
    at = datetime(2026, 3, 1, 22, 0, tzinfo=UTC)
    assert send_time.show(at, "America/New_York") == "2026-03-01 17:00 America/New_York (UTC-05:00)"
    assert send_time.show(at, "Asia/Kolkata") == "2026-03-02 03:30 Asia/Kolkata (UTC+05:30)"
    assert send_time.show(at, "UTC") == "2026-03-01 22:00 UTC"
    assert send_time.local_iso(at, "Europe/Paris") == "2026-03-01T23:00:00+01:00"


def test_a_send_time_must_be_ahead_of_now() -> None:
    now = datetime(2026, 3, 1, 22, 0, tzinfo=UTC)
    send_time.check_ahead(None, now=now, zone="UTC")
    send_time.check_ahead(now + timedelta(minutes=1), now=now, zone="UTC")
    for past in (now, now - timedelta(days=1)):
        with pytest.raises(ComposeError, match="already past") as refused:
            send_time.check_ahead(past, now=now, zone="America/New_York")
        assert refused.value.field == "scheduled_at"
        assert "(it is now 2026-03-01 17:00 America/New_York" in refused.value.message
