"""Knowledge-base answers: `WHERE 90210`, `EVENTS`, `PRIVACY`, and the phrases that mean them.

An entry (`knowledge.<program>.<entry>` in keywords.yaml) is reached by a
keyword with `action: knowledge` or by one of its `phrases:` found in free
text. A plain entry answers at once. A lookup entry needs rows the engine
cannot read (committees, events, documents), so the engine does not pre-fetch anything:
it decides *whether* and *what* to look up (the postal code from the text,
else from the profile) and emits a `knowledge_lookup` event instead of a
reply. The pipeline resolves that event in the MO's own transaction
(pipeline/contact_centre.py) and renders the answer with `render_lookup`,
a pure function of this module, so the wording rules stay here.

Why an intent rather than a pre-fetch: what to look up depends on the whole
decision (an open dialog, an opted-out number, the flood guard, a question
prompt all take the text first), so a pre-fetch would have to run the engine
twice or guess. The lookup reply is queued right after the MO's other
replies, so the supporter reads them in order.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any, Final
from zoneinfo import ZoneInfo

from gateway.engine.events import KnowledgeAnswered, KnowledgeLookup
from gateway.engine.model import Profile, RulesFile, Step
from gateway.engine.rules import KeywordRules, ProgramRules, Rules
from gateway.engine.templates import Template
from gateway.engine.text import normalize
from gateway.engine.turn import Turn
from gateway.engine.types import Reply
from gateway.engine.validators import fr_postal_code, us_zip
from gateway.engine.yamlsource import Path

COMMITTEE_VARIABLES: Final = frozenset(
    {"committee_name", "committee_address", "committee_postal_code", "committee_city",
     "committee_phone"})
DOCUMENT_VARIABLES: Final = frozenset({"document_title", "document_url", "document_quote"})
LOOKUP_VARIABLES: Final = {"committee": COMMITTEE_VARIABLES, "events": frozenset({"events"}),
                           "document": DOCUMENT_VARIABLES}
KNOWLEDGE_VARIABLES: Final = frozenset({"privacy_version", "postal_code"})
COUNTRIES: Final[dict[Profile, str]] = {"us": "US", "fr": "FR"}

_POSTAL_PATTERNS: Final[dict[Profile, re.Pattern[str]]] = {
    "us": re.compile(r"(?<!\d)(\d{5})(?:-\d{4})?(?!\d)"),
    "fr": re.compile(r"(?<!\d)(\d{2}) ?(\d{3})(?!\d)"),
}
_ANY_STEP = Step.model_validate({"field": "postal_code", "prompt": "-", "validator": "free_text"})


@dataclass(frozen=True, slots=True)
class KnowledgeRules:
    id: str
    program: str
    lookup: str | None  # "committee", "events" or None (a fixed answer)
    answer: Template
    not_found: Template | None
    usage: Template | None
    phrases: tuple[str, ...]  # normalized
    limit: int
    postal_fields: tuple[str, ...]  # profile fields that hold a postal code, in order
    document: str | None = None  # lookup document: the key of the document quoted


def compile_knowledge(
    doc: RulesFile, templates: Mapping[Path, Template]
) -> Mapping[str, Mapping[str, KnowledgeRules]]:
    postal = tuple(
        step.field for dialog in doc.dialogs.values() for step in dialog.steps
        if step.validator in ("us_zip", "fr_postal_code"))
    compiled: dict[str, Mapping[str, KnowledgeRules]] = {}
    for pid, entries in doc.knowledge.items():
        compiled[pid] = MappingProxyType({
            eid: KnowledgeRules(
                id=eid, program=pid, lookup=entry.lookup,
                answer=templates[("knowledge", pid, eid, "answer")],
                not_found=templates.get(("knowledge", pid, eid, "not_found")),
                usage=templates.get(("knowledge", pid, eid, "usage")),
                phrases=tuple(normalize(p) for p in entry.phrases if normalize(p)),
                limit=entry.limit, postal_fields=tuple(dict.fromkeys(postal)),
                document=entry.document,
            )
            for eid, entry in entries.items()
        })
    return MappingProxyType(compiled)


def find_postal_code(text: str, profile: Profile) -> str | None:
    """The first real postal code in `text` (a US zip must exist; `90210-1234` gives 90210)."""
    check = us_zip if profile == "us" else fr_postal_code
    for match in _POSTAL_PATTERNS[profile].finditer(text):
        accepted = check("".join(match.groups()), _ANY_STEP)
        if accepted is not None:
            return str(accepted.value)[:5]
    return None


def render(turn: Turn, template: Template, program_id: str, **extra: object) -> str:
    """A template with the program's values, the profile, and `extra` values."""
    variables = turn.code.variables.get(program_id)
    if variables is None:
        variables = turn.program(program_id).variables(turn.code.code)
    return template.render({**turn.draft.profile, **variables, **extra})


def answer_keyword(turn: Turn, keyword: KeywordRules) -> None:
    assert keyword.knowledge is not None  # guaranteed by checks
    entry = turn.rules.knowledge[keyword.program][keyword.knowledge]
    respond(turn, entry, turn.command.argument, via="keyword")


def answer_phrase(turn: Turn) -> bool:
    """Answer free text that contains one of an entry's phrases; True when one did."""
    entry = phrase_entry(turn.rules, [p.id for p in turn.code.programs], turn.command.words)
    if entry is None:
        return False
    respond(turn, entry, turn.inbound.text, via="phrase")
    return True


def phrase_entry(rules: Rules, programs: Sequence[str], words: str) -> KnowledgeRules | None:
    """The first entry (programs in order) one of whose phrases is in the normalized text.

    SMS free text and written messages (engine/written.py) both match here."""
    padded = f" {words} "
    for program in programs:
        for entry in rules.knowledge.get(program, {}).values():
            if any(f" {phrase} " in padded for phrase in entry.phrases):
                return entry
    return None


def respond(turn: Turn, entry: KnowledgeRules, text: str, *, via: str) -> None:
    program = turn.program(entry.program)
    common = {"privacy_version": program.privacy_version}
    if entry.lookup is None:
        turn.replies.append(Reply(render(turn, entry.answer, program.id, **common)))
        turn.events.append(KnowledgeAnswered(program.id, entry.id, via))
        return
    postal = find_postal_code(text, program.profile) or _profile_postal_code(turn, entry, program)
    if entry.lookup == "committee" and postal is None:
        assert entry.usage is not None  # guaranteed by checks
        turn.replies.append(Reply(render(turn, entry.usage, program.id, **common)))
        turn.events.append(KnowledgeAnswered(program.id, entry.id, via, usage=True))
        return
    turn.events.append(KnowledgeLookup(
        program=program.id, entry=entry.id, lookup=entry.lookup, postal_code=postal,
        country=COUNTRIES[program.profile], shortcode=turn.code.code, limit=entry.limit,
        via=via, mo_id=turn.inbound.mo_id,
        document=entry.document if entry.lookup == "document" else None))


def _profile_postal_code(turn: Turn, entry: KnowledgeRules, program: ProgramRules) -> str | None:
    for name in entry.postal_fields:
        value = turn.draft.profile.get(name)
        if value is not None:
            found = find_postal_code(str(value), program.profile)
            if found is not None:
                return found
    return None


def render_lookup(
    rules: Rules, lookup: KnowledgeLookup, found: Mapping[str, str] | None,
    profile: Mapping[str, Any],
) -> str:
    """The answer to a `KnowledgeLookup` event once the shell has the rows (None: nothing).

    `found` holds the lookup's template values (`committee_*`, or `events`
    from `format_events`).
    """
    program = rules.programs[lookup.program]
    entry = rules.knowledge[program.id][lookup.entry]
    template = entry.answer if found else entry.not_found
    assert template is not None  # guaranteed by checks
    return template.render({
        **profile, **program.variables(lookup.shortcode),
        "privacy_version": program.privacy_version,
        "postal_code": lookup.postal_code or "", **(found or {}),
    })


_DAYS = {"us": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
         "fr": ("lun.", "mar.", "mer.", "jeu.", "ven.", "sam.", "dim.")}
_MONTHS = {"us": ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
                  "Dec"),
           "fr": ("janv.", "fevr.", "mars", "avr.", "mai", "juin", "juil.", "aout", "sept.",
                  "oct.", "nov.", "dec.")}


def format_events(events: Sequence[tuple[str, datetime, str, str]], profile: Profile) -> str:
    """(title, starts_at UTC, IANA zone, location) rows -> one line, in the event's local time.

    Month and day names are spelt without accents so the text stays GSM-7.
    """
    lines = []
    for title, starts_at, zone, location in events:
        local = starts_at.astimezone(ZoneInfo(zone))
        day, month = _DAYS[profile][local.weekday()], _MONTHS[profile][local.month - 1]
        if profile == "fr":
            when = f"{day} {local.day} {month} {local.hour}h{local.minute:02d}"
        else:
            hour = local.hour % 12 or 12
            minutes = f":{local.minute:02d}" if local.minute else ""
            when = f"{day} {month} {local.day} {hour}{minutes}{'pm' if local.hour >= 12 else 'am'}"
        lines.append(f"{when} {title}" + (f", {location}" if location else ""))
    return "; ".join(lines)
