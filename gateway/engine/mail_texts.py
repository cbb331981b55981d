"""The contact centre's e-mails: acknowledgement, standard answer, expert's answer.

Why templates in keywords.yaml (`themes.<program>.mail.<fr|en>`), with defaults
here: an e-mail is longer than an SMS and in the citizen's language (the
public form offers French and English whatever the program's profile), so
each text exists per language; a program that writes none says the wording
below. They use the SMS templates' syntax (engine/templates.py) but are not
counted in SMS segments. The SMS texts (`themes.<program>.texts`) still
speak to a citizen who gave only a mobile number.

Placeholders, beside the program's ({program} {shortcode} {support}
{frequency} {privacy_url}): {theme} the topic's name, {response_time} its
SLA as people say it, {answer} the standard or the expert's answer,
{question} the citizen's message, {name} their name when they gave one,
{subject} the subject of their e-mail (empty from the form).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import cache
from types import MappingProxyType
from typing import Final, Literal, get_args

from gateway.engine.model import Language, MailTexts, RulesFile
from gateway.engine.templates import PROGRAM_VARIABLES, Template, TemplateError, parse_template
from gateway.engine.yamlsource import Path

MailKind = Literal["acknowledgement", "knowledge", "answer"]
LANGUAGES: Final[tuple[Language, ...]] = get_args(Language)
MAX_SUBJECT_CHARS: Final = 200

_SUBJECT: Final = frozenset({"subject"})
VARIABLES: Final[Mapping[str, frozenset[str]]] = MappingProxyType({
    "acknowledgement_subject": _SUBJECT | {"theme"},
    "acknowledgement": frozenset({"theme", "response_time", "question", "name"}),
    "knowledge_subject": _SUBJECT,
    "knowledge": frozenset({"answer", "question", "name"}),
    "answer_subject": _SUBJECT | {"theme"},
    "answer": frozenset({"theme", "answer", "question", "name"}),
})

_FR: Final = {
    "acknowledgement_subject": "{program} : votre question ({theme})",
    "acknowledgement": "Bonjour,\n\nMerci pour votre message. Votre question ({theme}) est "
                       "transmise à nos experts, qui vous répondront sous {response_time}.\n\n"
                       "Pour la compléter, répondez simplement à ce message.\n\n{program}\n"
                       "Charte de confidentialité : {privacy_url}",
    "knowledge_subject": "{program} : réponse à votre message",
    "knowledge": "Bonjour,\n\n{answer}\n\nPour toute autre question, répondez à ce message."
                 "\n\n{program}",
    "answer_subject": "{program} : réponse à votre question ({theme})",
    "answer": "Bonjour,\n\n{answer}\n\nPour poursuivre l'échange, répondez à ce message.\n\n"
              "{program}",
}
_EN: Final = {
    "acknowledgement_subject": "{program}: your question ({theme})",
    "acknowledgement": "Hello,\n\nThank you for your message. Your question ({theme}) has "
                       "gone to our experts, who will answer within {response_time}.\n\n"
                       "To add to it, simply reply to this e-mail.\n\n{program}\n"
                       "Privacy charter: {privacy_url}",
    "knowledge_subject": "{program}: an answer to your message",
    "knowledge": "Hello,\n\n{answer}\n\nAny other question? Reply to this e-mail.\n\n{program}",
    "answer_subject": "{program}: an answer to your question ({theme})",
    "answer": "Hello,\n\n{answer}\n\nTo continue the conversation, reply to this e-mail.\n\n"
              "{program}",
}
DEFAULT_TEXTS: Final[Mapping[Language, Mapping[str, str]]] = MappingProxyType(
    {"fr": MappingProxyType(_FR), "en": MappingProxyType(_EN)})

MailTemplates = Mapping[Language, Mapping[str, Template]]


@cache
def _defaults(language: Language) -> Mapping[str, Template]:
    return MappingProxyType({name: parse_template(source)
                             for name, source in DEFAULT_TEXTS[language].items()})


def compile_mail(written: Mapping[Language, MailTexts]) -> MailTemplates:
    """Every text in both languages: what the file writes, else the default (checked first)."""
    compiled: dict[Language, Mapping[str, Template]] = {}
    for language in LANGUAGES:
        own = written.get(language)
        given = own.model_dump(exclude_none=True) if own is not None else {}
        compiled[language] = MappingProxyType({
            name: parse_template(given[name]) if name in given else default
            for name, default in _defaults(language).items()})
    return MappingProxyType(compiled)


def findings(doc: RulesFile) -> Iterator[tuple[Path, str]]:
    """Unparsable texts, unknown placeholders, and a campaign box without its wording."""
    for pid, themes in doc.themes.items():
        for language, texts in themes.mail.items():
            for name, source in texts.model_dump(exclude_none=True).items():
                at: Path = ("themes", pid, "mail", language, name)
                try:
                    template = parse_template(source)
                except TemplateError as err:
                    yield at, str(err)
                    continue
                allowed = PROGRAM_VARIABLES | VARIABLES[name]
                for unknown in sorted(template.names - allowed):
                    yield at, (f"template names unknown field {{{unknown}}}; known: "
                               + ", ".join(sorted(allowed)))
        box = themes.form.campaign_box
        program = doc.programs.get(pid)
        if box is not None and program is not None:
            own: Language = "fr" if program.profile == "fr" else "en"
            if getattr(box, own) is None:
                yield (("themes", pid, "form", "campaign_box"),
                       f"the campaign box needs its wording in {own!r}, the program's language")


def render(templates: MailTemplates, language: Language, kind: MailKind,
           values: Mapping[str, object]) -> tuple[str, str]:
    """(subject on one line, text body) of one e-mail."""
    texts = templates[language]
    subject = " ".join(texts[f"{kind}_subject"].render(values).split())
    return subject[:MAX_SUBJECT_CHARS], texts[kind].render(values).strip() + "\n"


def one_line(text: str | None) -> str:
    """A header value a citizen wrote, safe to put back in a header: no line breaks."""
    return " ".join((text or "").split())[:MAX_SUBJECT_CHARS]
