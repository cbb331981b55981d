"""What happened in the conversation itself: keywords, HELP, floods, dialogs.

None of these has a row of its own outside the contact's timeline; they are
what support staff read to understand why a number got (or did not get) a
reply. Optional keys (`answered_by`, `by`/`keyword`) are left out of the
stored JSON when absent, as they always were.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Literal


@dataclass(frozen=True, slots=True)
class KeywordMatched:
    name: ClassVar[Literal["keyword_matched"]] = "keyword_matched"
    keyword: str
    program: str
    action: str
    typed: str  # the first word as the supporter sent it (normalized)
    fuzzy: bool  # matched with one typo
    argument: str

    def to_json(self) -> dict[str, Any]:
        return {"keyword": self.keyword, "program": self.program, "action": self.action,
                "typed": self.typed, "fuzzy": self.fuzzy, "argument": self.argument}


@dataclass(frozen=True, slots=True)
class ContactTagged:
    """A keyword with `tags:` matched: the shell puts the tags on the number, in the MO's
    own transaction (pipeline/event_handlers.py, store/tags.py)."""

    name: ClassVar[Literal["contact_tagged"]] = "contact_tagged"
    keyword: str
    program: str
    tags: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"keyword": self.keyword, "program": self.program, "tags": list(self.tags)}


@dataclass(frozen=True, slots=True)
class Unmatched:
    """Nothing took the text: the default reply went out, or why it did not."""

    name: ClassVar[Literal["unmatched"]] = "unmatched"
    mo_id: int
    rate_limited: bool
    replied: bool
    answered_by: str | None = None  # "stop_hint": how to stop went out instead

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"mo_id": self.mo_id, "rate_limited": self.rate_limited,
                                "replied": self.replied}
        if self.answered_by is not None:
            data["answered_by"] = self.answered_by
        return data


@dataclass(frozen=True, slots=True)
class HelpSent:
    name: ClassVar[Literal["help_sent"]] = "help_sent"
    program: str
    opted_out: bool
    replied: bool  # False: held back in a flood

    def to_json(self) -> dict[str, Any]:
        return {"program": self.program, "opted_out": self.opted_out, "replied": self.replied}


@dataclass(frozen=True, slots=True)
class StopHintSent:
    """A text mentioned an opt-out word without clearly opting out: how to stop went out."""

    name: ClassVar[Literal["stop_hint_sent"]] = "stop_hint_sent"
    program: str
    mo_id: int

    def to_json(self) -> dict[str, Any]:
        return {"program": self.program, "mo_id": self.mo_id}


@dataclass(frozen=True, slots=True)
class OptInRepeated:
    """An opt-in keyword from a number already subscribed: no new consent."""

    name: ClassVar[Literal["opt_in_repeated"]] = "opt_in_repeated"
    program: str
    keyword: str

    def to_json(self) -> dict[str, Any]:
        return {"program": self.program, "keyword": self.keyword}


@dataclass(frozen=True, slots=True)
class FloodSuppressed:
    name: ClassVar[Literal["flood_suppressed"]] = "flood_suppressed"
    limit_per_minute: int

    def to_json(self) -> dict[str, Any]:
        return {"limit_per_minute": self.limit_per_minute}


@dataclass(frozen=True, slots=True)
class IgnoredOptedOut:
    """An opted-out number sent something that is neither new consent nor HELP."""

    name: ClassVar[Literal["ignored_opted_out"]] = "ignored_opted_out"
    keyword: str | None  # the keyword it matched, if any

    def to_json(self) -> dict[str, Any]:
        return {"keyword": self.keyword}


@dataclass(frozen=True, slots=True)
class ComplianceReplyLimited:
    """A STOP/START/HELP reply held back in a flood (engine/flood.py)."""

    name: ClassVar[Literal["compliance_reply_limited"]] = "compliance_reply_limited"
    word: str  # stop | start | help
    reason: str  # flood
    last_reply_at: datetime
    mo_id: int
    limit_per_minute: int

    def to_json(self) -> dict[str, Any]:
        return {"word": self.word, "reason": self.reason,
                "last_reply_at": self.last_reply_at.isoformat(), "mo_id": self.mo_id,
                "limit_per_minute": self.limit_per_minute}


@dataclass(frozen=True, slots=True)
class DialogStarted:
    name: ClassVar[Literal["dialog_started"]] = "dialog_started"
    dialog: str
    program: str

    def to_json(self) -> dict[str, Any]:
        return {"dialog": self.dialog, "program": self.program}


@dataclass(frozen=True, slots=True)
class DialogCompleted:
    name: ClassVar[Literal["dialog_completed"]] = "dialog_completed"
    dialog: str
    program: str

    def to_json(self) -> dict[str, Any]:
        return {"dialog": self.dialog, "program": self.program}


@dataclass(frozen=True, slots=True)
class DialogExpired:
    name: ClassVar[Literal["dialog_expired"]] = "dialog_expired"
    dialog: str
    program: str
    step: int
    reason: str  # silence | rules_changed

    def to_json(self) -> dict[str, Any]:
        return {"dialog": self.dialog, "program": self.program, "step": self.step,
                "reason": self.reason}


@dataclass(frozen=True, slots=True)
class DialogStopped:
    name: ClassVar[Literal["dialog_stopped"]] = "dialog_stopped"
    dialog: str
    program: str
    reason: str  # opted_out

    def to_json(self) -> dict[str, Any]:
        return {"dialog": self.dialog, "program": self.program, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class DialogInterrupted:
    """The open dialog ended early: another dialog (`by`) or a keyword took over."""

    name: ClassVar[Literal["dialog_interrupted"]] = "dialog_interrupted"
    dialog: str
    program: str
    step: int
    by: str | None = None  # the dialog that replaced it
    keyword: str | None = None  # or the keyword the supporter sent instead of an answer

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"dialog": self.dialog, "program": self.program,
                                "step": self.step}
        if self.by is not None:
            data["by"] = self.by
        if self.keyword is not None:
            data["keyword"] = self.keyword
        return data


@dataclass(frozen=True, slots=True)
class StepSkipped:
    name: ClassVar[Literal["step_skipped"]] = "step_skipped"
    dialog: str
    field: str
    reason: str  # skip_word | retries_exhausted

    def to_json(self) -> dict[str, Any]:
        return {"dialog": self.dialog, "field": self.field, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class ProfileUpdated:
    """A dialog answer was accepted; `derived` holds what the validator worked out."""

    name: ClassVar[Literal["profile_updated"]] = "profile_updated"
    dialog: str
    program: str
    field: str
    value: str | int | float
    derived: Mapping[str, str]

    def to_json(self) -> dict[str, Any]:
        return {"dialog": self.dialog, "program": self.program, "field": self.field,
                "value": self.value, "derived": dict(self.derived)}
