"""Raw bytes in, the row to store out: parse, classify, decide answerability. No I/O.

Why one builder for both ways in: a message forwarded to the SMTP listener
and the same message polled over IMAP must be recorded alike, so the routing
step reads one shape whatever the intake. It is pure and CPU-bound (a 25 MB
message takes a while to decode), so the callers run it in a thread.

The dedupe key (see migration 200) is a SHA-256 over what identifies one
delivery: for SMTP the envelope and the bytes (a retry after a lost 250
repeats both), for IMAP the mailbox and the bytes (a re-poll after a crash,
or after the folder's UIDVALIDITY changed, repeats both).
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Sequence
from dataclasses import replace
from typing import Literal

from gateway.mail.answer_policy import answerable
from gateway.mail.classify import classify, is_null_sender
from gateway.mail.parse import Attachment, ParsedMail, parse_mail
from gateway.mail.text import storable, storable_or_none
from gateway.store.mail_inbound import NewAttachment, NewInboundMail

Intake = Literal["smtp", "imap"]


def smtp_dedupe_key(envelope_from: str, envelope_to: Sequence[str], raw: bytes) -> str:
    digest = hashlib.sha256()
    for part in (envelope_from, *sorted(address.lower() for address in envelope_to)):
        digest.update(part.encode("utf-8", "surrogateescape") + b"\0")
    digest.update(raw)
    return f"smtp:{digest.hexdigest()}"


def imap_dedupe_key(mailbox: str, raw: bytes) -> str:
    digest = hashlib.sha256(mailbox.encode("utf-8", "surrogateescape") + b"\0")
    digest.update(raw)
    return f"imap:{digest.hexdigest()}"


def build_record(raw: bytes, *, intake: Intake, dedupe_key: str, envelope_from: str | None,
                 envelope_to: Sequence[str] = (), peer: str | None = None,
                 max_attachment_bytes: int, own_addresses: Collection[str] = ()
                 ) -> NewInboundMail:
    """`envelope_from`: SMTP MAIL FROM ('' or '<>' the null sender), None over IMAP."""
    mail = parse_mail(raw)
    classification = classify(mail, envelope_from=envelope_from)
    sender = None if envelope_from is None else (
        "" if is_null_sender(envelope_from) else storable(envelope_from))
    record = NewInboundMail(
        intake=intake, dedupe_key=dedupe_key, envelope_from=sender,
        envelope_to=tuple(storable(address) for address in envelope_to),
        peer=storable_or_none(peer), raw=raw,
        message_id=mail.message_id, in_reply_to=mail.in_reply_to, references=mail.references,
        subject=mail.subject, from_address=mail.from_address, from_name=mail.from_name,
        reply_to=mail.reply_to, to_addresses=mail.to_addresses, cc_addresses=mail.cc_addresses,
        sent_at=mail.sent_at, content_type=mail.content_type, headers=mail.headers,
        text_body=mail.text_body, html_body=mail.html_body,
        kind=classification.kind, signals=classification.signals,
        bounced_addresses=_bounced(mail), bounce_report=_report(mail),
        never_answer=None, defects=mail.defects,
        attachments=tuple(_attachment(part, max_attachment_bytes) for part in mail.attachments))
    verdict = answerable(record, own_addresses)
    return record if verdict is True else replace(record, never_answer=verdict)


def _bounced(mail: ParsedMail) -> tuple[str, ...]:
    return tuple(dict.fromkeys(b.address for b in mail.bounces if b.failed))


def _report(mail: ParsedMail) -> tuple[dict[str, str | None], ...]:
    return tuple({"address": b.address, "final_recipient": b.final_recipient,
                  "action": b.action, "status": b.status, "diagnostic": b.diagnostic}
                 for b in mail.bounces)


def _attachment(part: Attachment, limit: int) -> NewAttachment:
    size = len(part.content)
    kept = size <= limit
    return NewAttachment(
        position=part.position, filename=part.filename, content_type=part.content_type,
        disposition=part.disposition, content_id=part.content_id, size=size,
        sha256=hashlib.sha256(part.content).digest(),
        content=part.content if kept else None, omitted=not kept)
