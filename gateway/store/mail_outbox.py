"""The e-mail outbox (migrations 220, 221). SQL only; the one writer of `mail_outbox`.

Why queue in the caller's transaction: an acknowledgement is decided with the
message it acknowledges, an answer with the question it closes; both commit
together or not at all, and the sender (gateway/mail/sender.py) takes the row
later with a lease. `enqueue` with a `dedupe_key` is idempotent: a retried
transaction or a replayed form post finds the row it queued the first time.

The sender's statements follow: the claim (FOR UPDATE SKIP LOCKED, a lease,
committed before SMTP starts, so several gateways drain one outbox without
sending a row twice), the DATA mark that fences each attempt, the results,
the release of leases a stopped sender left, and `suppression_reason`, the
one send-time check of whether an address may be mailed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from gateway.outgoing_mail import OutgoingMail
from gateway.store import address_consent
from gateway.store.db import affected
from gateway.store.lease_fence import Attempt as Attempt

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
UPDATE mail_outbox SET status = 'suppressed', suppressed_reason = 'erased on request',
    last_error = 'erased on request'
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
# -- the sender's side (gateway/mail/sender.py, migration 221) ----------------------------
#
# Time: every statement below takes the sender's clock as `$now` and uses the
# later of it and the database's `now()` (EFFECTIVE_NOW). In production the two
# agree; a test's clock moved forward makes a backed-off row due without a sleep,
# and a clock left behind never holds up a row the database thinks due.
#
# Fencing: a claim increments `attempts`, so (id, lease_owner, attempts) names
# one attempt. Every write about an attempt requires it; a sender whose lease
# ran out and was taken over writes nothing, and above all does not start DATA
# (`mark_data`). Only `mark_sent` is not fenced: the provider's 250 is the truth,
# whoever holds the row now.

EFFECTIVE_NOW = "greatest(now(), $1::timestamptz)"

CLAIMED_COLUMNS = """m.id, m.purpose, m.bulk, m.from_address, m.from_name, m.to_address,
          m.to_name, m.reply_to, m.subject, m.text_body, m.html_body, m.message_id,
          m.in_reply_to, m.references_ids, m.unsubscribe_url, m.attempts, m.paced,
          m.not_before"""

# Mail to one person first, then bulk; oldest first (index mail_outbox_due_idx). A
# paused newsletter's waiting copies stay queued until it is resumed: a pause stops
# its mail at once, not after the copies already queued.
CLAIM = f"""
WITH due AS (
    SELECT id FROM mail_outbox o
    WHERE status = 'queued' AND not_before <= {EFFECTIVE_NOW}
      AND NOT (bulk AND EXISTS (SELECT 1 FROM newsletter_recipients r
                                JOIN broadcasts b ON b.id = r.broadcast_id
                                WHERE r.mail_outbox_id = o.id AND b.status = 'paused'))
    ORDER BY bulk, not_before, id
    LIMIT $2
    FOR UPDATE SKIP LOCKED
)
UPDATE mail_outbox m
SET status = 'sending', lease_owner = $3,
    lease_until = {EFFECTIVE_NOW} + make_interval(secs => $4),
    attempts = m.attempts + 1, data_at = NULL
FROM due
WHERE m.id = due.id
RETURNING {CLAIMED_COLUMNS}
"""

# Just before DATA: still ours (the fence), and the lease renewed to cover DATA.
MARK_DATA = f"""
UPDATE mail_outbox
SET data_at = {EFFECTIVE_NOW}, lease_until = {EFFECTIVE_NOW} + make_interval(secs => $5)
WHERE id = $2 AND status = 'sending' AND lease_owner = $3 AND attempts = $4
"""

MARK_SENT = f"""
UPDATE mail_outbox
SET status = 'sent', sent_at = {EFFECTIVE_NOW}, smtp_response = $3,
    lease_owner = NULL, lease_until = NULL, paced = false
WHERE id = $2 AND status IN ('queued', 'sending')
"""

# Back to the queue: a retry after a 4xx or a lost connection, a row given back
# unsent (its attempt returned: $8 = 1), or a bulk row paced to a booked slot.
REQUEUE = f"""
UPDATE mail_outbox
SET status = 'queued', lease_owner = NULL, lease_until = NULL, data_at = NULL,
    not_before = coalesce($6::timestamptz, {EFFECTIVE_NOW} + make_interval(secs => $5)),
    last_error = coalesce($7, last_error), attempts = attempts - $8,
    unsure_sends = unsure_sends + $9, paced = $10
WHERE id = $2 AND status = 'sending' AND lease_owner = $3 AND attempts = $4
"""

MARK_FAILED = """
UPDATE mail_outbox
SET status = 'failed', last_error = $4, lease_owner = NULL, lease_until = NULL, paced = false
WHERE id = $1 AND status = 'sending' AND lease_owner = $2 AND attempts = $3
"""

MARK_SUPPRESSED = """
UPDATE mail_outbox
SET status = 'suppressed', suppressed_reason = $4, lease_owner = NULL, lease_until = NULL,
    paced = false
WHERE id = $1 AND status = 'sending' AND lease_owner = $2 AND attempts = $3
"""

# Rows left 'sending' by a sender that stopped: at start-up its own (`$2`) and
# every expired lease; while running, other senders' expired leases only ($5).
# An attempt that reached DATA (`data_at`) may have been taken by the provider:
# it is sent again all the same (docs/email.md says why), counted in
# unsure_sends. At the attempt limit ($3) the row fails instead, saying so.
_RELEASE = """
WITH stranded AS (
    SELECT id, data_at IS NOT NULL AS unsure, attempts >= $3 AS spent
    FROM mail_outbox
    WHERE status = 'sending' AND (%s)
    FOR UPDATE SKIP LOCKED
)
UPDATE mail_outbox m
SET status = CASE WHEN s.spent THEN 'failed' ELSE 'queued' END,
    last_error = CASE WHEN s.unsure
                      THEN 'unsure: its sender stopped after DATA began; '
                           || CASE WHEN s.spent THEN 'it may have been delivered'
                                   ELSE 'sent again with the same Message-ID' END
                      ELSE 'not sent: its sender stopped before DATA' END
                 || CASE WHEN s.spent THEN ' (no attempt left)' ELSE '' END,
    unsure_sends = m.unsure_sends + CASE WHEN s.unsure AND NOT s.spent THEN 1 ELSE 0 END,
    lease_owner = NULL, lease_until = NULL, data_at = NULL, paced = false
FROM stranded s
WHERE m.id = s.id
RETURNING m.id, m.status, s.unsure
"""

RELEASE_AT_START = _RELEASE % f"lease_owner = $2 OR lease_until < {EFFECTIVE_NOW}"
RELEASE_OTHERS_EXPIRED = _RELEASE % (
    f"lease_owner IS DISTINCT FROM $2 AND lease_until < {EFFECTIVE_NOW}")

# The latest delivery report that names the address as failed, unless the
# address has written to us since (a mailbox that was full works again).
LAST_BOUNCE = """
SELECT b.id, b.received_at
FROM mail_inbound b
WHERE b.bounced_addresses @> ARRAY[lower($1)]::text[]
  AND NOT EXISTS (SELECT 1 FROM mail_inbound w
                  WHERE lower(w.from_address) = lower($1) AND w.kind = 'normal'
                    AND w.received_at > b.received_at)
ORDER BY b.received_at DESC, b.id DESC
LIMIT 1
"""

COUNT_QUEUED = "SELECT count(*) FROM mail_outbox WHERE status = 'queued'"


@dataclass(frozen=True, slots=True)
class ClaimedMail:
    """A row leased to one sender for one attempt (`attempts` is that attempt's number)."""

    id: int
    purpose: str
    bulk: bool
    from_address: str
    from_name: str | None
    to_address: str
    to_name: str | None
    reply_to: str | None
    subject: str
    text_body: str
    html_body: str | None
    message_id: str
    in_reply_to: str | None
    references: tuple[str, ...]
    unsubscribe_url: str | None
    attempts: int
    paced: bool
    not_before: datetime


@dataclass(frozen=True, slots=True)
class Released:
    """What a lease release did: rows queued again, rows failed, and how many were unsure."""

    queued: int
    failed: int
    unsure: int


async def claim(conn: asyncpg.Connection, *, now: datetime, limit: int, owner: str,
                lease_seconds: float) -> list[ClaimedMail]:
    """Lease up to `limit` due rows to `owner` (committed before any SMTP starts).

    Mail to one person comes before bulk mail, each oldest first.
    """
    rows = await conn.fetch(CLAIM, now, limit, owner, lease_seconds)
    claimed = [ClaimedMail(
        id=r["id"], purpose=r["purpose"], bulk=r["bulk"], from_address=r["from_address"],
        from_name=r["from_name"], to_address=r["to_address"], to_name=r["to_name"],
        reply_to=r["reply_to"], subject=r["subject"], text_body=r["text_body"],
        html_body=r["html_body"], message_id=r["message_id"], in_reply_to=r["in_reply_to"],
        references=tuple(r["references_ids"]), unsubscribe_url=r["unsubscribe_url"],
        attempts=r["attempts"], paced=r["paced"], not_before=r["not_before"]) for r in rows]
    # UPDATE ... RETURNING keeps no order
    claimed.sort(key=lambda m: (m.bulk, m.not_before, m.id))
    return claimed


async def mark_data(conn: asyncpg.Connection, attempt: Attempt, *, now: datetime,
                    lease_seconds: float) -> bool:
    """Record that this attempt starts DATA; False: the row is no longer ours (do not send)."""
    return affected(await conn.execute(
        MARK_DATA, now, attempt.id, attempt.owner, attempt.attempts, lease_seconds)) == 1


async def mark_sent(conn: asyncpg.Connection, mail_id: int, *, now: datetime,
                    smtp_response: str) -> bool:
    """The provider answered 250 to DATA; False if the row was already final."""
    return affected(await conn.execute(MARK_SENT, now, mail_id, smtp_response)) == 1


async def requeue(conn: asyncpg.Connection, attempt: Attempt, *, now: datetime,
                  delay: float = 0.0, at: datetime | None = None, error: str | None = None,
                  give_back: bool = False, unsure: bool = False, paced: bool = False) -> bool:
    """Queue the row again, due `delay` seconds from now (or `at`).

    give_back: the attempt does not count (nothing was tried for this mail);
    unsure: the attempt may have reached the recipient (counted in unsure_sends);
    paced: `at` is a slot the rate limit booked for it.
    """
    return affected(await conn.execute(
        REQUEUE, now, attempt.id, attempt.owner, attempt.attempts, delay, at, error,
        1 if give_back else 0, 1 if unsure else 0, paced)) == 1


async def mark_failed(conn: asyncpg.Connection, attempt: Attempt, *, error: str) -> bool:
    return affected(await conn.execute(
        MARK_FAILED, attempt.id, attempt.owner, attempt.attempts, error)) == 1


async def mark_suppressed(conn: asyncpg.Connection, attempt: Attempt, *, reason: str) -> bool:
    return affected(await conn.execute(
        MARK_SUPPRESSED, attempt.id, attempt.owner, attempt.attempts, reason)) == 1


async def release_leases(conn: asyncpg.Connection, owner: str, *, now: datetime,
                         max_attempts: int, others_expired_only: bool = False) -> Released:
    """At start-up: `owner`'s leases and every expired one; while running: others' expired."""
    sql = RELEASE_OTHERS_EXPIRED if others_expired_only else RELEASE_AT_START
    rows = await conn.fetch(sql, now, owner, max_attempts)
    return Released(queued=sum(1 for r in rows if r["status"] == "queued"),
                    failed=sum(1 for r in rows if r["status"] == "failed"),
                    unsure=sum(1 for r in rows if r["unsure"]))


async def suppression_reason(conn: asyncpg.Connection, mail: ClaimedMail) -> str | None:
    """Why this mail must not be sent now, or None: the one send-time check.

    A recorded bounce of the address (a delivery report naming it failed,
    store/mail_inbound.py `bounced_addresses`) suppresses it, unless the
    address has written to us since. Bulk mail also goes only to a
    confirmed subscriber of the program its unsubscribe link names, never as
    a copy of a cancelled newsletter (store/address_consent.py, the e-mail
    consent ledger): one function, so the sender never mails an address some
    rule says not to.
    """
    bounce = await conn.fetchrow(LAST_BOUNCE, mail.to_address)
    if bounce is not None:
        when = bounce["received_at"].strftime("%Y-%m-%d %H:%M UTC")
        return (f"bounced: a delivery report received {when} (mail_inbound "
                f"{bounce['id']}) names this address as failed")
    return await address_consent.mail_suppression_reason(
        conn, mail.to_address, bulk=mail.bulk, unsubscribe_url=mail.unsubscribe_url,
        mail_id=mail.id)


async def count_queued(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval(COUNT_QUEUED))


# A lead's notice of a late question (notify/sla_breach.py) quotes the question and
# carries no question_id (a lead's reply must not thread onto it); its dedupe key names
# the question. When the question goes with its citizen's erasure, the quote goes too:
# the text is emptied and a notice still waiting is not sent. The row, its subject (a
# question number and a theme) and its Message-ID stay: the record that it was sent.
SLA_BREACH_KEY = "sla-breach:{question_id}:{lead}"


def sla_breach_key(question_id: int, lead: str) -> str:
    return SLA_BREACH_KEY.format(question_id=question_id, lead=lead)


_FORGET_NOTICES = """
UPDATE mail_outbox
SET text_body = '', html_body = NULL,
    suppressed_reason = CASE WHEN status = 'queued' THEN 'erased on request'
                             ELSE suppressed_reason END,
    status = CASE WHEN status = 'queued' THEN 'suppressed' ELSE status END
WHERE purpose = 'notification' AND dedupe_key LIKE 'sla-breach:%'
  AND split_part(dedupe_key, ':', 2) IN (SELECT id::text FROM questions WHERE {which})
"""
# The same questions store/questions.py deletes for a number and for an address.
FORGET_NOTICES_OF_NUMBER = _FORGET_NOTICES.format(which="msisdn = $1 AND email IS NULL")
FORGET_NOTICES_OF_ADDRESS = _FORGET_NOTICES.format(which="email = $1 AND msisdn IS NULL")


async def forget_notices_of_number(conn: asyncpg.Connection, msisdn: str) -> int:
    return affected(await conn.execute(FORGET_NOTICES_OF_NUMBER, msisdn))


async def forget_notices_of_address(conn: asyncpg.Connection, address: str) -> int:
    return affected(await conn.execute(FORGET_NOTICES_OF_ADDRESS, address))


# Before an address's questions are deleted (store/questions.py erase_address): the
# mail_outbox rows that point at them let go of the question.
FORGET_QUESTIONS_OF_ADDRESS = """
UPDATE mail_outbox SET question_id = NULL
WHERE question_id IN (SELECT id FROM questions WHERE email = $1 AND msisdn IS NULL)
"""


async def forget_questions_of_address(conn: asyncpg.Connection, address: str) -> int:
    return affected(await conn.execute(FORGET_QUESTIONS_OF_ADDRESS, address))
