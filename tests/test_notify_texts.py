"""What notices say and when digests are due: templates, durations, excerpts, the slot grid,
and the leads' addresses checked with the rules file. No database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.config import ConfigError, load_settings
from gateway.engine.loader import RulesError, parse_rules
from gateway.notify.schedule import current_slot
from gateway.notify.texts import Language, excerpt, render, span
from tests.support.questions import ROOT

PARIS = ZoneInfo("Europe/Paris")


def test_durations_are_written_out_with_their_two_largest_units() -> None:
    assert span(30, "en") == "1 minute"
    assert span(45 * 60 + 59, "en") == "45 minutes"
    assert span(86400 + 3 * 3600 + 120, "fr") == "1 jour 3 heures"
    assert span(2 * 86400 + 300, "en") == "2 days"  # no "2 days 5 minutes" over a gap
    assert span(3600, "fr") == "1 heure"


def test_an_excerpt_drops_numbers_and_addresses_the_citizen_typed() -> None:
    text = ("Bonjour,\n rappelez-moi au 06 12 34 56 78 ou écrivez à ana.lopez@example.org "
            "pour l'école de mon fils")
    shown = excerpt(text, "fr")
    assert shown == "Bonjour, rappelez-moi au … ou écrivez à … pour l'école de mon fils"
    assert excerpt("Call (555) 123-4567 about the school", "en") == "Call … about the school"
    long = excerpt("mot " * 100, "fr", limit=40)
    assert long.endswith(" …") and len(long) <= 42


@given(st.text(max_size=300), st.emails())
def test_no_typed_address_survives_an_excerpt(before: str, address: str) -> None:
    shown = excerpt(f"{before} {address} merci", "fr", limit=1000)
    assert address not in shown
    assert "\n" not in shown


@pytest.mark.parametrize("language", ["fr", "en"])
def test_every_template_renders_with_a_one_line_subject(language: Language) -> None:
    subject, body = render(
        "sla_breach", language, question_id=7, theme="Santé", program="Ensemble",
        waiting="2 jours", sla="2 jours", late="1 heure", excerpt="Quand ?",
        link="https://act.example/inbox/questions/7")
    assert "7" in subject and "Santé" in subject and "\n" not in subject
    assert "https://act.example/inbox/questions/7" in body and "Quand ?" in body
    subject, body = render("digest", language, total=3, inbox_link="https://act.example/inbox",
                           themes=[{"name": "Santé", "new": 2, "unclaimed": 1,
                                    "oldest_waiting": "3 jours",
                                    "oldest_link": "https://act.example/inbox/questions/9"},
                                   {"name": "Europe", "new": 1, "unclaimed": 0,
                                    "oldest_waiting": None, "oldest_link": None}])
    assert subject.startswith("3 ") and "\n" not in subject
    assert "Santé" in body and "Europe" in body and "/inbox/questions/9" in body
    assert body.count("/inbox/questions/") == 1


def test_a_misspelt_variable_fails_instead_of_mailing_a_gap() -> None:
    with pytest.raises(Exception, match="question_id"):
        render("sla_breach", "en", theme="x")


def test_daily_slots_start_at_the_local_hour_across_daylight_saving() -> None:
    def slot(at: datetime, every: int = 1440, hour: int = 8) -> datetime:
        return current_slot(at, every_minutes=every, hour=hour, zone=PARIS)

    # 8:00 in Paris is 06:00 UTC in summer, 07:00 in winter
    assert slot(datetime(2024, 7, 1, 6, 0, tzinfo=UTC)) == datetime(2024, 7, 1, 6, 0, tzinfo=UTC)
    assert slot(datetime(2024, 7, 1, 5, 59, tzinfo=UTC)) == datetime(2024, 6, 30, 6, 0,
                                                                     tzinfo=UTC)
    assert slot(datetime(2024, 12, 1, 12, 0, tzinfo=UTC)) == datetime(2024, 12, 1, 7, 0,
                                                                      tzinfo=UTC)
    # the Sunday the clocks go forward (31 March 2024): still 8:00 local
    assert slot(datetime(2024, 3, 31, 9, 0, tzinfo=UTC)) == datetime(2024, 3, 31, 6, 0,
                                                                     tzinfo=UTC)
    assert slot(datetime(2024, 3, 31, 5, 0, tzinfo=UTC)) == datetime(2024, 3, 30, 7, 0,
                                                                     tzinfo=UTC)
    # hourly from 8:00 is on the hour; every 6 h from 8:00: 02, 08, 14, 20 local
    assert slot(datetime(2024, 7, 1, 13, 42, tzinfo=UTC), 60) == datetime(
        2024, 7, 1, 13, 0, tzinfo=UTC)
    assert slot(datetime(2024, 7, 1, 1, 0, tzinfo=UTC), 360) == datetime(
        2024, 7, 1, 0, 0, tzinfo=UTC)  # 02:00 Paris


@given(st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1),
                    timezones=st.just(UTC)),
       st.sampled_from([15, 60, 90, 360, 720, 1440]), st.integers(0, 23),
       st.sampled_from(["Europe/Paris", "America/New_York", "UTC", "Asia/Kolkata"]))
def test_a_slot_is_never_in_the_future_and_never_older_than_its_step(
        now: datetime, every: int, hour: int, zone: str) -> None:
    found = current_slot(now, every_minutes=every, hour=hour, zone=ZoneInfo(zone))
    assert found <= now
    # a daylight-saving hour may stretch one gap by an hour, never more
    assert now - found < timedelta(minutes=every) + timedelta(hours=1)


def test_the_digest_interval_must_divide_a_day() -> None:
    base = {"DATABASE_URL": "postgresql://test"}
    assert load_settings({**base, "GATEWAY_NOTIFY_DIGEST_MINUTES": "0"}).notify_digest_minutes == 0
    with pytest.raises(ConfigError) as err:
        load_settings({**base, "GATEWAY_NOTIFY_DIGEST_MINUTES": "100"})
    assert "GATEWAY_NOTIFY_DIGEST_MINUTES: " in str(err.value)
    assert "does not divide a day" in str(err.value) and "96" in str(err.value)


def test_a_lead_that_is_not_an_address_is_refused_with_its_place() -> None:
    source = (ROOT / "keywords.yaml").read_text(encoding="utf-8")
    bad = source.replace("leads: [education-leads@ensemble.example.fr]",
                         "leads: [education leads]")
    assert bad != source
    with pytest.raises(RulesError) as err:
        parse_rules(bad, "keywords.yaml")
    line = bad.splitlines().index("        leads: [education leads]") + 1
    assert err.value.problems == [
        f"keywords.yaml:{line}:17: 'education leads' is not a single e-mail address: a lead "
        "is the e-mail address told of an overdue question"]
