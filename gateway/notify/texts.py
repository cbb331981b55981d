"""What the notices say: Jinja2 text templates in French and English, and the small
formatting they need (durations, a question's excerpt).

Why files and not strings in the code: the wording is the campaign's to
change, and a translator edits a template, not Python. Each template is a
mail: a `Subject:` line, a blank line, then the body
(gateway/notify/templates/<kind>.<language>.txt). Jinja2 is already the
pages' template engine; here it runs without HTML escaping (plain text) and
with StrictUndefined, so a misspelt variable fails the tests instead of
mailing an empty gap.

The language is the program's (`profile: fr` -> French, else English), the
same rule the knowledge base uses for a document's language.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Final, Literal

import jinja2
import phonenumbers

Language = Literal["fr", "en"]
TEMPLATES: Final = Path(__file__).resolve().parent / "templates"
EXCERPT_CHARS: Final = 200
_EMAIL = re.compile(r"[^\s<>()\[\]]+@[^\s<>()\[\]]+\.[^\s<>()\[\]]+")
_UNITS: Final[dict[Language, tuple[tuple[int, str, str], ...]]] = {
    "fr": ((86400, "jour", "jours"), (3600, "heure", "heures"), (60, "minute", "minutes")),
    "en": ((86400, "day", "days"), (3600, "hour", "hours"), (60, "minute", "minutes")),
}

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=False,
    undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
    keep_trailing_newline=True)


class TemplateShapeError(ValueError):
    """A notice template that does not start with `Subject: ...` and a blank line."""


def language_of(profile: str) -> Language:
    return "fr" if profile == "fr" else "en"


def render(kind: str, language: Language, **values: Any) -> tuple[str, str]:
    """(subject, body) of `kind` (sla_breach, digest) in `language`."""
    name = f"{kind}.{language}.txt"
    text = _env.get_template(name).render(**values)
    head, blank, body = text.partition("\n\n")
    if not head.startswith("Subject:") or not blank:
        raise TemplateShapeError(f"{TEMPLATES / name}: must start with a 'Subject: ...' line "
                                 "and a blank line before the body")
    subject = " ".join(head.removeprefix("Subject:").split())
    return subject, body.strip() + "\n"


def span(seconds: float, language: Language) -> str:
    """A duration in words, its two largest units: '2 jours 3 heures', '45 minutes'."""
    left = max(60, int(seconds))
    parts: list[str] = []
    for size, one, many in _UNITS[language]:
        count, left = divmod(left, size)
        if count and len(parts) < 2:
            parts.append(f"{count} {one if count == 1 else many}")
        elif parts:
            break  # '2 days 5 minutes' would skip the hours: stop at the gap
    return " ".join(parts)


def excerpt(text: str, language: Language, *, limit: int = EXCERPT_CHARS) -> str:
    """The start of a citizen's text for a staff mail, on one line, with any phone number
    or e-mail address they typed in it replaced by '…' (a notice carries no contact
    details; the inbox has what an expert may see)."""
    region = "FR" if language == "fr" else "US"
    cut = [(m.start, m.end) for m in phonenumbers.PhoneNumberMatcher(
        text, region, leniency=phonenumbers.Leniency.POSSIBLE)]
    cut += [(m.start(), m.end()) for m in _EMAIL.finditer(text)]
    merged: list[tuple[int, int]] = []
    for start, end in sorted(cut):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    for start, end in reversed(merged):
        text = text[:start] + "…" + text[end:]
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    return flat[:limit].rsplit(" ", 1)[0].rstrip(" ,.;:") + " …"
