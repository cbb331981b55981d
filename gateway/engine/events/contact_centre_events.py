"""The knowledge base and the experts' themes: answers, lookups, questions.

`KnowledgeLookup` is answered by the shell from the database (nearest
office, next events; pipeline/contact_centre.py) and `QuestionAsked`
becomes a question row for the experts; the others only record what the
engine answered itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Literal


@dataclass(frozen=True, slots=True)
class KnowledgeAnswered:
    name: ClassVar[Literal["knowledge_answered"]] = "knowledge_answered"
    program: str
    entry: str
    via: str  # keyword | phrase
    usage: bool = False  # a lookup without a postal code: how to ask went out

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"program": self.program, "entry": self.entry, "via": self.via}
        if self.usage:
            data["usage"] = True
        return data


@dataclass(frozen=True, slots=True)
class KnowledgeLookup:
    """A question only the database can answer; the reply is the shell's to send."""

    name: ClassVar[Literal["knowledge_lookup"]] = "knowledge_lookup"
    program: str
    entry: str
    lookup: str  # committee | events | document
    postal_code: str | None
    country: str  # US | FR
    shortcode: str
    limit: int  # events: how many
    via: str
    mo_id: int
    document: str | None = None  # lookup document: the key of the document quoted

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "program": self.program, "entry": self.entry, "lookup": self.lookup,
            "postal_code": self.postal_code, "country": self.country,
            "shortcode": self.shortcode, "limit": self.limit, "via": self.via,
            "mo_id": self.mo_id}
        if self.document is not None:
            data["document"] = self.document
        return data


@dataclass(frozen=True, slots=True)
class ThemeMenuSent:
    name: ClassVar[Literal["theme_menu_sent"]] = "theme_menu_sent"
    program: str

    def to_json(self) -> dict[str, Any]:
        return {"program": self.program}


@dataclass(frozen=True, slots=True)
class ThemePrompted:
    """A theme was chosen without a question: the engine asked for it."""

    name: ClassVar[Literal["theme_prompted"]] = "theme_prompted"
    program: str
    theme: str
    via: str

    def to_json(self) -> dict[str, Any]:
        return {"program": self.program, "theme": self.theme, "via": self.via}


@dataclass(frozen=True, slots=True)
class QuestionAsked:
    """A question for the theme's experts, due an answer by `sla_due`."""

    name: ClassVar[Literal["question_asked"]] = "question_asked"
    program: str
    theme: str
    text: str
    via: str  # keyword | menu | prompt | classified | fallback
    sla_seconds: int
    sla_due: datetime
    mo_id: int
    at: datetime

    def to_json(self) -> dict[str, Any]:
        return {"program": self.program, "theme": self.theme, "text": self.text,
                "via": self.via, "sla_seconds": self.sla_seconds,
                "sla_due": self.sla_due.isoformat(), "mo_id": self.mo_id,
                "at": self.at.isoformat()}
