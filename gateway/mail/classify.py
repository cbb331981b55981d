"""What kind of mail this is: a person writing, an auto-reply, list traffic, or a bounce.

Why it matters: answering an automatic message starts a mail loop (two
auto-responders answering each other for ever) or writes to a list of
thousands; answering a bounce writes to a mailer daemon. Every such message
is still recorded, and flagged so nothing ever answers it (answer_policy.py).

The signals, strongest first (RFC 3834 for auto-replies, RFC 2369/2919 for
lists, RFC 3464 for delivery reports):
- bounce: a `multipart/report; report-type=delivery-status`;
- auto-reply: `Auto-Submitted` other than `no`, `X-Autoreply`,
  `X-Autorespond`, or a read receipt (`report-type=disposition-notification`);
- bounce again: the null sender `<>` without those (an old-style bounce in
  prose; RFC 3834 auto-replies also use the null sender, hence the order);
- list: `List-Id`, `List-Unsubscribe`, `List-Post`;
- auto-reply again: `Precedence: bulk`, `junk` or `list`.
Every signal found is kept, not only the deciding one, for a person to check.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from gateway.mail.parse import ParsedMail

MailKind = Literal["normal", "auto_reply", "list", "bounce"]
LIST_HEADERS = ("List-Id", "List-Unsubscribe", "List-Post")
AUTO_REPLY_HEADERS = ("X-Autoreply", "X-Autorespond")
BULK_PRECEDENCE = frozenset({"bulk", "junk", "list"})


@dataclass(frozen=True, slots=True)
class Classification:
    kind: MailKind
    signals: tuple[str, ...]


def is_null_sender(envelope_from: str | None) -> bool:
    return envelope_from is not None and envelope_from.strip() in ("", "<>")


def classify(mail: ParsedMail, *, envelope_from: str | None) -> Classification:
    """`envelope_from`: SMTP MAIL FROM ('' or '<>' for the null sender); None when unknown
    (IMAP), where the Return-Path header the delivering server added stands in for it."""
    sender = envelope_from if envelope_from is not None else mail.header("Return-Path")
    report = mail.report_type if mail.content_type == "multipart/report" else None
    signals: dict[str, MailKind] = {}
    if report == "delivery-status":
        signals["report-type: delivery-status"] = "bounce"
    auto_submitted = (mail.header("Auto-Submitted") or "").split(";")[0].strip().lower()
    if auto_submitted and auto_submitted != "no":
        signals[f"auto-submitted: {auto_submitted}"] = "auto_reply"
    for name in AUTO_REPLY_HEADERS:
        if mail.has_header(name):
            signals[name.lower()] = "auto_reply"
    if report == "disposition-notification":
        signals["report-type: disposition-notification"] = "auto_reply"
    if is_null_sender(sender):
        signals["null sender"] = "bounce"
    for name in LIST_HEADERS:
        if mail.has_header(name):
            signals[name.lower()] = "list"
    precedence = (mail.header("Precedence") or "").strip().lower()
    if precedence in BULK_PRECEDENCE:
        signals[f"precedence: {precedence}"] = "auto_reply"
    return Classification(_deciding(signals), tuple(signals))


def _deciding(signals: dict[str, MailKind]) -> MailKind:
    kinds = list(signals.values())
    if "report-type: delivery-status" in signals:
        return "bounce"
    explicit_auto = [name for name, kind in signals.items()
                     if kind == "auto_reply" and not name.startswith("precedence")]
    if explicit_auto:
        return "auto_reply"
    if "null sender" in signals:
        return "bounce"
    if "list" in kinds:
        return "list"
    if "auto_reply" in kinds:
        return "auto_reply"
    return "normal"
