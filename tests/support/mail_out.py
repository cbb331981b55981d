"""Queue mail and build a sender pointed at a loopback provider (tests/support/smtp_provider.py).

Shared by the sender's tests: rows are queued through the store's own
`enqueue`, as the acknowledgement, answer and newsletter code queue them.
"""

from __future__ import annotations

import random
from typing import Any

import asyncpg

from gateway.clock import Clock, utc_now
from gateway.mail.pacing import DomainPacer
from gateway.mail.sender import MailSender, SenderConfig
from gateway.mail.submission import SubmissionConfig
from gateway.metrics import Metrics
from gateway.outgoing_mail import OutgoingMail, new_message_id
from gateway.store import mail_outbox
from tests.support.smtp_provider import Provider

FROM = "contact@campagne.example"


async def queue(pool: asyncpg.Pool, to: str = "renee@example.fr", **changes: Any) -> int:
    fields: dict[str, Any] = {
        "purpose": "answer", "from_address": FROM, "to_address": to,
        "subject": "Re: Votre question sur l'hôpital", "text_body": "Bonjour,\n\nVoici."}
    fields.update(changes)
    async with pool.acquire() as conn:
        queued = await mail_outbox.enqueue(conn, OutgoingMail(**fields),
                                           message_id=new_message_id("campagne.example"))
    return queued.id


async def row(pool: asyncpg.Pool, mail_id: int) -> asyncpg.Record:
    found = await pool.fetchrow("SELECT * FROM mail_outbox WHERE id = $1", mail_id)
    assert found is not None
    return found


def submission(provider: Provider, **changes: Any) -> SubmissionConfig:
    fields: dict[str, Any] = {
        "host": "127.0.0.1", "port": provider.port, "security": "none", "user": "",
        "password": None, "timeout": 5.0, "local_hostname": "gw-a.test"}
    fields.update(changes)
    return SubmissionConfig(**fields)


def sender(pool: asyncpg.Pool, provider: Provider, *, clock: Clock = utc_now,
           owner: str = "gw-a", domain_rate: int = 0, metrics: Metrics | None = None,
           submission_changes: dict[str, Any] | None = None, **changes: Any) -> MailSender:
    fields: dict[str, Any] = {
        "owner": owner, "batch_size": 5, "max_attempts": 4,
        "default_from_name": "Équipe de campagne", "timeout": 5.0, "poll_seconds": 0.05}
    fields.update(changes)
    pacer = DomainPacer(domain_rate, {}, lambda: clock().timestamp())
    return MailSender(pool, submission(provider, **(submission_changes or {})),
                      SenderConfig(**fields), pacer=pacer, metrics=metrics, clock=clock,
                      rng=random.Random(7))
