"""One handler per engine event kind: what each adds to the batch's writes (mailroom's way).

Every event goes on the contact's timeline (`schedule` does that for all,
with the stored name and JSON of `gateway/engine/events/`); then the
registry below hands it to its kind's handler, which only appends rows to
the batch (`BatchWrites`); pipeline/decide.py writes them, one statement
per table. Kinds that need nothing more than the timeline are registered
with `timeline_only`, so ignoring one is a decision someone wrote down.

Why a TypedDict keyed by the event's `name`: `schedule` indexes it with
`event.name`, whose type is the union of every kind's name literal, so mypy
rejects a kind with no entry ("TypedDict has no key"), a missing or unknown
entry in `HANDLERS`, and a handler written for another kind. The test
(tests/test_event_handlers.py) checks the same at run time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, TypedDict, TypeVar

from gateway.engine.events import (
    ComplianceReplyLimited,
    ConsentEvent,
    ContactTagged,
    DialogCompleted,
    DialogExpired,
    DialogInterrupted,
    DialogStarted,
    DialogStopped,
    DonationAmountAsked,
    DonationCancelled,
    DonationConfirmationSent,
    DonationConfirmed,
    DonationExpired,
    DonationRequested,
    DonationYesRepeated,
    DonorDetailsGiven,
    DonorDetailsUnreadable,
    EngineEvent,
    FloodSuppressed,
    HelpSent,
    IgnoredOptedOut,
    KeywordMatched,
    KnowledgeAnswered,
    KnowledgeLookup,
    OptedOut,
    OptInConfirmed,
    OptInRepeated,
    OptInRequested,
    ProfileUpdated,
    QuestionAsked,
    Resubscribed,
    StepSkipped,
    StopHintSent,
    ThemeMenuSent,
    ThemePrompted,
    Unmatched,
)
from gateway.pipeline import contact_centre, donation_ledger
from gateway.pipeline.batch_writes import BatchWrites, Origin
from gateway.store.consent import NewConsentEvent
from gateway.store.tags import NewTag
from gateway.store.timeline import NewEvent
from gateway.store.webhook_events import PROFILE_ANSWERED, NewWebhookEvent

E = TypeVar("E", contravariant=True)
Handler = Callable[[E, Origin, BatchWrites], None]


def timeline_only(event: object, origin: Origin, writes: BatchWrites) -> None:
    """The timeline row (written for every event) is all this kind needs."""


def consent_row(event: ConsentEvent, origin: Origin, writes: BatchWrites) -> None:
    """A consent-ledger row (CTIA), pointing at the MO's reply that carried the disclosure."""
    writes.consent.append(NewConsentEvent(
        msisdn=origin.msisdn, shortcode=event.shortcode, program=event.program,
        program_name=event.program_name, kind=event.name, inbound_id=event.mo_id,
        mo_text=event.mo_text, keyword=event.keyword, disclosure_text=event.disclosure_text,
        disclosure_version=event.disclosure_version, privacy_url=event.privacy_url,
        privacy_version=event.privacy_version, reply_index=event.reply_index,
        occurred_at=origin.received_at,
    ))


def profile_answered(event: ProfileUpdated, origin: Origin, writes: BatchWrites) -> None:
    """profile.answered for the webhooks: the answer as the dialog accepted it (its validated
    value and what was derived from it), never the MO's own text (docs/webhooks.md)."""
    writes.webhooks.append(NewWebhookEvent(PROFILE_ANSWERED, {
        "msisdn": origin.msisdn, "shortcode": origin.shortcode, "program": event.program,
        "dialog": event.dialog, "field": event.field, "value": event.value,
        "derived": dict(event.derived), "answered_at": origin.received_at.isoformat(),
    }, origin.received_at, origin.msisdn))
def tag_rows(event: ContactTagged, origin: Origin, writes: BatchWrites) -> None:
    """The keyword's tags on the number, at the MO's time (store/tags.py)."""
    writes.tags.extend(NewTag(origin.msisdn, tag, event.keyword, origin.received_at)
                       for tag in event.tags)


class Handlers(TypedDict):
    """The registry's type: one key per engine event kind, its value that kind's handler."""

    opt_in_requested: Handler[OptInRequested]
    opt_in_confirmed: Handler[OptInConfirmed]
    opted_out: Handler[OptedOut]
    resubscribed: Handler[Resubscribed]
    keyword_matched: Handler[KeywordMatched]
    unmatched: Handler[Unmatched]
    help_sent: Handler[HelpSent]
    stop_hint_sent: Handler[StopHintSent]
    opt_in_repeated: Handler[OptInRepeated]
    flood_suppressed: Handler[FloodSuppressed]
    ignored_opted_out: Handler[IgnoredOptedOut]
    compliance_reply_limited: Handler[ComplianceReplyLimited]
    dialog_started: Handler[DialogStarted]
    dialog_completed: Handler[DialogCompleted]
    dialog_expired: Handler[DialogExpired]
    dialog_stopped: Handler[DialogStopped]
    dialog_interrupted: Handler[DialogInterrupted]
    step_skipped: Handler[StepSkipped]
    profile_updated: Handler[ProfileUpdated]
    donation_amount_asked: Handler[DonationAmountAsked]
    donation_requested: Handler[DonationRequested]
    donation_confirmation_sent: Handler[DonationConfirmationSent]
    donation_confirmed: Handler[DonationConfirmed]
    donation_expired: Handler[DonationExpired]
    donation_cancelled: Handler[DonationCancelled]
    donation_yes_repeated: Handler[DonationYesRepeated]
    donor_details_unreadable: Handler[DonorDetailsUnreadable]
    donor_details_given: Handler[DonorDetailsGiven]
    knowledge_answered: Handler[KnowledgeAnswered]
    knowledge_lookup: Handler[KnowledgeLookup]
    theme_menu_sent: Handler[ThemeMenuSent]
    theme_prompted: Handler[ThemePrompted]
    question_asked: Handler[QuestionAsked]
    contact_tagged: Handler[ContactTagged]


HANDLERS: Final[Handlers] = {
    # the consent ledger
    "opt_in_requested": consent_row,
    "opt_in_confirmed": consent_row,
    "opted_out": consent_row,
    "resubscribed": consent_row,
    # the donation ledger and donor details (pipeline/donation_ledger.py)
    "donation_requested": donation_ledger.requested,
    "donation_confirmation_sent": donation_ledger.confirmation_sent,
    "donation_confirmed": donation_ledger.confirmed,
    "donation_expired": donation_ledger.expired,
    "donation_cancelled": donation_ledger.cancelled,
    "donor_details_given": donation_ledger.details_given,
    # the new profile is in the state (and its geo columns); the answer goes to webhooks
    "profile_updated": profile_answered,
    # the contact centre (pipeline/contact_centre.py)
    "knowledge_lookup": contact_centre.schedule_lookup,
    "question_asked": contact_centre.question_row,
    # tags a keyword puts on (store/tags.py)
    "contact_tagged": tag_rows,
    # the timeline is their whole record
    "keyword_matched": timeline_only,
    "unmatched": timeline_only,
    "help_sent": timeline_only,
    "stop_hint_sent": timeline_only,
    "opt_in_repeated": timeline_only,
    "flood_suppressed": timeline_only,
    "ignored_opted_out": timeline_only,
    "compliance_reply_limited": timeline_only,
    "dialog_started": timeline_only,
    "dialog_completed": timeline_only,
    "dialog_expired": timeline_only,
    "dialog_stopped": timeline_only,
    "dialog_interrupted": timeline_only,
    "step_skipped": timeline_only,
    "donation_amount_asked": timeline_only,
    "donation_yes_repeated": timeline_only,
    "donor_details_unreadable": timeline_only,
    "knowledge_answered": timeline_only,
    "theme_menu_sent": timeline_only,
    "theme_prompted": timeline_only,
}


def schedule(event: EngineEvent, origin: Origin, writes: BatchWrites) -> None:
    """The event's timeline row, then whatever its kind's handler adds."""
    writes.timeline.append(NewEvent(origin.msisdn, origin.shortcode, origin.mo_id, event.name,
                                    event.to_json(), origin.received_at))
    handler: Handler[Any] = HANDLERS[event.name]
    handler(event, origin, writes)
