"""Reply templates: `Hi {first_name|friend}, text STOP to {shortcode} to quit.`

Why our own tiny syntax over `str.format`: organizers write these, so a
missing profile field must render its fallback (or nothing), never raise
at 2 a.m.; and the field names must be listable at load time so the checker
can refuse a template that names a field no dialog collects. `{{`/`}}` are
literal braces.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from gateway.smstext import segment_count

# Program-level values every template may use, filled in per short code.
PROGRAM_VARIABLES = frozenset({"program", "shortcode", "support", "frequency", "privacy_url"})
# How long we assume an unknown profile value is when counting segments.
ASSUMED_FIELD_LENGTH = 20

_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class TemplateError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Placeholder:
    name: str
    fallback: str


@dataclass(frozen=True, slots=True)
class Template:
    source: str
    parts: tuple[str | Placeholder, ...]

    @property
    def names(self) -> frozenset[str]:
        return frozenset(p.name for p in self.parts if isinstance(p, Placeholder))

    def render(self, values: Mapping[str, object]) -> str:
        out: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
            else:
                value = values.get(part.name)
                out.append(str(value) if value not in (None, "") else part.fallback)
        return "".join(out)

    def worst_case_segments(self, known: Mapping[str, object]) -> int:
        """Segments with known values filled in and unknown ones at the assumed length."""
        filler = {
            p.name: "x" * max(ASSUMED_FIELD_LENGTH, len(p.fallback))
            for p in self.parts
            if isinstance(p, Placeholder) and p.name not in known
        }
        return segment_count(self.render({**filler, **known}))


def parse_template(source: str) -> Template:
    parts: list[str | Placeholder] = []
    literal: list[str] = []
    position = 0
    for match in _TOKEN.finditer(source):
        literal.append(source[position : match.start()])
        position = match.end()
        token = match.group(0)
        if token in ("{{", "}}"):
            literal.append(token[0])
            continue
        if match.group(1) is None:
            raise TemplateError(
                f"unpaired {token!r} at character {match.start() + 1}; write {token * 2} "
                "for a literal brace"
            )
        name, _, fallback = match.group(1).partition("|")
        name = name.strip()
        if not _NAME.match(name):
            raise TemplateError(f"{{{match.group(1)}}} is not a field name (lower_case_words)")
        if literal:
            parts.append("".join(literal))
            literal = []
        parts.append(Placeholder(name, fallback))
    literal.append(source[position:])
    if "".join(literal):
        parts.append("".join(literal))
    return Template(source, tuple(parts))
