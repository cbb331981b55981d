"""The e-mail outbox (migration 220). SQL only; the one writer of `mail_outbox`.

Why queue in the caller's transaction: an acknowledgement is decided with the
message it acknowledges, an answer with the question it closes; both commit
together or not at all, and the sender (gateway/mail/) takes the row later
with a lease. `enqueue` with a `dedupe_key` is idempotent: a retried
transaction or a replayed form post finds the row it queued the first time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import asyncpg

from gateway.outgoing_mail import OutgoingMail
from gateway.store.db import affected

INSERT_MAIL = """
INSERT INTO mail_outbox (
    purpose, bulk, from_address, from_name, to_address, to_name, reply_to, subject,
    text_body, html_body, message_id, in_reply_to, references_ids, unsubscribe_url,
    dedupe_key, question_id, not_before)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
        coalesce($17, now()))
ON CONFLICT (dedupe_key) DO NOTHING
RETURNING id, message_id
"""

FIND_BY_KEY = "SELECT id, message_id FROM mail_outbox WHERE dedupe_key = $1"


@dataclass(frozen=True, slots=True)
class QueuedMail:
    """The row an enqueue made or found: its id and its Message-ID."""

    id: int
    message_id: str


async def enqueue(conn: asyncpg.Connection, mail: OutgoingMail, *,
                  message_id: str) -> QueuedMail:
    """Queue `mail` under `message_id` (gateway.outgoing_mail.new_message_id).

    With a dedupe_key already queued, the first row is returned and nothing is
    added (its Message-ID, not the one given, is the mail's).
    """
    row = await conn.fetchrow(
        INSERT_MAIL, mail.purpose, mail.bulk, mail.from_address, mail.from_name,
        mail.to_address, mail.to_name, mail.reply_to, mail.subject, mail.text_body,
        mail.html_body, message_id, mail.in_reply_to, list(mail.references),
        mail.unsubscribe_url, mail.dedupe_key, mail.question_id, mail.not_before)
    if row is None:
        row = await conn.fetchrow(FIND_BY_KEY, mail.dedupe_key)
        assert row is not None, "ON CONFLICT without a dedupe_key cannot skip the insert"
    return QueuedMail(id=row["id"], message_id=row["message_id"])


# -- erasure (store/privacy.py runs these in its one transaction) ------------------------

# Waiting mail first: an erased address is sent nothing more.
SUPPRESS_WAITING_TO = """
UPDATE mail_outbox SET status = 'suppressed', last_error = 'erased on request'
WHERE lower(to_address) = $1 AND status = 'queued'
"""

# The row stays (a count of what was sent, the Message-ID a later reply may name); the
# address becomes its pseudonym and the text goes. A bulk row must keep an http(s)
# unsubscribe URL (the table's CHECK), so it gets a placeholder that leads nowhere.
ERASED_UNSUBSCRIBE_URL = "https://erased.invalid/"
PSEUDONYMIZE_TO = """
UPDATE mail_outbox
SET to_address = $2, to_name = NULL, subject = '', text_body = '', html_body = NULL,
    unsubscribe_url = CASE WHEN bulk THEN $4 END,
    dedupe_key = regexp_replace(dedupe_key, $3, $2, 'gi'),
    last_error = regexp_replace(last_error, $3, $2, 'gi'),
    smtp_response = regexp_replace(smtp_response, $3, $2, 'gi')
WHERE lower(to_address) = $1
"""


async def suppress_waiting_to(conn: asyncpg.Connection, address: str) -> int:
    return affected(await conn.execute(SUPPRESS_WAITING_TO, address))


async def pseudonymize_to(conn: asyncpg.Connection, address: str, pseudonym: str) -> int:
    """`pseudonym` must look like an address (the table's CHECK): privacy's email_pseudonym."""
    return affected(await conn.execute(PSEUDONYMIZE_TO, address, pseudonym,
                                       re.escape(address), ERASED_UNSUBSCRIBE_URL))
