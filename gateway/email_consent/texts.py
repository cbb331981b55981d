"""What citizens read about e-mail consent: the shipped wording, per language, from texts/.

Why TOML files beside the code rather than strings in it: the confirmation
mail and the pages are a legal statement a campaign's counsel reads and
changes, and the ledger records which version of them a citizen saw
(`version`). The files are the templates; Python only fills in the program,
link and charter. French and English, picked by the program's profile
(keywords.yaml) unless the caller knows the citizen's own language.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Final, Literal

from gateway.engine.rules import ProgramRules

Language = Literal["en", "fr"]
LANGUAGES: Final[tuple[Language, ...]] = ("en", "fr")


@dataclass(frozen=True, slots=True)
class Texts:
    language: Language
    version: str
    mail: dict[str, str]
    page: dict[str, str]
    ledger: dict[str, str]
    newsletter: dict[str, str]

    def say(self, section: str, key: str, **values: Any) -> str:
        """One statement with its placeholders filled; KeyError names a missing one."""
        table: dict[str, str] = getattr(self, section)
        return table[key].strip().format(**values)


@cache
def texts(language: Language) -> Texts:
    if language not in LANGUAGES:
        raise ValueError(f"no e-mail consent texts in {language!r}; there are {LANGUAGES}")
    source = resources.files("gateway.email_consent").joinpath("texts", f"{language}.toml")
    data = tomllib.loads(source.read_text(encoding="utf-8"))
    return Texts(language, str(data["version"]), dict(data["mail"]), dict(data["page"]),
                 dict(data["ledger"]), dict(data["newsletter"]))


def language_of(program: ProgramRules, asked: str | None = None) -> Language:
    """The citizen's language when the caller knows it, else the program's ('fr' or 'en')."""
    if asked is not None:
        return as_language(asked)
    return "fr" if program.profile == "fr" else "en"


def as_language(code: str) -> Language:
    """'en' or 'fr' as the Language type; ValueError names anything else."""
    for language in LANGUAGES:
        if code == language:
            return language
    raise ValueError(f"language must be one of {', '.join(LANGUAGES)}; got {code!r}")


def masked(address: str) -> str:
    """'ana@example.org' -> 'a•••@example.org': enough to recognise, not to copy."""
    local, _, domain = address.rpartition("@")
    return f"{local[:1]}•••@{domain}"
