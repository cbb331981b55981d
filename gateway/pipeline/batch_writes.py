"""What one batch of decisions will write, gathered before any statement runs.

The event handlers (pipeline/event_handlers.py) only append here; the
batch's writer (pipeline/decide.py) then writes each table in the order
the foreign keys need (replies before the consent and donation rows that
point at "reply number N of this MO"): states, timeline, replies and consent
rows in the batch's one statement (store/one_statement.py), the rest one
statement per table. Lists keep decision order, which is the order rows get
their ids.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from gateway.engine.events import KnowledgeLookup
from gateway.engine.types import ContactState
from gateway.store.consent import NewConsentEvent
from gateway.store.donations import DonorDetails, NewDonation, NewDonationEvent
from gateway.store.outbound import NewOutbound
from gateway.store.questions import NewQuestion
from gateway.store.tags import NewTag
from gateway.store.timeline import NewEvent
from gateway.store.webhook_events import NewWebhookEvent


@dataclass(frozen=True, slots=True)
class Origin:
    """The MO a decision's events came from, and the contact's state after it."""

    mo_id: int
    msisdn: str  # E.164
    shortcode: str
    received_at: datetime  # UTC: when every row of this MO occurred
    state: ContactState
    body: str = ""  # the MO's text: what a document lookup searches for


@dataclass(frozen=True, slots=True)
class PendingLookup:
    """A knowledge lookup's answer, to be read from the database and put in its place
    among the replies (pipeline/contact_centre.py `answer_lookups`)."""

    origin: Origin
    lookup: KnowledgeLookup


@dataclass(slots=True)
class BatchWrites:
    replies: list[NewOutbound | PendingLookup] = field(default_factory=list)
    timeline: list[NewEvent] = field(default_factory=list)
    consent: list[NewConsentEvent] = field(default_factory=list)
    donations: list[NewDonation] = field(default_factory=list)
    donation_events: list[NewDonationEvent] = field(default_factory=list)
    donor_details: list[DonorDetails] = field(default_factory=list)  # facts from the SMS dialog
    questions: list[NewQuestion] = field(default_factory=list)
    webhooks: list[NewWebhookEvent] = field(default_factory=list)  # store/webhook_events.py
    tags: list[NewTag] = field(default_factory=list)  # a keyword's tags (ContactTagged)
