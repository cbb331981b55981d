"""The four consent decisions: each becomes a consent-ledger row (CTIA) and a timeline entry.

They carry the same facts (what compliance rule 9 asks the shell to keep:
the program as named at the time, the MO, the disclosure and privacy texts'
versions), so they share one set of fields; each kind is still its own
class, so a handler can take one kind and mypy can tell them apart.
`reply_index` points into `Decision.replies` at the MT that carried the
disclosure; it is absent when nothing was sent (a flood of STOPs from a
number already opted out), and so is its key in the stored JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Literal


@dataclass(frozen=True, slots=True)
class ConsentRecord:
    """The fields every consent event carries (not an event kind itself)."""

    program: str
    program_name: str
    shortcode: str
    keyword: str
    mo_id: int
    mo_text: str
    disclosure_text: str
    disclosure_version: str
    privacy_url: str
    privacy_version: str
    at: datetime  # UTC
    reply_index: int | None  # which of the MO's replies carried the disclosure

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "program": self.program, "program_name": self.program_name,
            "shortcode": self.shortcode, "keyword": self.keyword, "mo_id": self.mo_id,
            "mo_text": self.mo_text, "disclosure_text": self.disclosure_text,
            "disclosure_version": self.disclosure_version, "privacy_url": self.privacy_url,
            "privacy_version": self.privacy_version, "at": self.at.isoformat(),
        }
        if self.reply_index is not None:
            data["reply_index"] = self.reply_index
        return data


@dataclass(frozen=True, slots=True)
class OptInRequested(ConsentRecord):
    """A double opt-in program asked for the confirming Y."""

    name: ClassVar[Literal["opt_in_requested"]] = "opt_in_requested"


@dataclass(frozen=True, slots=True)
class OptInConfirmed(ConsentRecord):
    """The number is subscribed (Y to a request, or a single opt-in keyword)."""

    name: ClassVar[Literal["opt_in_confirmed"]] = "opt_in_confirmed"


@dataclass(frozen=True, slots=True)
class OptedOut(ConsentRecord):
    """STOP (or a phrase that clearly means it): one per program on the short code."""

    name: ClassVar[Literal["opted_out"]] = "opted_out"


@dataclass(frozen=True, slots=True)
class Resubscribed(ConsentRecord):
    """A number that had opted out gave new consent."""

    name: ClassVar[Literal["resubscribed"]] = "resubscribed"


ConsentEvent = OptInRequested | OptInConfirmed | OptedOut | Resubscribed
