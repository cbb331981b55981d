"""Delivery status notifications (RFC 3464): which of our recipients bounced, and how.

Why read the report rather than the bounce's prose: a `multipart/report;
report-type=delivery-status` carries one machine-readable block per
recipient (`Final-Recipient`, `Action`, `Status`), whatever language the
human part is in. The `email` package already splits a
`message/delivery-status` part into those blocks; this module only reads
their fields. A bounce in prose without a report is still a bounce
(classify.py, by its null sender) but names no address.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import Message

from gateway.mail.text import storable

MAX_RECIPIENTS = 100


@dataclass(frozen=True, slots=True)
class BouncedRecipient:
    address: str  # Original-Recipient when given (the address we wrote to), else Final-Recipient
    final_recipient: str
    action: str  # failed, delayed, delivered, relayed, expanded
    status: str | None  # e.g. 5.1.1
    diagnostic: str | None

    @property
    def failed(self) -> bool:
        return self.action == "failed"


def delivery_report(msg: Message) -> tuple[BouncedRecipient, ...]:
    """The recipient blocks of the message's delivery-status report, if it has one."""
    found: list[BouncedRecipient] = []
    for part in _report_parts(msg):
        blocks = part.get_payload()
        if not isinstance(blocks, list):
            continue
        for block in blocks:
            recipient = _recipient(block) if isinstance(block, Message) else None
            if recipient is not None and len(found) < MAX_RECIPIENTS:
                found.append(recipient)
    return tuple(found)


def _report_parts(part: Message) -> list[Message]:
    """message/delivery-status parts, not looking inside attached messages."""
    if part.get_content_type() == "message/delivery-status":
        return [part]
    if part.get_content_maintype() != "multipart" or not part.is_multipart():
        return []
    found: list[Message] = []
    payload = part.get_payload()
    assert isinstance(payload, list)
    for sub in payload:
        if isinstance(sub, Message):
            found.extend(_report_parts(sub))
    return found


def _recipient(block: Message) -> BouncedRecipient | None:
    final = _address(block.get("Final-Recipient"))
    if final is None:
        return None
    original = _address(block.get("Original-Recipient"))
    action = str(block.get("Action") or "").strip().lower()
    status = str(block.get("Status") or "").strip() or None
    diagnostic = str(block.get("Diagnostic-Code") or "").strip() or None
    return BouncedRecipient(
        address=original or final, final_recipient=final, action=storable(action),
        status=storable(status) if status else None,
        diagnostic=storable(diagnostic)[:500] if diagnostic else None)


def _address(field: object) -> str | None:
    """'rfc822; Someone@Example.org' -> 'someone@example.org'."""
    if field is None:
        return None
    _, _, value = str(field).rpartition(";")
    value = value.strip().strip("<>").strip()
    return storable(value).lower() if "@" in value else None
