"""Written messages (an e-mail, a post of the public form) into the contact centre.

Why here, beside the SMS rules: an e-mail must land where the same words
sent by SMS would, so it goes through the SMS path's own pieces, the
knowledge phrases (`knowledge.phrase_entry`) and the theme classifier
(`themes.best_topic`), not through a second classifier. What differs is
what a written message is: no keyword, no menu, no dialog, no profile; it
is always a question unless it is a simple request.

`route` decides, purely (the clock is passed in):
* a standard answer when a knowledge phrase is in a short message (at most
  `knowledge_max_words` words: a long letter that mentions "next meeting"
  in passing is a question for a person); a lookup entry is handed back
  as a `KnowledgeLookup` for the shell to resolve, like the SMS path's,
  except that a committee lookup without a postal code becomes a question
  (the SMS usage text, "send COMITE 75011", means nothing in an e-mail);
* otherwise a question for the experts of the chosen theme (the form) or of
  the classified one, with its SLA;
* `NoRoute` when the program has no themes.
The shell (gateway/routing/) stores, queues and acknowledges.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal

from gateway.engine import knowledge
from gateway.engine.events import KnowledgeLookup
from gateway.engine.model import Language, Profile
from gateway.engine.rules import ProgramRules, Rules
from gateway.engine.text import normalize
from gateway.engine.themes import best_topic, response_time

NO_MO: Final = 0  # a written message has no MO; its lookup carries this id
PROFILE_OF: Final[dict[Language, Profile]] = {"fr": "fr", "en": "us"}


@dataclass(frozen=True, slots=True)
class Written:
    program: str
    text: str  # subject and body as the citizen wrote them
    language: Language
    theme: str | None = None  # chosen on the form; None: classified


@dataclass(frozen=True, slots=True)
class StandardAnswer:
    program: str
    entry: str
    text: str | None  # a fixed answer, rendered; None: `lookup` first
    lookup: KnowledgeLookup | None


@dataclass(frozen=True, slots=True)
class ToExperts:
    program: str
    theme: str
    theme_name: str
    via: Literal["classified", "fallback", "form"]
    sla_seconds: int
    sla_due: datetime
    response_time: str  # in the message's language


@dataclass(frozen=True, slots=True)
class NoRoute:
    program: str
    reason: str


Route = StandardAnswer | ToExperts | NoRoute


def default_program(rules: Rules) -> str:
    """The first program with themes (questions need them), else the first program."""
    return next((pid for pid in rules.programs if pid in rules.themes),
                next(iter(rules.programs)))


def language_of(program: ProgramRules) -> Language:
    return "fr" if program.profile == "fr" else "en"


def program_values(program: ProgramRules) -> dict[str, str]:
    """The program's template values; {shortcode} is its first short code."""
    return program.variables(program.shortcodes[0])


def route(rules: Rules, message: Written, *, now: datetime,
          knowledge_max_words: int) -> Route:
    program = rules.programs.get(message.program)
    if program is None:
        return NoRoute(message.program, "unknown_program")
    words = normalize(message.text)
    if len(words.split()) <= knowledge_max_words:
        entry = knowledge.phrase_entry(rules, [program.id], words)
        if entry is not None:
            answer = _standard(program, entry, message.text)
            if answer is not None:
                return answer
    themes = rules.themes.get(program.id)
    if themes is None:
        return NoRoute(program.id, "no_themes")
    via: Literal["classified", "fallback", "form"]
    if message.theme is not None and message.theme in themes.topics:
        topic_id, via = message.theme, "form"
    else:
        topic_id, hits = best_topic(themes, words)
        via = "classified" if hits else "fallback"
    topic = themes.topics[topic_id]
    return ToExperts(
        program=program.id, theme=topic_id, theme_name=topic.name, via=via,
        sla_seconds=topic.sla, sla_due=now + timedelta(seconds=topic.sla),
        response_time=response_time(topic.sla, PROFILE_OF[message.language]))


def _standard(program: ProgramRules, entry: knowledge.KnowledgeRules,
              text: str) -> StandardAnswer | None:
    if entry.lookup is None:
        return StandardAnswer(program.id, entry.id, entry.answer.render(
            {**program_values(program), "privacy_version": program.privacy_version}), None)
    postal = knowledge.find_postal_code(text, program.profile)
    if entry.lookup == "committee" and postal is None:
        return None  # an expert answers; the SMS usage text does not fit an e-mail
    return StandardAnswer(program.id, entry.id, None, KnowledgeLookup(
        program=program.id, entry=entry.id, lookup=entry.lookup, postal_code=postal,
        country=knowledge.COUNTRIES[program.profile], shortcode=program.shortcodes[0],
        limit=entry.limit, via="phrase", mo_id=NO_MO,
        document=entry.document if entry.lookup == "document" else None))


def sms_acknowledgement(rules: Rules, question: ToExperts, shortcode: str) -> str:
    """The SMS path's own acknowledgement, for a form post that gave only a mobile number."""
    themes = rules.themes[question.program]
    program = rules.programs[question.program]
    return themes.acknowledgement.render({
        **program.variables(shortcode), "theme": question.theme_name,
        "response_time": response_time(question.sla_seconds, program.profile)})
