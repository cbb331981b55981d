"""`keywords check` for the `voice:` section: what only the voice line's texts can get wrong.

The spoken texts are not SMS, so they stay out of the generic checker's
segment count (checks.py `template_sources`); they are parsed here, each
with the values it may name (voice.py). The one SMS among them,
`donation_link`, is counted against `max_segments` and, in French, must say
how to stop like every campaign text. A keypress opt-in is consent, so the
prompt that asks for it must name the program and how often it texts. The
question menu may only list the program's themes (not its fallback, which
is 9, "anything else"), eight at most.
"""

from __future__ import annotations

from collections.abc import Iterator

from gateway.engine.model import RulesFile
from gateway.engine.templates import TemplateError, parse_template
from gateway.engine.voice import (
    COMMON_VARIABLES,
    EXPERT_TEXTS,
    LANGUAGES,
    SMS_TEXTS,
    TEXT_VARIABLES,
    merged_texts,
)
from gateway.engine.yamlsource import Path

Finding = tuple[Path, str]
FR_STOP = "STOP au {shortcode}"


def findings(doc: RulesFile) -> Iterator[Finding]:
    for pid, section in doc.voice.items():
        at: Path = ("voice", pid)
        program = doc.programs.get(pid)
        if program is None:
            yield at, f"unknown program {pid!r}; the voice line is keyed by program id"
            continue
        yield from _topics(doc, pid, at)
        for language in LANGUAGES:
            written = section.texts.get(language)
            own = written.model_dump(exclude_none=True) if written is not None else {}
            for name, source in merged_texts(doc, pid, language).items():
                where: Path = (*at, "texts", language, name) if name in own else at
                yield from _text(doc, pid, language, name, source, where,
                                 section.donation_url)


def _topics(doc: RulesFile, pid: str, at: Path) -> Iterator[Finding]:
    topics = doc.voice[pid].topics
    if topics is None:
        return
    themes = doc.themes.get(pid)
    if themes is None:
        yield (*at, "topics"), f"topics: needs a themes.{pid} section (the questions' themes)"
        return
    for j, tid in enumerate(topics):
        if tid not in themes.topics:
            yield (*at, "topics", j), f"unknown theme {tid!r}; it must be one of themes.{pid}"
        elif tid == themes.fallback:
            yield (*at, "topics", j), (f"{tid!r} is the fallback theme, which 9 (anything "
                                       "else) reaches already")
    if len(set(topics)) != len(topics):
        yield (*at, "topics"), "a theme is listed twice"


def _text(doc: RulesFile, pid: str, language: str, name: str, source: str, where: Path,
          donation_url: str | None) -> Iterator[Finding]:
    label = f"texts.{language}.{name}"
    try:
        template = parse_template(source)
    except TemplateError as err:
        yield where, f"{label}: {err}"
        return
    common = frozenset() if name in EXPERT_TEXTS else COMMON_VARIABLES
    allowed = common | TEXT_VARIABLES.get(name, frozenset())
    for unknown in sorted(template.names - allowed):
        yield where, (f"{label} names unknown value {{{unknown}}}; known: "
                      + ", ".join(sorted(allowed)))
    if name == "support_updates" and not (
            "program" in template.names and template.names & {"frequency", "frequency_spoken"}):
        yield where, (f"{label} asks for consent: it must name {{program}} and "
                      "{frequency_spoken} (or {frequency})")
    if name in SMS_TEXTS:
        program = doc.programs[pid]
        if language == "fr" and program.profile == "fr" and FR_STOP not in source:
            yield where, f'{label} is an SMS of a French program: it must carry "{FR_STOP}"'
        limit = doc.defaults.max_segments
        for code in program.shortcodes:
            known = {"program": program.name, "shortcode": code}
            if donation_url is not None:
                known["donation_url"] = donation_url
            worst = template.worst_case_segments(known)
            if worst > limit:
                yield where, (f"{label} can take {worst} SMS segments, over max_segments "
                              f"{limit}; shorten it")
