"""The voice line's rules: what the menu says per language, its choices, and the spoken values.

`voice.<program id>` in keywords.yaml (model.py `Voice`) is compiled here for
every program, with the defaults of voice_texts.py for what a program leaves
out, so any program can run the line. The engine does no I/O and writes no
XML: gateway/voice/ turns these templates into the provider's answers.

Why the keypad choices live here: they are the line's rules, and the same
numbers must be said (the menu texts) and read back (`topic_for`). The
question menu lists at most eight of the program's themes, 1 to 8 (a caller
will not sit through thirteen), and 9 for "anything else", which goes to the
program's fallback theme, to be classified once the provider transcribes it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final
from urllib.parse import urlsplit

from gateway.engine.model import Frequency, RulesFile
from gateway.engine.templates import Template, parse_template
from gateway.engine.text import normalize
from gateway.engine.voice_texts import DEFAULT_TEXTS, TEXT_NAMES, VoiceLanguage

LANGUAGES: Final[tuple[VoiceLanguage, ...]] = ("fr", "en")
# The provider's speech locale per language (<Say language=...>, <Gather language=...>).
LOCALES: Final[Mapping[VoiceLanguage, str]] = MappingProxyType({"fr": "fr-FR", "en": "en-US"})
OTHER_DIGIT: Final = "9"
MAX_TOPICS: Final = 8

# Values every text may name; some texts take more (TEXT_VARIABLES).
COMMON_VARIABLES: Final = frozenset({
    "program", "shortcode", "shortcode_digits", "support", "frequency", "frequency_spoken",
    "privacy_url", "privacy_site"})
TEXT_VARIABLES: Final[Mapping[str, frozenset[str]]] = MappingProxyType({
    "theme_choice": frozenset({"theme", "digit"}),
    "theme_other": frozenset({"digit"}),
    "record_prompt": frozenset({"theme", "max_seconds"}),
    "recorded": frozenset({"theme", "response_time"}),
    "recorded_withheld": frozenset({"theme"}),
    "donation_link": frozenset({"donation_url"}),
    "question_placeholder": frozenset({"theme"}),
})
SMS_TEXTS: Final = frozenset({"donation_link"})
# Read by experts in the inbox, not said to a caller: only their own values (TEXT_VARIABLES).
EXPERT_TEXTS: Final = frozenset({"question_placeholder"})

_SPOKEN_PERIOD: Final = {
    "en": {"day": "a day", "week": "a week", "month": "a month"},
    "fr": {"day": "par jour", "week": "par semaine", "month": "par mois"},
}
# Spoken answers to a menu (speech input): the first word, as a digit.
_NUMBER_WORDS: Final[Mapping[str, str]] = MappingProxyType({
    **{w: str(n) for n, w in enumerate(
        ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"))},
    **{w: str(n) for n, w in enumerate(
        ("zero", "un", "deux", "trois", "quatre", "cinq", "six", "sept", "huit", "neuf"))},
    "une": "1", "to": "2", "too": "2", "for": "4", "ate": "8",
})


@dataclass(frozen=True, slots=True)
class VoiceTopic:
    id: str
    name: str
    digit: str  # "1".."8"
    sla: int  # seconds: what the caller is told to expect


@dataclass(frozen=True, slots=True)
class VoiceRules:
    program: str
    language: VoiceLanguage  # the program's own: French for a French program
    prompt_version: str  # recorded with a keypress opt-in
    donation_url: str | None
    topics: tuple[VoiceTopic, ...]  # empty: the program has no themes, no option 3
    other: VoiceTopic | None  # 9, "anything else": the program's fallback theme
    texts: Mapping[VoiceLanguage, Mapping[str, Template]]
    tts_voice: Mapping[VoiceLanguage, str]

    def text(self, language: VoiceLanguage, name: str) -> Template:
        return self.texts[language][name]

    def topic_for(self, digit: str) -> VoiceTopic | None:
        """The question menu's topic of a keypad digit (9: `other`), or None."""
        if self.other is not None and digit == self.other.digit:
            return self.other
        return next((t for t in self.topics if t.digit == digit), None)

    def topic(self, theme: str, *, other: bool) -> VoiceTopic | None:
        """A topic by its theme id (`other`: the fallback, reached by 9)."""
        if other:
            return self.other
        return next((t for t in self.topics if t.id == theme), None)


def merged_texts(doc: RulesFile, pid: str, language: VoiceLanguage) -> dict[str, str]:
    """The program's texts in one language: the file's where written, else the default's."""
    section = doc.voice.get(pid)
    written = section.texts.get(language) if section is not None else None
    own = written.model_dump(exclude_none=True) if written is not None else {}
    return {name: own.get(name, DEFAULT_TEXTS[language][name]) for name in TEXT_NAMES}


def compile_voice(doc: RulesFile) -> Mapping[str, VoiceRules]:
    """Every program's line; assumes voice_checks.py found nothing (templates parse)."""
    compiled: dict[str, VoiceRules] = {}
    for pid, program in doc.programs.items():
        section = doc.voice.get(pid)
        sources = {lang: merged_texts(doc, pid, lang) for lang in LANGUAGES}
        texts = {lang: MappingProxyType({n: parse_template(s) for n, s in by_name.items()})
                 for lang, by_name in sources.items()}
        themes = doc.themes.get(pid)
        topics: tuple[VoiceTopic, ...] = ()
        other = None
        if themes is not None:
            fallback = themes.topics[themes.fallback]
            other = VoiceTopic(id=themes.fallback, name=fallback.name, digit=OTHER_DIGIT,
                               sla=fallback.sla or themes.sla)
            chosen = (section.topics if section is not None and section.topics else
                      [t for t in themes.topics if t != themes.fallback][:MAX_TOPICS])
            topics = tuple(
                VoiceTopic(id=tid, name=themes.topics[tid].name, digit=str(n),
                           sla=themes.topics[tid].sla or themes.sla)
                for n, tid in enumerate(chosen, start=1) if tid in themes.topics)
        version = section.prompt_version if section is not None else None
        compiled[pid] = VoiceRules(
            program=pid, language="fr" if program.profile == "fr" else "en",
            prompt_version=version or auto_version(sources),
            donation_url=section.donation_url if section is not None else None,
            topics=topics, other=other, texts=MappingProxyType(texts),
            tts_voice=MappingProxyType(dict(section.tts_voice) if section is not None else {}),
        )
    return MappingProxyType(compiled)


def auto_version(sources: Mapping[VoiceLanguage, Mapping[str, str]]) -> str:
    """A prompt version when the file names none: changes whenever the consent wording does."""
    wording = "\n".join(sources[lang][name] for lang in LANGUAGES
                        for name in ("support_updates", "support_donate"))
    return "auto-" + hashlib.sha256(wording.encode()).hexdigest()[:12]


def spoken_values(*, name: str, shortcode: str, support: str, frequency: str,
                  limit: Frequency, privacy_url: str, language: VoiceLanguage) -> dict[str, str]:
    """The COMMON_VARIABLES of one program on one short code, as a voice says them."""
    return {
        "program": name, "shortcode": shortcode, "shortcode_digits": " ".join(shortcode),
        "support": support, "frequency": frequency,
        "frequency_spoken": frequency_spoken(limit, language),
        "privacy_url": privacy_url, "privacy_site": privacy_site(privacy_url),
    }


def frequency_spoken(limit: Frequency, language: VoiceLanguage) -> str:
    """`{max_messages: 6, per: month}` -> "up to 6 messages a month" / "6 messages par mois
    au plus": the promise said in words, not in the SMS abbreviation."""
    period = _SPOKEN_PERIOD[language][limit.per]
    count = limit.max_messages
    if language == "fr":
        return f"{count} message{'s' if count > 1 else ''} {period} au plus"
    return f"up to {count} message{'s' if count > 1 else ''} {period}"


def privacy_site(url: str) -> str:
    """`https://www.example.org/privacy` -> "example.org": what a voice can say."""
    host = urlsplit(url).hostname or url
    return host.removeprefix("www.")


def spoken_choice(speech: str) -> str | None:
    """A spoken menu answer ("two", "trois", "3") -> its digit; None when it is not one."""
    words = normalize(speech).split()
    if not words:
        return None
    first = words[0].lower()
    if first.isdigit() and len(first) == 1:
        return first
    return _NUMBER_WORDS.get(first)
