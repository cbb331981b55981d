"""An e-mail the gateway has decided to send, before it is queued.

Why a value of its own: the acknowledgement, the expert's answer, the
double opt-in confirmation and the newsletter are decided in different
places, but they all become one `mail_outbox` row (store/mail_outbox.py)
and go out through one sender. This is the shape they agree on.

The Message-ID is made when the mail is queued (`new_message_id`), not
when it is sent: a citizen's reply names it to thread onto the question,
and a resend after a crash carries the same id so the receiving side can
recognise a duplicate.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.utils import make_msgid
from typing import Literal

MailPurpose = Literal["acknowledgement", "answer", "knowledge_answer", "confirmation",
                      "newsletter", "notification"]


def new_message_id(domain: str) -> str:
    """A fresh RFC 5322 msg-id with angle brackets, on the campaign's sending domain."""
    return make_msgid(domain=domain)


def domain_of(address: str) -> str:
    """The part after the last '@' (lower case): the domain a Message-ID is made on."""
    return address.rpartition("@")[2].lower()


@dataclass(frozen=True, slots=True)
class OutgoingMail:
    """What to send. `bulk` mail must carry `unsubscribe_url` (RFC 8058 one-click)."""

    purpose: MailPurpose
    from_address: str
    to_address: str
    subject: str
    text_body: str
    from_name: str | None = None
    to_name: str | None = None
    reply_to: str | None = None
    html_body: str | None = None
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    bulk: bool = False
    unsubscribe_url: str | None = None
    question_id: int | None = None
    dedupe_key: str | None = None
    not_before: datetime | None = None

    def __post_init__(self) -> None:
        if self.bulk and not self.unsubscribe_url:
            raise ValueError("bulk mail needs an unsubscribe_url (RFC 8058 one-click)")
        for name in ("from_address", "to_address"):
            if "@" not in getattr(self, name):
                raise ValueError(f"{name} is not an e-mail address: {getattr(self, name)!r}")
