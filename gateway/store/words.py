"""Plain words for the codes the database holds, each beside the column it checks.

A status or kind column with a CHECK (... IN (...)) constraint is where
those codes are defined; each vocabulary here names its table and column,
and tests/test_plain_words.py reads the constraint from a migrated database
and fails when a value the column accepts has no words. Pages show them
with the `plain` filter (`{{ b.status | plain("broadcast") }}`); the French
is in the gettext catalog (gateway/web/translations/).
"""

from __future__ import annotations

from typing import Final, NamedTuple

from gateway.plain_words import N_, Words


class Checked(NamedTuple):
    table: str
    column: str
    words: Words


CHECKED: Final[dict[str, Checked]] = {
    "webhook_delivery": Checked("webhook_deliveries", "status", {
        "pending": N_("Waiting to be sent"),
        "sending": N_("Being sent"),
        "delivered": N_("Delivered"),
        "failed": N_("Given up"),
    }),
    "role": Checked("users", "role", {
        "admin": N_("admin"),
        "organizer": N_("organizer"),
        "finance": N_("finance"),
        "expert": N_("expert"),
    }),
    "consent": Checked("consent_events", "kind", {
        "opt_in_requested": N_("Asked to join"),
        "opt_in_confirmed": N_("Joined"),
        "opted_out": N_("Opted out"),
        "resubscribed": N_("Joined again"),
    }),
    "delivery": Checked("outbound", "status", {
        "queued": N_("Waiting to send"),
        "sending": N_("Sending"),
        "submitted": N_("Sent to the carrier"),
        "delivered": N_("Delivered"),
        "undeliverable": N_("Could not be delivered"),
        "rejected": N_("Refused by the carrier"),
        "failed": N_("Failed"),
        "suppressed": N_("Not sent (opted out)"),
        "cancelled": N_("Not sent (broadcast cancelled)"),
    }),
    "broadcast": Checked("broadcasts", "status", {
        "draft": N_("Draft"),
        "scheduled": N_("Scheduled"),
        "running": N_("Sending"),
        "paused": N_("Paused"),
        "cancelled": N_("Cancelled"),
        "done": N_("Sent"),
    }),
    "question": Checked("questions", "status", {
        "open": N_("Waiting for an expert"),
        "claimed": N_("Being answered"),
        "answered": N_("Answered"),
        "escalated": N_("Past its response time"),
        "closed": N_("Closed without an answer"),
    }),
    "donation": Checked("donations", "status", {
        "requested": N_("Requested"),
        "awaiting_confirmation": N_("Waiting for the donor's YES"),
        "confirmed": N_("Confirmed"),
        "awaiting_details": N_("Waiting for donor details"),
        "billing_submitted": N_("Sent to the carrier for billing"),
        "charge_requested": N_("Card charge requested"),
        "requires_action": N_("Waiting for the donor (card check)"),
        "expired": N_("Not confirmed in time"),
        "cancelled": N_("Cancelled"),
        "refused": N_("Refused"),
        "failed": N_("Failed"),
        "billed": N_("Billed by the carrier"),
        "charged": N_("Card charged"),
        "partially_refunded": N_("Partly refunded"),
        "refunded": N_("Refunded"),
        "disputed": N_("Disputed by the donor"),
    }),
    "mail": Checked("mail_outbox", "status", {
        "queued": N_("Waiting to send"),
        "sending": N_("Sending"),
        "sent": N_("Sent"),
        "failed": N_("Failed"),
        "suppressed": N_("Not sent (unsubscribed)"),
    }),
    "settlement": Checked("settlement_lines", "kind", {
        "payment": N_("Payment"),
        "refund": N_("Refund"),
        "chargeback": N_("Chargeback"),
        "write_off": N_("Written off"),
        "fee": N_("Fee"),
        "payout": N_("Payout"),
        "other": N_("Other"),
    }),
    # an export job for a warehouse (migration 440, docs/segments-and-export.md)
    "export_status": Checked("contact_exports", "status", {
        "running": N_("Being written"),
        "done": N_("Done"),
        "failed": N_("Failed"),
    }),
    # contact import (migration 430, docs/import.md)
    "import_phase": Checked("contact_imports", "phase", {
        "dry_run": N_("Dry run"),
        "import": N_("Import"),
    }),
    "import_status": Checked("contact_imports", "status", {
        "uploaded": N_("Waiting for the column choices"),
        "queued": N_("Waiting to start"),
        "running": N_("Running"),
        "done": N_("Done"),
        "failed": N_("Stopped by an error"),
        "expired": N_("Expired: the file was deleted unused"),
    }),
    "import_outcome": Checked("contact_import_rows", "outcome", {
        "new": N_("New contact"),
        "updated": N_("Contact updated"),
        "skipped": N_("Row skipped"),
    }),
    "import_effect": Checked("contact_import_rows", "effect", {
        "subscribed": N_("Subscribed"),
        "already_subscribed": N_("Already subscribed"),
        "contact_only": N_("Contact only, not subscribed"),
        "opted_out": N_("Opt-out recorded"),
        "kept_opted_out": N_("Kept opted out"),
    }),
}

# The timeline's directions (store/timeline.py writes 'mo' and 'mt' as the kind).
DIRECTION_WORDS: Final[Words] = {
    "mo": N_("Received"),
    "mt": N_("Sent"),
}

# The timeline events questions.py writes as an expert works a question.
QUESTION_EVENT_WORDS: Final[Words] = {
    "question_claimed": N_("Question claimed by an expert"),
    "question_answered": N_("Question answered"),
    "question_reply": N_("Wrote again on the question"),
    "question_escalated": N_("Question past its response time"),
}
