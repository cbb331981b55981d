"""An outbox row in, the bytes an SMTP server takes out: the standard library builds them.

Why `email.message.EmailMessage` with `email.policy.SMTP`: it writes CRLF
lines folded under 78 columns, quotes display names that need it, and
chooses nothing by hand. The parts are quoted-printable UTF-8, so the message
is 7-bit clean for any server (no 8BITMIME or SMTPUTF8 needed) and a line
may be any length.

A subject or display name with non-ASCII letters travels as RFC 2047 words
(`=?utf-8?b?...?=`) made by the standard library's `email.header.Header`,
not by the policy: the policy's folder, when it starts a new encoded word
just after a space, puts that space between the two words, where RFC 2047
says a reader must drop it ("Élodie santé" arrives as "Élodiesanté"; about
one long French name in twenty). `Header` keeps every space inside a word.
tests/test_mail_compose.py shows both.

What every message carries: From (the row's name, else GATEWAY_MAIL_FROM_NAME),
To, Subject, Date, the row's Message-ID (made when it was queued, so a resend
carries the same one), In-Reply-To and References for an answer, Reply-To when
the row has one, a text/plain part always and a text/html alternative when
the row has HTML. Mail no person wrote says so (RFC 3834 `Auto-Submitted`),
so auto-responders do not answer it; bulk mail carries RFC 8058 one-click
unsubscribe headers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from email.header import Header
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

from gateway.mail.parse import MSG_ID
from gateway.store.mail_outbox import ClaimedMail

POLICY = SMTP
# RFC 3834: an acknowledgement and a knowledge-base answer answer a message
# automatically; a confirmation link and a notification are sent by a process.
# An expert's answer is a person's; a newsletter is bulk mail (List-Unsubscribe).
AUTO_SUBMITTED = {
    "acknowledgement": "auto-replied",
    "knowledge_answer": "auto-replied",
    "confirmation": "auto-generated",
    "notification": "auto-generated",
}
ONE_CLICK = "List-Unsubscribe=One-Click"  # RFC 8058's only value
MAX_REFERENCES = 20  # the first and the latest ids are kept (RFC 5322 3.6.4 allows trimming)
# Line breaks, tabs and other control characters: none may stand in a header.
_HEADER_SPACE = re.compile(r"[\s\x00-\x1f\x7f]+")


def header_text(text: str) -> str:
    """One header line: every run of white space or control characters becomes one space."""
    return _HEADER_SPACE.sub(" ", text).strip()


def body_text(text: str) -> str:
    """The text part as it will read back: CRLF and lone CR as LF, NUL dropped, LF last."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    return text if text.endswith("\n") else text + "\n"


def references_chain(ids: Sequence[str]) -> list[str]:
    """The well-formed message ids, at most MAX_REFERENCES: the first and the latest."""
    found = [i for i in ids if MSG_ID.fullmatch(i)]
    if len(found) > MAX_REFERENCES:
        found = [found[0], *found[-(MAX_REFERENCES - 1):]]
    return found


def mailbox(address: str, name: str | None) -> Address:
    """`Name <address>` (quoting by the policy), or the bare address."""
    username, _, domain = address.rpartition("@")
    return Address(display_name=header_text(name or ""), username=username, domain=domain)


def set_text_header(message: EmailMessage, name: str, text: str,
                    address: str | None = None) -> None:
    """Set a Subject (`text`) or an address header (`text` the display name, and `address`).

    ASCII goes through the policy; anything else as RFC 2047 words by
    `Header`, folded under 78 columns, stored as it will be sent (`set_raw`).
    """
    text = header_text(text)
    if text.isascii():
        message[name] = text if address is None else mailbox(address, text)
        return
    encoded = Header(header_name=name, charset="utf-8")
    encoded.append(text, "utf-8")
    if address is not None:
        encoded.append(f"<{address}>", "us-ascii")
    message.set_raw(name, encoded.encode(linesep=POLICY.linesep))


def new_message(*, from_address: str, from_name: str | None, to_address: str,
                to_name: str | None, subject: str, text_body: str, message_id: str,
                date: datetime, html_body: str | None = None, reply_to: str | None = None,
                in_reply_to: str | None = None,
                references: Sequence[str] = ()) -> EmailMessage:
    """A message with the headers every e-mail of ours has (and the demo mailbox's too)."""
    message = EmailMessage(policy=POLICY)
    set_text_header(message, "From", from_name or "", from_address)
    set_text_header(message, "To", to_name or "", to_address)
    set_text_header(message, "Subject", subject)
    message["Date"] = format_datetime(date)
    message["Message-ID"] = message_id
    if reply_to:
        message["Reply-To"] = mailbox(reply_to, None)
    if in_reply_to and MSG_ID.fullmatch(in_reply_to):
        message["In-Reply-To"] = in_reply_to
    chain = references_chain(references)
    if chain:
        message["References"] = " ".join(chain)
    message.set_content(body_text(text_body), cte="quoted-printable")
    if html_body:
        message.add_alternative(html_body, subtype="html", cte="quoted-printable")
    return message


def compose(mail: ClaimedMail, *, date: datetime, default_from_name: str) -> EmailMessage:
    """The message for an outbox row, dated `date` (the send attempt's time)."""
    message = new_message(
        from_address=mail.from_address, from_name=mail.from_name or default_from_name,
        to_address=mail.to_address, to_name=mail.to_name, subject=mail.subject,
        text_body=mail.text_body, html_body=mail.html_body, message_id=mail.message_id,
        date=date, reply_to=mail.reply_to, in_reply_to=mail.in_reply_to,
        references=mail.references)
    auto = AUTO_SUBMITTED.get(mail.purpose)
    if auto is not None:
        message["Auto-Submitted"] = auto
        # Exchange's own way to say "no out-of-office replies to this, please"
        message["X-Auto-Response-Suppress"] = "All"
    if mail.bulk:
        assert mail.unsubscribe_url, "the table refuses bulk mail without one"
        message["List-Unsubscribe"] = f"<{mail.unsubscribe_url}>"
        message["List-Unsubscribe-Post"] = ONE_CLICK
    return message


def message_bytes(message: EmailMessage) -> bytes:
    """What DATA carries: CRLF lines, 7-bit."""
    return message.as_bytes(policy=POLICY)
