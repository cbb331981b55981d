"""The contact centre's e-mails, composed from keywords.yaml and queued in the caller's
transaction (store/mail_outbox.py); the mail sender sends them later.

Why the threading headers are made here, once: the acknowledgement, the
standard answer and an expert's answer all answer a citizen's message, so
each carries `In-Reply-To` (their Message-ID) and `References` (their
references and their Message-ID, the latest 20), and the citizen's mail
program shows one conversation. A reply to any of them names our
Message-ID, which routing/threads.py follows back to the question.

The dedupe key names the decision (`route:email:<mail id>:acknowledgement`,
`answer:<question>:<round>`...), so a decision made twice queues one mail.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import asyncpg

from gateway.config import Settings
from gateway.engine import Rules
from gateway.engine.mail_texts import MailKind, compile_mail, render
from gateway.engine.model import Language
from gateway.engine.written import program_values
from gateway.outgoing_mail import MailPurpose, OutgoingMail, domain_of, new_message_id
from gateway.store import mail_outbox
from gateway.store.mail_outbox import QueuedMail

MAX_REFERENCES: Final = 20
PURPOSES: Final[dict[MailKind, MailPurpose]] = {
    "acknowledgement": "acknowledgement", "knowledge": "knowledge_answer", "answer": "answer"}


@dataclass(frozen=True, slots=True)
class Sender:
    """Who the campaign's mail comes from (settings.mail_sender())."""

    address: str
    name: str | None = None

    @classmethod
    def of(cls, settings: Settings) -> Sender | None:
        address = settings.mail_sender()
        return None if address is None else cls(address, settings.mail_from_name or None)


@dataclass(frozen=True, slots=True)
class Recipient:
    """The citizen's side of the conversation."""

    address: str  # normalized (gateway/email_address.py)
    name: str | None
    message_id: str | None  # their message we answer (None: a form post)
    references: tuple[str, ...] = ()
    reply_to: str | None = None  # our contact address they wrote to, when not the sender


def threading(recipient: Recipient) -> tuple[str | None, tuple[str, ...]]:
    """(In-Reply-To, References) of a mail answering the recipient's message."""
    if recipient.message_id is None:
        return None, recipient.references[-MAX_REFERENCES:]
    chain = tuple(dict.fromkeys((*recipient.references, recipient.message_id)))
    return recipient.message_id, chain[-MAX_REFERENCES:]


async def queue(conn: asyncpg.Connection, rules: Rules, sender: Sender, recipient: Recipient,
                *, program: str, language: Language, kind: MailKind,
                values: Mapping[str, object], dedupe_key: str,
                question_id: int | None = None) -> QueuedMail:
    """Render the program's `kind` texts in `language` and queue the mail."""
    themes = rules.themes.get(program)
    texts = themes.mail if themes is not None else compile_mail({})  # the defaults
    subject, body = render(texts, language, kind, {
        **program_values(rules.programs[program]), **values})
    in_reply_to, references = threading(recipient)
    reply_to = recipient.reply_to if recipient.reply_to != sender.address else None
    mail = OutgoingMail(
        purpose=PURPOSES[kind], from_address=sender.address, from_name=sender.name,
        to_address=recipient.address, to_name=recipient.name, reply_to=reply_to,
        subject=subject, text_body=body, in_reply_to=in_reply_to, references=references,
        question_id=question_id, dedupe_key=dedupe_key)
    return await mail_outbox.enqueue(conn, mail,
                                     message_id=new_message_id(domain_of(sender.address)))

