"""`keywords check` for the contact centre: the `themes:` and `knowledge:` sections.

The generic checker (checks.py) parses and segment-counts these templates
like any other, through `template_sources` and `template_variables` below;
what only this part of the file can get wrong is checked in `findings`:
references between keywords, themes and entries, rule words that are not
one word, a word that would classify into two topics, a lead that is not an
e-mail address, a lookup entry without its fallback texts, and a menu too
long for `max_segments` once the real topic names are in it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from gateway.email_address import EmailAddressError, normalize_email
from gateway.engine.knowledge import KNOWLEDGE_VARIABLES, LOOKUP_VARIABLES
from gateway.engine.model import RulesFile
from gateway.engine.templates import Template
from gateway.engine.text import normalize
from gateway.engine.themes import THEME_VARIABLES
from gateway.engine.yamlsource import Path

Finding = tuple[Path, str]


def template_sources(doc: RulesFile) -> Iterator[tuple[Path, str, str | None]]:
    for pid, themes in doc.themes.items():
        for name, text in themes.texts.model_dump().items():
            yield ("themes", pid, "texts", name), text, pid
    for pid, entries in doc.knowledge.items():
        for eid, entry in entries.items():
            for name in ("answer", "not_found", "usage"):
                text = getattr(entry, name)
                if text is not None:
                    yield ("knowledge", pid, eid, name), text, pid


def template_variables(doc: RulesFile, path: Path) -> frozenset[str]:
    """Names a contact-centre template may use beyond profile fields and program values."""
    if path[0] == "themes" and len(path) == 4:
        return THEME_VARIABLES.get(str(path[3]), frozenset())
    if path[0] == "knowledge" and len(path) == 4:
        entry = doc.knowledge.get(str(path[1]), {}).get(str(path[2]))
        lookup = entry.lookup if entry is not None else None
        return KNOWLEDGE_VARIABLES | LOOKUP_VARIABLES.get(lookup or "", frozenset())
    return frozenset()


def findings(doc: RulesFile, templates: Mapping[Path, Template]) -> Iterator[Finding]:
    yield from _keyword_references(doc)
    yield from _theme_sections(doc, templates)
    yield from _knowledge_sections(doc)


def _keyword_references(doc: RulesFile) -> Iterator[Finding]:
    for i, kw in enumerate(doc.keywords):
        at: Path = ("keywords", i)
        themes = doc.themes.get(kw.program)
        if kw.action in ("theme", "menu") and themes is None:
            yield (*at, "action"), (f"action {kw.action} needs a themes.{kw.program} section")
        elif kw.action == "theme" and kw.theme is not None and themes is not None \
                and kw.theme not in themes.topics:
            yield (*at, "theme"), (f"unknown theme {kw.theme!r}; define it under "
                                   f"themes.{kw.program}.topics")
        if kw.theme is not None and kw.action != "theme":
            yield (*at, "theme"), f"`theme:` is only used with action theme, not {kw.action}"
        if kw.action == "knowledge":
            if kw.knowledge is None:
                yield (*at, "action"), "action knowledge needs a `knowledge:` entry"
            elif kw.knowledge not in doc.knowledge.get(kw.program, {}):
                yield (*at, "knowledge"), (f"unknown knowledge entry {kw.knowledge!r}; define "
                                           f"it under knowledge.{kw.program}")
        elif kw.knowledge is not None:
            yield (*at, "knowledge"), ("`knowledge:` is only used with action knowledge, "
                                       f"not {kw.action}")


def _theme_sections(doc: RulesFile, templates: Mapping[Path, Template]) -> Iterator[Finding]:
    for pid, themes in doc.themes.items():
        at: Path = ("themes", pid)
        program = doc.programs.get(pid)
        if program is None:
            yield at, f"unknown program {pid!r}; themes are keyed by program id"
        if themes.fallback not in themes.topics:
            yield (*at, "fallback"), (f"fallback theme {themes.fallback!r} is not one of "
                                      "the topics; define it under topics:")
        owner: dict[str, str] = {}  # rule word -> topic, to refuse a word in two topics
        for tid, topic in themes.topics.items():
            for j, word in enumerate(topic.words):
                bare = word.strip().removesuffix("*")
                folded = normalize(bare)
                where: Path = (*at, "topics", tid, "words", j)
                if not folded or " " in folded or "*" in bare:
                    yield where, (f"{word!r} must be one word (WORD, or WORD* for every word "
                                  "starting with it); put several words under phrases:")
                elif owner.setdefault(folded, tid) != tid:
                    yield where, f"{word!r} also classifies into topic {owner[folded]!r}"
            for j, phrase in enumerate(topic.phrases):
                if len(normalize(phrase).split()) < 2:
                    yield (*at, "topics", tid, "phrases", j), (
                        f"{phrase!r} is one word; put it under words:")
            for j, lead in enumerate(topic.leads):
                try:
                    normalize_email(lead)
                except EmailAddressError as err:
                    yield (*at, "topics", tid, "leads", j), (
                        f"{err}: a lead is the e-mail address told of an overdue question")
        menu = templates.get((*at, "texts", "menu"))
        if program is not None and menu is not None:
            numbered = ", ".join(f"{n} {t.name}" for n, t in enumerate(
                themes.topics.values(), start=1))
            for code in program.shortcodes:
                worst = menu.worst_case_segments({"menu": numbered, "program": program.name,
                                                  "shortcode": code})
                if worst > doc.defaults.max_segments:
                    yield (*at, "texts", "menu"), (
                        f"the menu with its {len(themes.topics)} topics takes {worst} SMS "
                        f"segments, over max_segments {doc.defaults.max_segments}; shorten "
                        "the topic names or the text")
        if program is not None and program.profile == "fr":
            answer = templates.get((*at, "texts", "answer"))
            needle = "STOP au {shortcode}"
            if answer is not None and needle not in answer.source:
                yield (*at, "texts", "answer"), (
                    f'a French program\'s answer text must carry "{needle}" (an expert\'s '
                    "answer arrives later, like any campaign message)")


def _knowledge_sections(doc: RulesFile) -> Iterator[Finding]:
    for pid, entries in doc.knowledge.items():
        if pid not in doc.programs:
            yield ("knowledge", pid), f"unknown program {pid!r}; entries are keyed by program id"
        for eid, entry in entries.items():
            at: Path = ("knowledge", pid, eid)
            if entry.lookup is not None and entry.not_found is None:
                yield at, (f"lookup {entry.lookup} needs a `not_found:` text, for when "
                           "nothing is found")
            if entry.lookup == "committee" and entry.usage is None:
                yield at, ("lookup committee needs a `usage:` text (how to send a postal code) "
                           "for a text without one")
            if entry.lookup == "document" and entry.document is None:
                yield at, ("lookup document needs `document:`, the key of a knowledge-base "
                           "document (set when it is added)")
            if entry.lookup != "document" and entry.document is not None:
                yield (*at, "document"), "`document:` is only used with lookup document"
            if entry.lookup is None:
                for name in ("not_found", "usage"):
                    if getattr(entry, name) is not None:
                        yield (*at, name), f"`{name}:` is only used with a lookup"
            for j, phrase in enumerate(entry.phrases):
                if not normalize(phrase):
                    yield (*at, "phrases", j), f"{phrase!r} has no letters or digits"
