"""MIME in, plain fields out: the standard library's `email` package does all the decoding.

Why `BytesParser(policy=email.policy.default)`: it decodes RFC 2047 headers
(`=?utf-8?q?…?=`), RFC 2231 file names, charsets, quoted-printable and
base64 as the RFCs say, and it records what it has to repair as `defects`
instead of raising. Nothing here decodes MIME by hand.

Why `parse_mail` never raises: the raw bytes are stored whatever happens
here (gateway/mail/record.py), so a message the parser chokes on is still
accepted and kept; the problem becomes a defect on its record. A refused
message would bounce back to a citizen for no fault of theirs, or worse,
bounce to the mail provider that forwarded it. The few places where the
library is known to raise on hostile input (header value parsing, unknown
charsets, re-serializing a nested message) each fall back to something
plainer and say so in `defects`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.policy import default
from typing import Any

from gateway.mail.dsn import BouncedRecipient, delivery_report
from gateway.mail.text import storable, storable_or_none

POLICY = default
# Serializing a nested message (an attached e-mail) keeps its header lines as
# they came instead of refolding them: byte-faithful, and clear of the folding
# code's rarer corners.
SOURCE_POLICY = default.clone(refold_source="none")
MSG_ID = re.compile(r"<[^<>\s]+>")
MAX_ATTACHMENTS = 200  # parts past this stay in the raw message only (and a defect says so)


@dataclass(frozen=True, slots=True)
class Attachment:
    position: int
    filename: str | None
    content_type: str
    disposition: str | None
    content_id: str | None
    content: bytes  # decoded (base64 / quoted-printable undone)


@dataclass(frozen=True, slots=True)
class ParsedMail:
    content_type: str
    report_type: str | None  # multipart/report's report-type parameter
    headers: tuple[tuple[str, str], ...]  # every header in order, decoded
    subject: str | None
    from_address: str | None
    from_name: str | None
    reply_to: str | None
    to_addresses: tuple[str, ...]
    cc_addresses: tuple[str, ...]
    sent_at: datetime | None
    message_id: str | None
    in_reply_to: str | None
    references: tuple[str, ...]
    text_body: str | None
    html_body: str | None
    attachments: tuple[Attachment, ...]
    bounces: tuple[BouncedRecipient, ...]
    defects: tuple[str, ...]

    def header(self, name: str) -> str | None:
        """The first header of that name (any case), decoded; None when absent."""
        wanted = name.lower()
        return next((value for key, value in self.headers if key.lower() == wanted), None)

    def has_header(self, name: str) -> bool:
        return self.header(name) is not None


def parse_mail(raw: bytes) -> ParsedMail:
    """Decode `raw`; never raises (see the module docstring)."""
    defects: list[str] = []
    try:
        msg = BytesParser(policy=POLICY).parsebytes(raw)
    except Exception as err:  # documented not to happen; the raw bytes are stored anyway
        return _unparsed(f"message not parsed: {type(err).__name__}: {err}")
    assert isinstance(msg, EmailMessage)
    headers = _headers(msg, defects)
    text_part = _body_part(msg, "plain", defects)
    html_part = _body_part(msg, "html", defects)
    from_address, from_name = _first_address(msg, "From", defects)
    reply_to, _ = _first_address(msg, "Reply-To", defects)
    in_reply_to = MSG_ID.findall(_raw_header(msg, "In-Reply-To") or "")
    bodies = {id(part) for part in (text_part, html_part) if part is not None}
    attachments = _safe(lambda: _attachments(msg, bodies, defects), (), defects)
    defects.extend(_safe(lambda: _parser_defects(msg), [], defects))
    return ParsedMail(
        content_type=_safe(lambda: msg.get_content_type(), "text/plain", defects),
        report_type=_safe(lambda: _param(msg, "report-type"), None, defects),
        headers=headers,
        subject=storable_or_none(_header_text(msg, "Subject", defects)),
        from_address=from_address,
        from_name=from_name,
        reply_to=reply_to,
        to_addresses=_addresses(msg, "To", defects),
        cc_addresses=_addresses(msg, "Cc", defects),
        sent_at=_date(msg, defects),
        message_id=_first_id(_raw_header(msg, "Message-ID")),
        in_reply_to=storable(in_reply_to[0]) if in_reply_to else None,
        references=tuple(storable(ref) for ref in MSG_ID.findall(
            _raw_header(msg, "References") or "")),
        text_body=_text(text_part, defects),
        html_body=_text(html_part, defects),
        attachments=attachments,
        bounces=_safe(lambda: delivery_report(msg), (), defects),
        defects=tuple(storable(d) for d in dict.fromkeys(defects)),
    )


def _unparsed(defect: str) -> ParsedMail:
    return ParsedMail("text/plain", None, (), None, None, None, None, (), (), None, None, None,
                      (), None, None, (), (), (storable(defect),))


def _safe(get: Any, fallback: Any, defects: list[str]) -> Any:
    try:
        return get()
    except Exception as err:
        defects.append(f"{type(err).__name__}: {err}")
        return fallback


def _param(msg: Message, name: str) -> str | None:
    value = msg.get_param(name)
    return storable(value).lower() if isinstance(value, str) else None


def _headers(msg: EmailMessage, defects: list[str]) -> tuple[tuple[str, str], ...]:
    return tuple((storable(name), storable(_decoded(name, value, defects)))
                 for name, value in msg.raw_items())


def _decoded(name: str, value: str, defects: list[str]) -> str:
    """One header's value with RFC 2047 words decoded; the raw text if the parser fails."""
    try:
        return str(POLICY.header_fetch_parse(name, value))
    except Exception as err:
        defects.append(f"header {name!r} not decoded: {type(err).__name__}")
        return value


def _parsed_header(msg: EmailMessage, name: str, defects: list[str]) -> Any:
    try:
        return msg.get(name)
    except Exception as err:
        defects.append(f"header {name!r} not parsed: {type(err).__name__}")
        return None


def _header_text(msg: EmailMessage, name: str, defects: list[str]) -> str | None:
    value = _parsed_header(msg, name, defects)
    if value is None:
        raw = _raw_header(msg, name)
        return raw
    return str(value)


def _raw_header(msg: EmailMessage, name: str) -> str | None:
    wanted = name.lower()
    return next((value for key, value in msg.raw_items() if key.lower() == wanted), None)


def _first_id(value: str | None) -> str | None:
    if value is None:
        return None
    found = MSG_ID.search(value)
    text = found.group(0) if found else value.strip()
    return storable(text) if text else None


def _address_list(msg: EmailMessage, name: str, defects: list[str]) -> list[tuple[str, str]]:
    header = _parsed_header(msg, name, defects)
    found: list[tuple[str, str]] = []
    try:
        for address in getattr(header, "addresses", ()):
            spec = storable(address.addr_spec)
            if "@" in spec and not spec.startswith("<"):
                found.append((spec, storable(address.display_name)))
    except Exception as err:
        defects.append(f"header {name!r} addresses not read: {type(err).__name__}")
    return found


def _first_address(msg: EmailMessage, name: str,
                   defects: list[str]) -> tuple[str | None, str | None]:
    found = _address_list(msg, name, defects)
    if not found:
        return None, None
    address, display = found[0]
    return address, display or None


def _addresses(msg: EmailMessage, name: str, defects: list[str]) -> tuple[str, ...]:
    return tuple(address for address, _ in _address_list(msg, name, defects))


def _date(msg: EmailMessage, defects: list[str]) -> datetime | None:
    header = _parsed_header(msg, "Date", defects)
    value = getattr(header, "datetime", None)
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _body_part(msg: EmailMessage, subtype: str, defects: list[str]) -> EmailMessage | None:
    try:
        part = msg.get_body(preferencelist=(subtype,))
    except Exception as err:
        defects.append(f"{subtype} body not found: {type(err).__name__}")
        return None
    if not isinstance(part, EmailMessage) or part.get_content_type() != f"text/{subtype}":
        return None
    return part


def _text(part: EmailMessage | None, defects: list[str]) -> str | None:
    """A text part decoded with its charset; an unknown charset read as UTF-8 (and noted)."""
    if part is None:
        return None
    try:
        content = part.get_content()
        if isinstance(content, str):
            return storable(content)
    except Exception as err:
        defects.append(f"text part charset {part.get_content_charset()!r} not decoded: "
                       f"{type(err).__name__}; read as UTF-8")
    payload = part.get_payload(decode=True)
    return storable(payload.decode("utf-8", "replace")) if isinstance(payload, bytes) else None


def _attachments(msg: EmailMessage, bodies: set[int],
                 defects: list[str]) -> tuple[Attachment, ...]:
    found: list[Attachment] = []
    for part in _leaves(msg):
        if id(part) in bodies:
            continue
        if len(found) == MAX_ATTACHMENTS:
            defects.append(f"more than {MAX_ATTACHMENTS} parts: the rest are in the raw message")
            break
        found.append(Attachment(
            position=len(found),
            filename=storable_or_none(_safe(part.get_filename, None, defects)),
            content_type=storable(_safe(part.get_content_type, "application/octet-stream",
                                        defects)),
            disposition=storable_or_none(_safe(part.get_content_disposition, None, defects)),
            content_id=_first_id(_raw_header(part, "Content-ID")),
            content=_content(part, defects)))
    return tuple(found)


def _leaves(part: EmailMessage) -> list[EmailMessage]:
    """The non-multipart parts in order; an attached message is one leaf, not opened."""
    if part.is_multipart() and part.get_content_maintype() == "multipart":
        leaves: list[EmailMessage] = []
        for sub in part.iter_parts():
            assert isinstance(sub, EmailMessage)
            leaves.extend(_leaves(sub))
        return leaves
    return [part]


def _content(part: EmailMessage, defects: list[str]) -> bytes:
    """The part's bytes: transfer encoding undone; an attached message as it came."""
    try:
        payload = part.get_payload()
        if isinstance(payload, list):  # message/rfc822, message/delivery-status
            return b"\n".join(sub.as_bytes(policy=SOURCE_POLICY) for sub in payload
                               if isinstance(sub, Message))
        decoded = part.get_payload(decode=True)
        return decoded if isinstance(decoded, bytes) else b""
    except Exception as err:
        defects.append(f"part {part.get_content_type()} not decoded: {type(err).__name__}")
        return b""


def _parser_defects(msg: EmailMessage) -> list[str]:
    names: list[str] = []
    for part in msg.walk():
        names.extend(type(defect).__name__ for defect in part.defects)
    return names
