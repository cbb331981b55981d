"""Citizens' e-mail for the routing tests: messages built with the standard library, stored
through the real store (the listener's own record builder), and the router that takes them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP

import asyncpg

from gateway.engine import Rules
from gateway.mail.record import build_record, smtp_dedupe_key
from gateway.routing.intake import Routing
from gateway.routing.outgoing import Sender
from gateway.routing.worker import MailRouter, RouterConfig
from gateway.store import mail_inbound
from tests.support.questions import RULES

CONTACT = "contact@campagne.example"
SENDER = Sender(CONTACT, "Ensemble Citoyen")
RECEIVED = datetime(2024, 12, 3, 9, 0, tzinfo=UTC)


def citizen_mail(subject: str, body: str, *, sender: str = "Renée Dupré <renee@example.fr>",
                 message_id: str = "<q1@example.fr>", html: bool = False,
                 in_reply_to: str | None = None, references: str | None = None,
                 headers: Mapping[str, str] | None = None) -> bytes:
    """A citizen's mail to the contact address, its accented words in quoted-printable."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = CONTACT
    msg["Subject"] = subject
    msg["Message-ID"] = message_id
    msg["Date"] = "Tue, 03 Dec 2024 10:00:00 +0100"
    if in_reply_to is not None:
        msg["In-Reply-To"] = in_reply_to
    if references is not None:
        msg["References"] = references
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(body, subtype="html" if html else "plain", cte="quoted-printable")
    return msg.as_bytes(policy=SMTP)


async def store_mail(pool: asyncpg.Pool, raw: bytes, *, envelope_from: str = "renee@example.fr",
                     received_at: datetime = RECEIVED) -> int:
    """Stored as the SMTP listener stores it, received at `received_at`; the mail_inbound id."""
    record = build_record(raw, intake="smtp", envelope_from=envelope_from,
                          dedupe_key=smtp_dedupe_key(envelope_from, [CONTACT], raw),
                          envelope_to=[CONTACT], max_attachment_bytes=1_000_000,
                          own_addresses=[CONTACT])
    async with pool.acquire() as conn, conn.transaction():
        mail_id, _ = await mail_inbound.insert(conn, record)
        await conn.execute("UPDATE mail_inbound SET received_at = $2 WHERE id = $1",
                           mail_id, received_at)
    return mail_id


def router(pool: asyncpg.Pool, *, sender: Sender | None = SENDER,
           rules: Rules = RULES, knowledge_max_words: int = 60) -> MailRouter:
    config = RouterConfig(Routing(sender, knowledge_max_words), {},
                          frozenset({CONTACT}))
    return MailRouter(pool, lambda: rules, config, clock=lambda: RECEIVED, interval=0.05)


async def route_all(route: MailRouter) -> int:
    """Route until nothing is left; how many messages were routed."""
    count = 0
    while await route.route_next():
        count += 1
    return count
