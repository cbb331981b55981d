"""The citizen-facing texts of a link confirmation, in French and English, from a TOML file.

Why a file and not strings in the code: the wording is the campaign's (its
tone, its name, what its charter promises), so an organizer can change it
without touching the program: GATEWAY_PERSONS_TEXTS names a copy of
texts.toml beside this module. The file is checked whole when read (every
key in both languages, only known placeholders) and a mistake names the
file, the language and the key. Which language: the program's on the
gateway's short code (a French program's profile is 'fr').
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from gateway.config import Settings
from gateway.engine import Rules

Language = Literal["fr", "en"]
LANGUAGES: Final[tuple[Language, ...]] = ("fr", "en")
BUILT_IN: Final = Path(__file__).with_name("texts.toml")
KEYS: Final = ("mail_subject", "mail_body", "sms", "page_title", "page_intro", "page_button",
               "page_linked", "page_already", "page_used", "page_expired", "page_unknown")
SAMPLE: Final = {"program": "P", "known": "k", "claimed": "c", "url": "https://x/", "hours": "1"}

_CACHE: dict[tuple[Path, str], Mapping[str, Mapping[str, str]]] = {}


class PersonTextsError(ValueError):
    """The texts file is missing a key or uses an unknown placeholder; says where."""


@dataclass(frozen=True, slots=True)
class LinkTexts:
    language: Language
    texts: Mapping[str, str]

    def render(self, key: str, **values: str) -> str:
        return self.texts[key].format_map(values)


def load(path: Path) -> Mapping[str, Mapping[str, str]]:
    """Every language's texts from `path`, checked (once per content of the file)."""
    try:
        content = path.read_text(encoding="utf-8")
        cached = _CACHE.get((path, content))
        if cached is not None:
            return cached
        document = tomllib.loads(content)
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise PersonTextsError(f"{path}: {err}") from None
    found: dict[str, dict[str, str]] = {}
    for language in LANGUAGES:
        table = document.get(language)
        if not isinstance(table, dict):
            raise PersonTextsError(f"{path}: no [{language}] table")
        found[language] = {}
        for key in KEYS:
            text = table.get(key)
            if not isinstance(text, str) or not text.strip():
                raise PersonTextsError(f"{path}: [{language}] {key} is missing or empty")
            try:
                text.format_map(SAMPLE)
            except (KeyError, ValueError, IndexError) as err:
                raise PersonTextsError(
                    f"{path}: [{language}] {key}: unknown placeholder or stray brace ({err}); "
                    f"known: {', '.join('{' + name + '}' for name in SAMPLE)}") from None
            found[language][key] = text
    _CACHE[(path, content)] = found
    return found


def texts_for(settings: Settings, language: Language) -> LinkTexts:
    return LinkTexts(language, load(settings.persons_texts or BUILT_IN)[language])


def language_on(rules: Rules, shortcode: str) -> Language:
    """The language of the program on `shortcode` (French for a French profile)."""
    profiles = [p.profile for p in rules.programs.values() if shortcode in p.shortcodes]
    return "fr" if profiles and profiles[0] == "fr" else "en"


def program_name_on(rules: Rules, shortcode: str) -> str:
    """The name citizens know the campaign by on `shortcode` (its first program's)."""
    names = [p.name for p in rules.programs.values() if shortcode in p.shortcodes]
    return names[0] if names else next(iter(rules.programs.values())).name
