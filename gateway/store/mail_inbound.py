"""Inbound e-mail and its attachments (migration 200). SQL only; the one writer of both tables.

Why one INSERT ... ON CONFLICT (dedupe_key): a sender that retries after a
lost 250, or an IMAP poll repeated after a crash, brings the same bytes
again; it finds the row already there and gets its id, so nothing is stored
twice and nothing is refused. The caller owns the transaction: the SMTP
listener commits before it answers 250, the IMAP poller commits the message
with its UID row (store/mail_imap.py).

Routing (migration 230, gateway/routing/worker.py) takes the oldest unrouted
message locked (`take_unrouted`) and records what it did with it
(`mark_routed`) in the transaction that acted on it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from gateway.store.db import affected, columns

INSERT_MAIL = """
INSERT INTO mail_inbound (
    intake, dedupe_key, envelope_from, envelope_to, peer, raw, size, message_id, in_reply_to,
    references_ids, subject, from_address, from_name, reply_to, to_addresses, cc_addresses,
    sent_at, content_type, headers, text_body, html_body, kind, signals, bounced_addresses,
    bounce_report, never_answer, defects)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
        $19::jsonb, $20, $21, $22, $23, $24, $25::jsonb, $26, $27)
ON CONFLICT (dedupe_key) DO NOTHING
RETURNING id
"""

FIND_BY_KEY = "SELECT id FROM mail_inbound WHERE dedupe_key = $1"

INSERT_ATTACHMENTS = """
INSERT INTO mail_attachments (mail_id, position, filename, content_type, disposition, content_id,
                              size, sha256, content, omitted)
SELECT $1::bigint, a.* FROM unnest($2::integer[], $3::text[], $4::text[], $5::text[], $6::text[],
                                  $7::bigint[], $8::bytea[], $9::bytea[], $10::boolean[]) AS a
"""

GET_MAIL = "SELECT * FROM mail_inbound WHERE id = $1"

LIST_ATTACHMENTS = """
SELECT position, filename, content_type, disposition, content_id, size, sha256, content, omitted
FROM mail_attachments WHERE mail_id = $1 ORDER BY position
"""

LIST_RECENT = """
SELECT id, received_at, intake, from_address, subject, kind, never_answer
FROM mail_inbound ORDER BY id DESC LIMIT $1
"""

COUNT_MAIL = "SELECT count(*) FROM mail_inbound"

# Routing (migration 230, gateway/routing/worker.py): the oldest message not routed yet,
# locked until the transaction that routes it ends; another router skips it.
TAKE_UNROUTED = """
SELECT id, received_at, envelope_to, message_id, in_reply_to, references_ids, subject,
       from_address, from_name, reply_to, to_addresses, cc_addresses, text_body, html_body,
       kind, never_answer
FROM mail_inbound WHERE routed_at IS NULL
ORDER BY id LIMIT 1
FOR UPDATE SKIP LOCKED
"""

MARK_ROUTED = """
UPDATE mail_inbound SET routed_at = $2, route = $3, route_reason = $4, question_id = $5
WHERE id = $1 AND routed_at IS NULL
"""

COUNT_UNROUTED = "SELECT count(*) FROM mail_inbound WHERE routed_at IS NULL"


@dataclass(frozen=True, slots=True)
class NewAttachment:
    position: int
    filename: str | None
    content_type: str
    disposition: str | None
    content_id: str | None
    size: int
    sha256: bytes
    content: bytes | None  # None: over the attachment limit (still in the raw message)
    omitted: bool


@dataclass(frozen=True, slots=True)
class NewInboundMail:
    intake: str  # 'smtp' or 'imap'
    dedupe_key: str
    envelope_from: str | None
    envelope_to: tuple[str, ...]
    peer: str | None
    raw: bytes
    message_id: str | None
    in_reply_to: str | None
    references: tuple[str, ...]
    subject: str | None
    from_address: str | None
    from_name: str | None
    reply_to: str | None
    to_addresses: tuple[str, ...]
    cc_addresses: tuple[str, ...]
    sent_at: datetime | None
    content_type: str
    headers: tuple[tuple[str, str], ...]
    text_body: str | None
    html_body: str | None
    kind: str
    signals: tuple[str, ...]
    bounced_addresses: tuple[str, ...]
    bounce_report: tuple[dict[str, str | None], ...]
    never_answer: str | None
    defects: tuple[str, ...]
    attachments: tuple[NewAttachment, ...]


async def insert(conn: asyncpg.Connection, mail: NewInboundMail) -> tuple[int, bool]:
    """Store the message and its attachments; (id, True), or (existing id, False) if known."""
    mail_id = await conn.fetchval(
        INSERT_MAIL, mail.intake, mail.dedupe_key, mail.envelope_from, list(mail.envelope_to),
        mail.peer, mail.raw, len(mail.raw), mail.message_id, mail.in_reply_to,
        list(mail.references), mail.subject, mail.from_address, mail.from_name, mail.reply_to,
        list(mail.to_addresses), list(mail.cc_addresses), mail.sent_at, mail.content_type,
        json.dumps([list(pair) for pair in mail.headers]), mail.text_body, mail.html_body,
        mail.kind, list(mail.signals), list(mail.bounced_addresses),
        json.dumps(list(mail.bounce_report)), mail.never_answer, list(mail.defects))
    if mail_id is None:
        existing = await conn.fetchval(FIND_BY_KEY, mail.dedupe_key)
        assert existing is not None  # the conflicting row is committed, or we would have waited
        return int(existing), False
    if mail.attachments:
        await conn.execute(INSERT_ATTACHMENTS, mail_id, *columns(
            mail.attachments, "position", "filename", "content_type", "disposition",
            "content_id", "size", "sha256", "content", "omitted"))
    return int(mail_id), True


async def get_mail(conn: asyncpg.Connection, mail_id: int) -> asyncpg.Record | None:
    return await conn.fetchrow(GET_MAIL, mail_id)


async def list_attachments(conn: asyncpg.Connection, mail_id: int) -> list[asyncpg.Record]:
    return list(await conn.fetch(LIST_ATTACHMENTS, mail_id))


async def list_recent(conn: asyncpg.Connection, limit: int = 50) -> list[asyncpg.Record]:
    return list(await conn.fetch(LIST_RECENT, limit))


async def count_mail(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval(COUNT_MAIL))


# -- erasure (store/privacy.py runs these in its one transaction) ------------------------
# $1 the erased address (normalized: lower case), $2 its pseudonym, $3 the address as a
# case-insensitive regular expression (Python's re.escape: a backslash before every
# non-alphanumeric character, which PostgreSQL's regular expressions read literally).

# The person's own messages (From, Reply-To or envelope sender) and the bounces naming
# the address: everything personal goes; what stays is that a message came, when, its
# kind and size, its Message-ID (threading) and the address as a pseudonym.
_OWN = """(lower(from_address) = $1 OR lower(reply_to) = $1 OR lower(envelope_from) = $1
           OR $1 = ANY(bounced_addresses))"""

DELETE_ATTACHMENTS_OF = f"""
DELETE FROM mail_attachments WHERE mail_id IN (SELECT id FROM mail_inbound WHERE {_OWN})
"""

ERASE_OWN = f"""
UPDATE mail_inbound
SET raw = ''::bytea, subject = NULL, text_body = NULL, html_body = NULL, headers = '[]',
    from_name = NULL, to_addresses = '{{}}', cc_addresses = '{{}}', bounce_report = '[]',
    peer = NULL,
    from_address = CASE WHEN lower(from_address) = $1 THEN $2 ELSE from_address END,
    reply_to = CASE WHEN lower(reply_to) = $1 THEN $2 ELSE reply_to END,
    envelope_from = CASE WHEN lower(envelope_from) = $1 THEN $2 ELSE envelope_from END,
    bounced_addresses = array_replace(bounced_addresses, $1, $2)
WHERE {_OWN}
"""

# Someone else's message naming the address (in To or Cc, a header, the text): the
# address is replaced by the pseudonym wherever it is written out; the message stays.
_RENAMED = "regexp_replace({0}, $3, $2, 'gi')"
PSEUDONYMIZE_MENTIONS = f"""
UPDATE mail_inbound
SET to_addresses = (SELECT coalesce(array_agg(CASE WHEN lower(a) = $1 THEN $2 ELSE a END
                                              ORDER BY n), '{{}}')
                    FROM unnest(to_addresses) WITH ORDINALITY AS u(a, n)),
    cc_addresses = (SELECT coalesce(array_agg(CASE WHEN lower(a) = $1 THEN $2 ELSE a END
                                              ORDER BY n), '{{}}')
                    FROM unnest(cc_addresses) WITH ORDINALITY AS u(a, n)),
    subject = {_RENAMED.format("subject")},
    text_body = {_RENAMED.format("text_body")},
    html_body = {_RENAMED.format("html_body")},
    headers = {_RENAMED.format("headers::text")}::jsonb,
    raw = decode({_RENAMED.format("encode(raw, 'escape')")}, 'escape')
WHERE position($1 IN lower(concat_ws(' ', subject, text_body, html_body, headers::text,
                                      array_to_string(to_addresses || cc_addresses, ' ')))) > 0
"""


async def delete_attachments_of(conn: asyncpg.Connection, address: str) -> int:
    """The attachments of the address's own messages and of bounces naming it."""
    return affected(await conn.execute(DELETE_ATTACHMENTS_OF, address))


async def erase_own(conn: asyncpg.Connection, address: str, pseudonym: str) -> int:
    return affected(await conn.execute(ERASE_OWN, address, pseudonym))


async def pseudonymize_mentions(conn: asyncpg.Connection, address: str, pseudonym: str) -> int:
    return affected(await conn.execute(PSEUDONYMIZE_MENTIONS, address, pseudonym,
                                       re.escape(address)))
async def take_unrouted(conn: asyncpg.Connection) -> asyncpg.Record | None:
    """In the caller's transaction: the oldest unrouted message, locked (None: none free)."""
    return await conn.fetchrow(TAKE_UNROUTED)


async def mark_routed(conn: asyncpg.Connection, mail_id: int, *, route: str,
                      reason: str | None, question_id: int | None, now: datetime) -> bool:
    """What routing did with the message; False when it was already routed."""
    return affected(await conn.execute(MARK_ROUTED, mail_id, now, route, reason,
                                       question_id)) == 1


async def count_unrouted(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval(COUNT_UNROUTED))


# Before an address's questions are deleted (store/questions.py erase_address): the
# mail_inbound rows that point at them let go of the question.
FORGET_QUESTIONS_OF_ADDRESS = """
UPDATE mail_inbound SET question_id = NULL
WHERE question_id IN (SELECT id FROM questions WHERE email = $1 AND msisdn IS NULL)
"""


async def forget_questions_of_address(conn: asyncpg.Connection, address: str) -> int:
    return affected(await conn.execute(FORGET_QUESTIONS_OF_ADDRESS, address))
