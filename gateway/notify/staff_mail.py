"""How a notice to staff is rendered and queued: one sender, one link rule, one outbox.

Why queue in the caller's transaction (store/mail_outbox.enqueue): a notice is
decided with the change it reports (an escalation, a digest's watermark), so
the two commit together or not at all; the dedupe key makes a replay find the
row queued the first time. The mailout sender takes it from there.

Notices carry no `question_id`: a lead's reply to one must not thread onto
the citizen's question as if the citizen had written (the inbound router
threads replies by the outbox row's question).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import asyncpg

from gateway.config import Settings
from gateway.notify.texts import Language, render
from gateway.outgoing_mail import OutgoingMail, domain_of, new_message_id
from gateway.store import mail_outbox
from gateway.store.mail_outbox import QueuedMail


@dataclass(frozen=True, slots=True)
class StaffMail:
    """The From of notices (None: nothing can be mailed) and the gateway's public links."""

    sender: str | None
    sender_name: str
    link: Callable[[str], str]  # a path of the web app -> an absolute URL

    @classmethod
    def from_settings(cls, settings: Settings) -> StaffMail:
        return cls(settings.mail_sender(), settings.mail_from_name, settings.public_url)

    async def queue(self, conn: asyncpg.Connection, *, to: str, kind: str,
                    language: Language, dedupe_key: str,
                    values: dict[str, Any]) -> QueuedMail | None:
        """Render `kind` for `to` and queue it once per `dedupe_key`; None without a sender."""
        if self.sender is None:
            return None
        subject, body = render(kind, language, **values)
        mail = OutgoingMail(
            purpose="notification", from_address=self.sender,
            from_name=self.sender_name or None, to_address=to, subject=subject,
            text_body=body, dedupe_key=dedupe_key)
        return await mail_outbox.enqueue(conn, mail,
                                         message_id=new_message_id(domain_of(self.sender)))
