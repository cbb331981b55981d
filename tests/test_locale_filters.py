"""The template filters: any time in any zone shows its zone; any amount its sign and cents.

Property tests over Babel's formatting (tests/test_pages_locale.py shows them
on a real page): an aware datetime, in any tzdata zone, in either language,
renders with the zone's abbreviation or offset and with the local wall time;
integer cents render with the currency's sign and parse back, with Babel's
own parser, to the same cents.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from babel.numbers import get_currency_symbol, parse_decimal
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.config import load_settings
from gateway.web.filters import format_amount, format_when
from gateway.web.locale import LANGUAGES, Viewer, viewer_for, zone_names
from gateway.web.pages.frame import make_templates

ZONES = st.sampled_from(zone_names())
INSTANTS = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2060, 1, 1),
                        timezones=st.just(UTC))
CURRENCIES = st.sampled_from(("USD", "EUR", "CAD", "GBP"))


@settings(max_examples=300, deadline=None)
@given(at=INSTANTS, zone=ZONES, language=st.sampled_from(LANGUAGES))
def test_any_instant_in_any_zone_shows_its_local_time_and_its_zone(
        at: datetime, zone: str, language: str) -> None:
    viewer = Viewer(zone=zone, language=language)  # type: ignore[arg-type]
    shown = format_when(at, viewer)
    local = at.astimezone(ZoneInfo(zone))
    assert str(local.year) in shown
    assert f"{local.minute:02d}" in shown
    # a zone: an abbreviation (PST, CET, UTC, TU) or an offset (GMT+02:00, UTC−07:00)
    assert re.search(r"\b[A-Z]{2,5}\b|(GMT|UTC)[+\-−]\d", shown), shown


@pytest.mark.parametrize(("at", "abbreviation"), [
    (datetime(2026, 1, 15, 20, 0, tzinfo=UTC), "PST"),
    (datetime(2026, 7, 15, 20, 0, tzinfo=UTC), "PDT"),
    # the DST edges of 2026: 8 March 10:00 UTC is 03:00 PDT, 09:59 UTC 01:59 PST
    (datetime(2026, 3, 8, 9, 59, tzinfo=UTC), "PST"),
    (datetime(2026, 3, 8, 10, 0, tzinfo=UTC), "PDT"),
    (datetime(2026, 11, 1, 8, 59, tzinfo=UTC), "PDT"),
    (datetime(2026, 11, 1, 9, 0, tzinfo=UTC), "PST"),
])
def test_los_angeles_times_say_pst_or_pdt_across_the_clock_changes(
        at: datetime, abbreviation: str) -> None:
    assert format_when(at, Viewer(zone="America/Los_Angeles")).endswith(abbreviation)


def test_a_time_reads_as_the_locale_writes_it() -> None:
    at = datetime(2026, 12, 6, 18, 5, tzinfo=UTC)
    assert format_when(at, Viewer(zone="America/New_York")) == "Dec 6, 2026, 1:05\u202fPM EST"
    assert format_when(at, Viewer(zone="Europe/Paris", language="fr")) \
        == "6 déc. 2026, 19:05 UTC+01:00"


@settings(max_examples=300, deadline=None)
@given(cents=st.integers(min_value=-10**12, max_value=10**12), currency=CURRENCIES,
       language=st.sampled_from(LANGUAGES))
def test_any_cents_show_the_currency_sign_and_read_back_the_same(
        cents: int, currency: str, language: str) -> None:
    viewer = Viewer(language=language)  # type: ignore[arg-type]
    shown = format_amount(cents, viewer, currency)
    symbol = get_currency_symbol(currency, locale=viewer.locale)
    assert symbol in shown
    number = shown.replace(symbol, "").strip().strip("\u00a0\u202f ")
    assert parse_decimal(number, locale=viewer.locale, strict=True) * 100 == Decimal(cents)


def test_amounts_have_the_locales_separators() -> None:
    assert format_amount(123_456, Viewer()) == "$1,234.56"
    assert format_amount(-5, Viewer()) == "-$0.05"
    assert format_amount(123_456, Viewer(language="fr"), "EUR") == "1\u202f234,56\u00a0€"


def test_a_float_is_not_cents() -> None:
    with pytest.raises(TypeError, match="int cents"):
        format_amount(12.5, Viewer())  # type: ignore[arg-type]


def test_the_filters_read_the_viewer_the_page_was_rendered_for() -> None:
    env = make_templates()
    page = env.from_string("{{ at | when }} {{ c | cents }} {{ n | number }} "
                           "{{ s | plain('broadcast') }} {{ _('Log out') }}")
    at = datetime(2026, 1, 2, 3, 4, tzinfo=UTC)
    values = {"at": at, "c": 100_000, "n": 12345, "s": "running"}
    english = page.render(viewer=Viewer(zone="America/Los_Angeles"), **values)
    assert english == "Jan 1, 2026, 7:04\u202fPM PST $1,000.00 12,345 Sending Log out"
    french = page.render(viewer=Viewer(zone="Europe/Paris", language="fr", currency="EUR"),
                         **values)
    assert french == ("2 janv. 2026, 04:04 UTC+01:00 1\u202f000,00\u00a0€ 12\u202f345 "
                      "Envoi en cours Se déconnecter")


def test_a_misspelt_vocabulary_is_an_error_naming_the_known_ones() -> None:
    page = make_templates().from_string("{{ 'x' | plain('brodcast') }}")
    with pytest.raises(KeyError, match=r"no such vocabulary; known: .*broadcast"):
        page.render(viewer=Viewer())


def test_a_translated_data_string_is_still_escaped() -> None:
    page = make_templates().from_string("{{ title | t }}")
    assert page.render(title="<b>x</b>", viewer=Viewer()) == "&lt;b&gt;x&lt;/b&gt;"


def test_a_viewer_without_choices_gets_the_organizations() -> None:
    org = load_settings({"DATABASE_URL": "x", "GATEWAY_ORGANIZATION_TIMEZONE": "Europe/Paris",
                         "GATEWAY_ORGANIZATION_LANGUAGE": "fr",
                         "GATEWAY_ORGANIZATION_CURRENCY": "EUR"})
    assert viewer_for(org, None, None) == Viewer("Europe/Paris", "fr", "EUR")
    assert viewer_for(org, "America/Chicago", "en") == Viewer("America/Chicago", "en", "EUR")


def test_the_old_zone_variable_still_sets_the_organizations_zone() -> None:
    old = load_settings({"DATABASE_URL": "x", "GATEWAY_FINANCE_TIMEZONE": "Asia/Tokyo"})
    assert old.organization_timezone == "Asia/Tokyo"
    both = load_settings({"DATABASE_URL": "x", "GATEWAY_FINANCE_TIMEZONE": "Asia/Tokyo",
                          "GATEWAY_ORGANIZATION_TIMEZONE": "America/Denver"})
    assert both.organization_timezone == "America/Denver"
