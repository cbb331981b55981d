"""Where a document belongs: a program and a theme of keywords.yaml, and its language.

Why checked against the rules in force rather than free text: an expert's
inbox search filters by the question's program and theme, so a document
filed under `sante ` or a program that does not exist would never be
found. The language chooses the search configuration (stemming); by
default it follows the program's profile (`fr` -> French, else English).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from gateway.engine import Rules

Language = Literal["fr", "en"]
LANGUAGES: Final[tuple[Language, ...]] = ("fr", "en")


class PlacementError(ValueError):
    """The program or theme is not one of the rules'; `field` names which."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class Placement:
    program: str
    theme: str | None  # None: every theme of the program
    language: Language


def themes_of(rules: Rules, program: str) -> dict[str, str]:
    """A program's themes, id -> name, in menu order, its fallback last."""
    themes = rules.themes.get(program)
    if themes is None:
        return {}
    named = {tid: topic.name for tid, topic in themes.topics.items()}
    named.setdefault(themes.fallback, themes.fallback.capitalize())
    return named


def place(rules: Rules, program: str, theme: str | None,
          language: Language | None = None) -> Placement:
    """The checked placement; `PlacementError` naming the field otherwise."""
    found = rules.programs.get(program)
    if found is None:
        known = ", ".join(sorted(rules.programs))
        raise PlacementError("program", f"unknown program {program!r}; one of: {known}")
    if theme is not None:
        themes = themes_of(rules, program)
        if theme not in themes:
            known = ", ".join(themes) or "none (leave the theme empty)"
            raise PlacementError("theme", f"program {program!r} has no theme {theme!r}; "
                                          f"its themes: {known}")
    return Placement(program, theme, language or ("fr" if found.profile == "fr" else "en"))
