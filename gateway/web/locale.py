"""Who is looking: the zone, language and currency a page is shown in.

One rule: a user's own choice (users.time_zone / users.language, set on the
"My settings" page) else the organization's (GATEWAY_ORGANIZATION_TIMEZONE,
GATEWAY_ORGANIZATION_LANGUAGE); amounts without their own currency in
GATEWAY_ORGANIZATION_CURRENCY. Someone not logged in (the login page) sees
the organization's.

Translations: the gettext catalog under gateway/web/translations/ is read
from its .po file and compiled in memory at start (Babel), once per
language. Why at start rather than a committed or installed .mo: the .po
is then the one source, so a compiled file cannot be stale, forgotten in an
image or missing from a wheel; compiling two small catalogs costs
milliseconds. `make translations` extracts, updates and compiles too (the
compile there checks the catalog).
"""

from __future__ import annotations

import gettext
import io
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Final, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from babel import Locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from gateway.config import Settings
from gateway.engine.model import Language
from gateway.plain_words import Said

LANGUAGES: Final[tuple[Language, ...]] = get_args(Language)
# The words a language is offered by, in itself (the settings page's choices).
LANGUAGE_NAMES: Final[dict[Language, str]] = {"en": "English", "fr": "Français"}
# The Babel locale of each language: its date patterns, separators, zone names.
LOCALES: Final[dict[Language, str]] = {"en": "en_US", "fr": "fr_FR"}
CATALOG_DOMAIN = "messages"


@dataclass(frozen=True, slots=True)
class Viewer:
    zone: str = "UTC"
    language: Language = "en"
    currency: str = "USD"

    @property
    def locale(self) -> Locale:
        return babel_locale(self.language)

    @property
    def tzinfo(self) -> ZoneInfo:
        return ZoneInfo(self.zone)

    @property
    def translations(self) -> gettext.NullTranslations:
        return translations(self.language)

    def gettext(self, message: str, /, **values: object) -> str:
        """`message` (marked N_ where it is defined) in this language, %(name)s filled.

        Values go in after the translation, so a sentence is one msgid whatever
        the values, and the French can put them where French puts them.
        A `Said` (a refusal's message, gateway/plain_words.py) brings its own
        msgid and values: a service's sentence is shown in the viewer's language
        however it reached the page.
        """
        if isinstance(message, Said):  # its values may be sentences too: "user 7" not found
            values = {**{name: self.gettext(value) if isinstance(value, Said) else value
                         for name, value in message.params.items()}, **values}
            message = message.msgid
        if not message:  # gettext("") is the catalog's header, never a sentence
            return ""
        text = self.translations.gettext(message)
        return text % values if values else text

    def ngettext(self, singular: str, plural: str, count: int, /, **values: object) -> str:
        """The form for `count` (French and English differ at 0), %(name)s filled."""
        text = self.translations.ngettext(singular, plural, count)
        return text % values if values else text


def viewer_for(settings: Settings, time_zone: str | None, language: str | None) -> Viewer:
    """The viewer with these preferences (None: the organization's)."""
    return Viewer(zone=time_zone if time_zone and is_zone(time_zone)
                  else settings.organization_timezone,
                  language=as_language(language) or settings.organization_language,
                  currency=settings.organization_currency)


def as_language(value: str | None) -> Language | None:
    return next((known for known in LANGUAGES if known == value), None)


def is_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


@cache
def zone_names() -> tuple[str, ...]:
    """The IANA zones to choose from: tzdata's canonical regions (no 'Etc/GMT+5' aliases)."""
    regions = sorted(name for name in available_timezones()
                     if "/" in name and not name.startswith(("Etc/", "SystemV/", "US/")))
    return (*regions, "UTC")


@cache
def babel_locale(language: Language) -> Locale:
    return Locale.parse(LOCALES[language])


@cache
def translations(language: Language) -> gettext.NullTranslations:
    """The language's catalog, compiled from its .po in memory; English is the source."""
    if language == "en":
        return gettext.NullTranslations()
    po = resources.files("gateway.web").joinpath(
        "translations", language, "LC_MESSAGES", f"{CATALOG_DOMAIN}.po")
    with po.open("rb") as source:
        catalog = read_po(source, locale=LOCALES[language])
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)
