"""What goes into the audit log, named once: who did what, to what, from where.

Why constants: the finance and compliance people query the log by action
(`WHERE action = 'broadcast.started'`), so the names are an interface and
must not drift between the API, the pages and the CLI. Why in the service
layer: the services record what they change in the same transaction, and
the CLI records its own actions without going through the web.

Hooks for the parts still to come: `EXPORT_DOWNLOADED` (a CSV report or a
data export), `REFUND_REQUESTED`. Call `record` in the same transaction as
the change it describes, so the change and its record commit together.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import asyncpg

from gateway.broadcast.frequency import FREQUENCY_OVERRIDDEN
from gateway.hooks.notice import WEBHOOK_DISABLED as WEBHOOK_AUTO_DISABLED
from gateway.services.actor import Identity
from gateway.store import audit as audit_store

LOGIN_SUCCEEDED: Final = "session.login_succeeded"
LOGIN_FAILED: Final = "session.login_failed"
LOGGED_OUT: Final = "session.logged_out"
USER_CREATED: Final = "user.created"
USER_UPDATED: Final = "user.updated"
TOKEN_CREATED: Final = "token.created"
TOKEN_REVOKED: Final = "token.revoked"
BROADCAST_CREATED: Final = "broadcast.created"
BROADCAST_SCHEDULED: Final = "broadcast.scheduled"
BROADCAST_STARTED: Final = "broadcast.started"
BROADCAST_PAUSED: Final = "broadcast.paused"
BROADCAST_RESUMED: Final = "broadcast.resumed"
BROADCAST_CANCELLED: Final = "broadcast.cancelled"
BROADCAST_WINNER_CHOSEN: Final = "broadcast.winner_chosen"  # an A/B test's, by an organizer
BROADCAST_FREQUENCY_OVERRIDDEN: Final = FREQUENCY_OVERRIDDEN  # written by gateway/broadcast/
KEYWORDS_RELOADED: Final = "keywords.reloaded"
KEYWORDS_RELOAD_REFUSED: Final = "keywords.reload_refused"
CONTACT_VIEWED: Final = "contact.viewed"  # profile answers may reveal opinions (compliance rule 27)
# (also: a contact's consent records, the consent ledger, a broadcast preview's samples;
# `view` in the detail says which)
DONATIONS_VIEWED: Final = "donations.viewed"  # a donation list or one donation's ledger
EXPORT_DOWNLOADED: Final = "export.downloaded"
REFUND_REQUESTED: Final = "donation.refund_requested"
SETTLEMENT_IMPORTED: Final = "settlement.imported"  # a carrier or Stripe file, by whom
QUESTION_CLAIMED: Final = "question.claimed"  # the expert inbox
QUESTION_RELEASED: Final = "question.released"
QUESTION_ANSWERED: Final = "question.answered"
PERSON_MERGED: Final = "person.merged"  # staff joined two addresses (services/persons/)
PERSON_UNMERGED: Final = "person.unmerged"  # staff undid a link: the person split
PERSON_LINK_SENT: Final = "person.link_sent"  # a one-time confirmation link went out
PERSON_LINKED: Final = "person.linked"  # a citizen confirmed it, or both channels did
WEBHOOK_CREATED: Final = "webhook.created"  # outgoing webhooks (services/webhooks.py)
WEBHOOK_ENABLED: Final = "webhook.enabled"
WEBHOOK_DISABLED_BY_HAND: Final = "webhook.disabled_by_hand"
WEBHOOK_DELETED: Final = "webhook.deleted"
WEBHOOK_REPLAYED: Final = "webhook.replayed"
WEBHOOK_UPDATED: Final = "webhook.updated"  # its URL, description or event types
WEBHOOK_SECRET_ROTATED: Final = "webhook.secret_rotated"
WEBHOOK_DISABLED: Final = WEBHOOK_AUTO_DISABLED  # by the gateway after sustained failure
# saved segments, tags and exports (services/segments.py, services/tags.py, services/exports.py)
SEGMENT_SAVED: Final = "segment.saved"
SEGMENT_DELETED: Final = "segment.deleted"
CONTACT_TAGGED: Final = "contact.tagged"
CONTACT_UNTAGGED: Final = "contact.untagged"
EXPORT_REQUESTED: Final = "export.requested"  # an API job; EXPORT_DOWNLOADED when streamed
EXPORT_REVOKED: Final = "export.revoked"  # a finished job's file deleted, its link dead

# contact import (services/imports/): a file kept, a phase queued, an import's end
IMPORT_UPLOADED: Final = "contacts.import_uploaded"
IMPORT_QUEUED: Final = "contacts.import_queued"
CONTACTS_IMPORTED: Final = "contacts.imported"
IMPORT_EXPIRED: Final = "contacts.import_expired"  # an unused upload's file deleted

CLI_ACTOR: Final = "cli"


async def record(
    conn: asyncpg.Connection, principal: Identity | None, action: str,
    target: str | None = None, *, client: str | None = None, actor: str | None = None,
    actor_id: int | None = None, **detail: Any,
) -> int:
    """Append one entry; `actor`/`actor_id` stand in for the principal (a login, the CLI)."""
    return await audit_store.insert_entry(
        conn, actor_id=actor_id if actor_id is not None else (
            principal.user_id if principal else None),
        actor=actor or (principal.email if principal else "anonymous"), action=action,
        target=target, detail=detail, client=client)


async def samples_shown(conn: asyncpg.Connection, principal: Identity, client: str,
                        samples: Sequence[tuple[str, str]]) -> None:
    """A broadcast preview's samples (number, text rendered with the profile): a contact
    view of each number shown, one row for the preview, the numbers in its detail."""
    if samples:
        await record(conn, principal, CONTACT_VIEWED, None, client=client,
                     view="broadcast_preview", contacts=[number for number, _ in samples])
