"""The template filters that show times, amounts, counts and codes to one viewer.

    {{ row.created_at | when }}          6 Dec 2026, 10:12 PST (the viewer's zone)
    {{ row.amount_cents | cents(row.currency) }}   $1,234.56 / 1 234,56 $US
    {{ total | number }}                 12,345 / 12 345
    {{ rate | number(1) }}               12.5 / 12,5
    {{ row.status | plain("broadcast") }}          Sending (the code's words)
    {{ item.label | t }}                 a data string translated, then escaped
    {{ error.message }}                  a refusal (a `Said`) in the viewer's language

Every filter reads the `viewer` the page was rendered for (gateway/web/locale.py;
`page_html` passes it), so a template says what to show and never how: no
template changes when a user picks another zone or language. Babel does the
formatting from CLDR data (date patterns, zone abbreviations, currency signs
and separators per locale) rather than hand-written strftime and f-strings,
which knew one locale. `gettext`/`ngettext` for `{% trans %}` and `_()` are
installed the same way, reading the viewer's catalog.
"""

from __future__ import annotations

import gettext
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from babel.dates import format_date, format_time, get_timezone_gmt, get_timezone_name
from babel.numbers import format_currency, format_decimal
from jinja2.runtime import Context

from gateway.finance.money import MINOR_UNITS
from gateway.plain_words import Said
from gateway.web.locale import Viewer
from gateway.web.plain import words_for

DEFAULT_VIEWER = Viewer()


def install(env: jinja2.Environment) -> None:
    """The filters and the gettext callables on `env` (which has jinja2.ext.i18n)."""
    env.filters["when"] = when
    env.filters["cents"] = cents
    env.filters["number"] = number
    env.filters["plain"] = plain
    env.filters["t"] = translated
    env.finalize = shown
    env.install_gettext_callables(  # type: ignore[attr-defined]
        _gettext, _ngettext, newstyle=True)


def viewer_of(context: Context) -> Viewer:
    viewer = context.get("viewer")
    return viewer if isinstance(viewer, Viewer) else DEFAULT_VIEWER


def format_when(value: datetime | date, viewer: Viewer, zone: str | None = None) -> str:
    """A local date and time with its zone's abbreviation (PST, CET, UTC−8), in the locale."""
    if not isinstance(value, datetime):
        return format_date(value, "medium", locale=viewer.locale)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)  # the database's timestamptz are UTC
    tz = ZoneInfo(zone) if zone else viewer.tzinfo
    local = value.astimezone(tz)
    locale = viewer.locale
    day = format_date(local, "medium", locale=locale)
    clock = f"{format_time(local, 'short', tzinfo=tz, locale=locale)} {zone_label(local, viewer)}"
    joined: str = locale.datetime_formats["medium"].format(clock, day)
    return joined.replace("'", "")


def zone_label(local: datetime, viewer: Viewer) -> str:
    """The zone's abbreviation where the locale has one (PDT, UTC), else its offset (GMT+02:00)."""
    short: str = get_timezone_name(local, "short", locale=viewer.locale)
    if any(ch.isalpha() for ch in short):
        return short
    offset: str = get_timezone_gmt(local, "long", locale=viewer.locale)
    return offset


def format_amount(amount_cents: int, viewer: Viewer, currency: str | None = None) -> str:
    """Integer cents as the locale writes money: sign, separators, the currency's digits."""
    if not isinstance(amount_cents, int) or isinstance(amount_cents, bool):
        raise TypeError(f"cents takes int cents, not {type(amount_cents).__name__}")
    code = (currency or viewer.currency).upper()
    digits = MINOR_UNITS.get(code, 2)
    amount = Decimal(amount_cents).scaleb(-digits)
    shown: str = format_currency(amount, code, locale=viewer.locale)
    return shown


@jinja2.pass_context
def when(context: Context, value: datetime | date | str | None, zone: str | None = None
         ) -> str:
    """`zone`: a zone the page must show instead of the viewer's (a form's own zone)."""
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return format_when(value, viewer_of(context), zone)


@jinja2.pass_context
def cents(context: Context, value: int | None, currency: str | None = None) -> str:
    if value is None:
        return "—"
    return format_amount(value, viewer_of(context), currency)


@jinja2.pass_context
def number(context: Context, value: int | float | Decimal | None,
           decimals: int | None = None) -> str:
    """`decimals`: exactly that many digits after the separator (a rate: 12.5 / 12,5)."""
    if value is None:
        return "—"
    pattern = None if decimals is None else "#,##0" + ("." + "0" * decimals if decimals else "")
    shown: str = format_decimal(value, pattern, locale=viewer_of(context).locale)
    return shown


@jinja2.pass_context
def plain(context: Context, value: str | None, vocabulary: str) -> str:
    """The code's words in the viewer's language; an unknown code shows as itself."""
    if value is None or value == "":
        return "—"
    words = words_for(vocabulary).get(value)
    if words is None:
        return str(value)
    return viewer_of(context).translations.gettext(words)


@jinja2.pass_context
def shown(context: Context, value: Any) -> Any:
    """Every `{{ ... }}`: a refusal's message (a `Said`) in the viewer's language.

    Why here, once: a service's refusal reaches a page by many roads (a form's
    errors, a flash, the error page, a macro), and every one ends in a template;
    a page needs no code of its own to show it in French.
    """
    return viewer_of(context).gettext(value) if isinstance(value, Said) else value


@jinja2.pass_context
def translated(context: Context, value: Any) -> str:
    """A string from data (a navigation label, a title) in the viewer's language.

    Not `_()`: that marks its result safe, and a title may hold what a user typed.
    A refusal's message (a `Said`) is translated from its msgid, values filled.
    """
    return viewer_of(context).gettext(value if isinstance(value, str) else str(value))


def _catalog(context: Context) -> gettext.NullTranslations:
    return viewer_of(context).translations


@jinja2.pass_context
def _gettext(context: Context, message: str) -> str:
    return _catalog(context).gettext(message)


@jinja2.pass_context
def _ngettext(context: Context, singular: str, plural: str, count: int) -> str:
    return _catalog(context).ngettext(singular, plural, count)
