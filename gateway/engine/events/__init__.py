"""The engine's events: one frozen dataclass per kind, typed fields, a `to_json` for storage.

Why typed: the pipeline used to receive `Event(name, data)` and dispatch on
the name string, re-reading fields with `int(data["amount_cents"])`; a
renamed key or kind failed at run time, in production. Now each kind is a
class with a past-tense `name` (what the timeline stores in
`contact_events.name`) and `to_json()` (what it stores in `data`, the same
shape and key order as ever, so stored rows, the dashboard's queries and
the scenario files keep working). `EngineEvent` is the union of every kind:
the pipeline's handler registry (pipeline/event_handlers.py) is checked by
mypy to have exactly one entry per member. docs/events.md lists the kinds,
their fields, who handles each, and how to add one.

Times are aware UTC datetimes, written as ISO-8601; money is integer cents.
"""

from __future__ import annotations

from typing import TypeAlias, get_args

from gateway.engine.events.consent_events import (
    ConsentEvent,
    ConsentRecord,
    OptedOut,
    OptInConfirmed,
    OptInRequested,
    Resubscribed,
)
from gateway.engine.events.contact_centre_events import (
    KnowledgeAnswered,
    KnowledgeLookup,
    QuestionAsked,
    ThemeMenuSent,
    ThemePrompted,
)
from gateway.engine.events.conversation_events import (
    ComplianceReplyLimited,
    ContactTagged,
    DialogCompleted,
    DialogExpired,
    DialogInterrupted,
    DialogStarted,
    DialogStopped,
    FloodSuppressed,
    HelpSent,
    IgnoredOptedOut,
    KeywordMatched,
    OptInRepeated,
    ProfileUpdated,
    StepSkipped,
    StopHintSent,
    Unmatched,
)
from gateway.engine.events.donation_events import (
    DonationAmountAsked,
    DonationCancelled,
    DonationConfirmationSent,
    DonationConfirmed,
    DonationExpired,
    DonationRequested,
    DonationYesRepeated,
    DonorDetailsGiven,
    DonorDetailsUnreadable,
)

EngineEvent: TypeAlias = (
    OptInRequested | OptInConfirmed | OptedOut | Resubscribed
    | KeywordMatched | Unmatched | HelpSent | StopHintSent | OptInRepeated | FloodSuppressed
    | IgnoredOptedOut | ComplianceReplyLimited
    | DialogStarted | DialogCompleted | DialogExpired | DialogStopped | DialogInterrupted
    | StepSkipped | ProfileUpdated
    | DonationAmountAsked | DonationRequested | DonationConfirmationSent | DonationConfirmed
    | DonationExpired | DonationCancelled | DonationYesRepeated
    | DonorDetailsUnreadable | DonorDetailsGiven
    | KnowledgeAnswered | KnowledgeLookup | ThemeMenuSent | ThemePrompted | QuestionAsked
    | ContactTagged
)

# Every kind, for tests and docs (the union's members, in the order above).
EVENT_KINDS: tuple[type[EngineEvent], ...] = get_args(EngineEvent)

__all__ = [
    "EVENT_KINDS", "ComplianceReplyLimited", "ConsentEvent", "ConsentRecord", "ContactTagged",
    "DialogCompleted",
    "DialogExpired", "DialogInterrupted", "DialogStarted", "DialogStopped",
    "DonationAmountAsked", "DonationCancelled", "DonationConfirmationSent", "DonationConfirmed",
    "DonationExpired", "DonationRequested", "DonationYesRepeated", "DonorDetailsGiven",
    "DonorDetailsUnreadable", "EngineEvent", "FloodSuppressed", "HelpSent", "IgnoredOptedOut",
    "KeywordMatched", "KnowledgeAnswered", "KnowledgeLookup", "OptInConfirmed",
    "OptInRepeated", "OptInRequested", "OptedOut", "ProfileUpdated", "QuestionAsked",
    "Resubscribed", "StepSkipped", "StopHintSent", "ThemeMenuSent", "ThemePrompted",
    "Unmatched",
]
