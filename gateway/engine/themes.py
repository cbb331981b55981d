"""Themes: a question no rule answers goes to the expert queue of its topic.

Three ways in, all ending in one `question_asked` event and an acknowledgement
that states the expected response time (the topic's SLA):

* a theme keyword (`EDUCATION why are classes so big?`) names the topic; with
  nothing after it we ask for the question and wait (`Draft.theme`, step "ask");
* the menu keyword lists the topics by number; `3` (or `3 why...`) picks one;
  text after the menu keyword itself (`QUESTION why...`) is classified as below;
* free text no keyword or dialog took, at least `min_words` words long, is
  classified by the topics' `words` and `phrases`, else goes to `fallback`.
  A knowledge-base phrase (engine/knowledge.py) is tried first: an answer now
  beats a question answered in two days.

The engine stores nothing: the pipeline turns `question_asked` into a row of
the questions table in the MO's transaction (pipeline/contact_centre.py).
A waiting menu or prompt lasts `choose_within`; a keyword always wins over it,
so `JOIN` after the menu is still JOIN.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from types import MappingProxyType
from typing import Final

from gateway.engine import knowledge
from gateway.engine.events import QuestionAsked, ThemeMenuSent, ThemePrompted
from gateway.engine.mail_texts import MailTemplates, compile_mail
from gateway.engine.model import CampaignBox, Profile, RulesFile
from gateway.engine.rules import KeywordRules
from gateway.engine.state import elapsed
from gateway.engine.templates import Template
from gateway.engine.text import normalize, parse_command
from gateway.engine.turn import Turn
from gateway.engine.types import Reply
from gateway.engine.yamlsource import Path

THEME_VARIABLES: Final = {
    "menu": frozenset({"menu"}),
    "ask": frozenset({"theme"}),
    "acknowledgement": frozenset({"theme", "response_time"}),
    "answer": frozenset({"theme", "answer"}),
}


@dataclass(frozen=True, slots=True)
class TopicRules:
    id: str
    name: str
    number: int  # its place in the menu, from 1
    sla: int  # seconds
    leads: tuple[str, ...]
    words: frozenset[str]  # normalized words
    prefixes: tuple[str, ...]  # from WORD* rules
    phrases: tuple[str, ...]  # normalized, several words each
    names: Mapping[str, str] = field(default_factory=dict)  # page language -> name (pages)


@dataclass(frozen=True, slots=True)
class ThemeRules:
    program: str
    profile: Profile
    topics: Mapping[str, TopicRules]  # in menu order
    fallback: str
    min_words: int
    choose_within: int
    menu: str  # "1 Education, 2 Security, ..."
    menu_text: Template
    ask: Template
    acknowledgement: Template
    answer: Template
    mail: MailTemplates  # e-mail texts per language (engine/mail_texts.py)
    campaign_box: CampaignBox | None = None  # the public form's box (None: no box)

    def numbered(self, number: int) -> TopicRules | None:
        ordered = list(self.topics.values())
        return ordered[number - 1] if 1 <= number <= len(ordered) else None


def compile_themes(doc: RulesFile, templates: Mapping[Path, Template]) -> Mapping[str, ThemeRules]:
    compiled: dict[str, ThemeRules] = {}
    for pid, themes in doc.themes.items():
        topics: dict[str, TopicRules] = {}
        for number, (tid, topic) in enumerate(themes.topics.items(), start=1):
            words = [w.strip() for w in topic.words]
            topics[tid] = TopicRules(
                id=tid, name=topic.name, number=number, sla=topic.sla or themes.sla,
                leads=tuple(topic.leads),
                words=frozenset(normalize(w) for w in words if not w.endswith("*")),
                prefixes=tuple(normalize(w[:-1]) for w in words if w.endswith("*")),
                phrases=tuple(normalize(p) for p in topic.phrases),
                names=MappingProxyType({str(k): v for k, v in topic.names.items()}),
            )
        profile = doc.programs[pid].profile if pid in doc.programs else "us"
        text = {name: templates[("themes", pid, "texts", name)] for name in THEME_VARIABLES}
        compiled[pid] = ThemeRules(
            program=pid, profile=profile, topics=MappingProxyType(topics),
            fallback=themes.fallback, min_words=themes.min_words,
            choose_within=themes.choose_within, menu=menu_line(topics.values()),
            menu_text=text["menu"], ask=text["ask"], acknowledgement=text["acknowledgement"],
            answer=text["answer"], mail=compile_mail(themes.mail),
            campaign_box=themes.form.campaign_box,
        )
    return MappingProxyType(compiled)


def menu_line(topics: Iterable[TopicRules]) -> str:
    return ", ".join(f"{t.number} {t.name}" for t in topics)


def classify(themes: ThemeRules, words: str) -> str:
    """The topic of a normalized text: most rule hits wins (a phrase counts twice), ties go
    to the earlier topic in the menu, no hit goes to the fallback."""
    return best_topic(themes, words)[0]


def best_topic(themes: ThemeRules, words: str) -> tuple[str, int]:
    """(topic id, rule hits) of a normalized text: `classify` with its score (0: fallback).

    The SMS path and written messages (engine/written.py) both classify here."""
    tokens = words.split()
    padded = f" {words} "
    best, best_score = themes.fallback, 0
    for topic in themes.topics.values():
        score = 2 * sum(1 for phrase in topic.phrases if f" {phrase} " in padded)
        score += sum(1 for t in tokens if t in topic.words or t.startswith(topic.prefixes))
        if score > best_score:
            best, best_score = topic.id, score
    return best, best_score


def parse_menu_choice(text: str, count: int) -> tuple[int, str] | None:
    """`3`, ` 3. `, `#3 why...` -> (3, the raw rest); None when the text is not a choice."""
    command = parse_command(text)
    first = command.first
    if not first.isascii() or not first.isdigit() or len(first) > 3:
        return None
    number = int(first)
    return (number, command.argument.lstrip(" .):-,;")) if 1 <= number <= count else None


def response_time(seconds: int, profile: Profile) -> str:
    """An SLA as people say it: 2 days, 36 hours, 90 minutes (French: 2 jours...)."""
    units = (("day", "jour", 86400), ("hour", "heure", 3600), ("minute", "minute", 60))
    for english, french, size in units:
        if seconds >= size and (seconds % size == 0 or size == 60):
            count = max(1, round(seconds / size))
            word = french if profile == "fr" else english
            return f"{count} {word}{'s' if count > 1 else ''}"
    return "1 minute"


def keyword(turn: Turn, matched: KeywordRules) -> None:
    """A theme keyword (action theme) or the menu keyword (action menu)."""
    themes = turn.rules.themes[matched.program]
    question = turn.command.argument.strip()
    if matched.action == "menu" and question:  # "QUESTION why...": classify what follows
        _classify_and_ask(turn, themes, question)
        return
    if matched.action == "menu":
        turn.replies.append(Reply(knowledge.render(turn, themes.menu_text, themes.program,
                                                   menu=themes.menu)))
        turn.draft.theme = {"program": themes.program, "step": "menu", "at": turn.at}
        turn.events.append(ThemeMenuSent(themes.program))
        return
    assert matched.theme is not None  # guaranteed by checks
    _chosen(turn, themes, matched.theme, question, via="keyword")


def free_text(turn: Turn) -> bool:
    """Text no keyword, dialog or confirmation took: True when it was handled here."""
    pending, turn.draft.theme = turn.draft.theme, None
    if pending is not None:
        themes = turn.rules.themes.get(str(pending.get("program")))
        age = elapsed(pending.get("at"), turn.now)
        if themes is not None and age is not None and age <= timedelta(
                seconds=themes.choose_within):
            if pending.get("step") == "ask" and pending.get("theme") in themes.topics \
                    and turn.inbound.text.strip():
                _ask(turn, themes, str(pending["theme"]), turn.inbound.text.strip(), via="prompt")
                return True
            choice = parse_menu_choice(turn.inbound.text, len(themes.topics))
            if pending.get("step") == "menu" and choice is not None:
                topic = themes.numbered(choice[0])
                assert topic is not None
                _chosen(turn, themes, topic.id, choice[1], via="menu")
                return True
    if knowledge.answer_phrase(turn):
        return True
    themes = next((turn.rules.themes[p.id] for p in turn.code.programs
                   if p.id in turn.rules.themes), None)
    if themes is None or len(turn.command.words.split()) < themes.min_words:
        return False
    _classify_and_ask(turn, themes, turn.inbound.text.strip())
    return True


def _classify_and_ask(turn: Turn, themes: ThemeRules, question: str) -> None:
    topic_id, hits = best_topic(themes, normalize(question))
    _ask(turn, themes, topic_id, question, via="classified" if hits else "fallback")


def _chosen(turn: Turn, themes: ThemeRules, topic_id: str, question: str, *, via: str) -> None:
    if question.strip():
        _ask(turn, themes, topic_id, question.strip(), via=via)
        return
    topic = themes.topics[topic_id]
    turn.replies.append(Reply(knowledge.render(turn, themes.ask, themes.program,
                                               theme=topic.name)))
    turn.draft.theme = {"program": themes.program, "step": "ask", "theme": topic_id,
                        "at": turn.at}
    turn.events.append(ThemePrompted(themes.program, topic_id, via))


def _ask(turn: Turn, themes: ThemeRules, topic_id: str, question: str, *, via: str) -> None:
    topic = themes.topics[topic_id]
    due = turn.now + timedelta(seconds=topic.sla)
    turn.replies.append(Reply(knowledge.render(
        turn, themes.acknowledgement, themes.program, theme=topic.name,
        response_time=response_time(topic.sla, themes.profile))))
    turn.events.append(QuestionAsked(
        program=themes.program, theme=topic_id, text=question, via=via, sla_seconds=topic.sla,
        sla_due=due, mo_id=turn.inbound.mo_id, at=turn.now))
