"""Compiled rules: keywords.yaml turned into lookup tables `decide()` can use fast.

Why a compiled form apart from the pydantic model: matching must cost a dict
lookup per MO, templates must be parsed once, and every short code needs its
own keyword table (STOP on a shared code ends every program on *that* code).
`Rules` is immutable; a reload builds a new one and swaps it whole.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING

from gateway.engine.model import Action, Defaults, Frequency, Profile, Step
from gateway.engine.templates import Template
from gateway.engine.text import TypoIndex

if TYPE_CHECKING:
    from gateway.engine.gift_requests import DonationRules
    from gateway.engine.knowledge import KnowledgeRules
    from gateway.engine.themes import ThemeRules
    from gateway.engine.voice import VoiceRules


@dataclass(frozen=True, slots=True)
class ProgramRules:
    id: str
    name: str
    profile: Profile
    shortcodes: tuple[str, ...]
    support: str
    frequency: str  # the disclosure text
    privacy_url: str
    privacy_version: str
    disclosure_version: str
    double_opt_in: bool
    help: Template
    confirmation: Template
    confirm_request: Template | None
    opted_out: Template
    already_subscribed: Template | None
    frequency_limit: Frequency  # the promise behind `frequency`, enforced on broadcasts
    stop_hint: Template | None = None  # None: the help text answers an unclear opt-out

    def variables(self, shortcode: str) -> dict[str, str]:
        """Values every template of this program may name, for one short code."""
        return {
            "program": self.name,
            "shortcode": shortcode,
            "support": self.support,
            "frequency": self.frequency,
            "privacy_url": self.privacy_url,
        }


@dataclass(frozen=True, slots=True)
class KeywordRules:
    word: str  # normalized
    program: str
    action: Action
    dialog: str | None
    reply: Template | None
    theme: str | None
    knowledge: str | None = None  # action knowledge: the entry's id
    tags: tuple[str, ...] = ()  # put on the texter's number when it matches (ContactTagged)


@dataclass(frozen=True, slots=True)
class StepRules:
    spec: Step
    prompt: Template
    reprompt: Template
    skip: str | None  # normalized skip word


@dataclass(frozen=True, slots=True)
class DialogRules:
    id: str
    program: str
    steps: tuple[StepRules, ...]
    expires_after: int  # seconds of silence
    closing: Template | None


@dataclass(frozen=True, slots=True)
class ShortcodeRules:
    code: str
    profile: Profile  # "fr" when any program on the code is French: its words add up
    lead: ProgramRules  # answers HELP, STOP and unmatched texts on this code
    programs: tuple[ProgramRules, ...]
    exact: Mapping[str, KeywordRules]
    fuzzy: TypoIndex[KeywordRules]
    default_reply: Template
    variables: Mapping[str, Mapping[str, str]]  # program id -> template values
    # the programs' own opt-out words on this code (keywords.yaml opt_out_words), normalized
    opt_out_words: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Rules:
    source: str
    defaults: Defaults
    shortcodes: Mapping[str, ShortcodeRules]
    programs: Mapping[str, ProgramRules]
    dialogs: Mapping[str, DialogRules]
    # "programs.rise.texts.help" -> worst-case SMS segments, for `keywords check`
    segment_counts: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    # program id -> its text-to-give settings (engine/gift_requests.py)
    donations: Mapping[str, DonationRules] = field(default_factory=lambda: MappingProxyType({}))
    # program id -> its contact centre (engine/themes.py) and knowledge base (knowledge.py)
    themes: Mapping[str, ThemeRules] = field(default_factory=lambda: MappingProxyType({}))
    knowledge: Mapping[str, Mapping[str, KnowledgeRules]] = field(
        default_factory=lambda: MappingProxyType({}))
    # profile fields a template may name (`fields:` and what validators derive), for
    # texts checked after loading: a broadcast's {firstname} typo is refused, not blank
    profile_fields: frozenset[str] = frozenset()
    # program id -> its voice line (engine/voice.py), defaults filled in for every program
    voice: Mapping[str, VoiceRules] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def default_reply(self) -> str:
        return self.defaults.default_reply

    def for_shortcode(self, code: str) -> ShortcodeRules:
        """Rules for `code`; an unconfigured code borrows the first one.

        Why not raise: an MO on a code we were not told about must still get
        its STOP honoured. The pipeline should only bind configured codes.
        """
        found = self.shortcodes.get(code)
        if found is not None:
            return found
        return next(iter(self.shortcodes.values()))
