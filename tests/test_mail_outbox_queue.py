"""Queuing an e-mail: one row per decision, a Message-ID fixed at queue time, bulk needs one-click.

These are the promises the acknowledgement, answer, confirmation and
newsletter code build on; the sender's own tests cover claiming and SMTP.
"""

from __future__ import annotations

import asyncpg
import pytest

from gateway.outgoing_mail import OutgoingMail, domain_of, new_message_id
from gateway.store import mail_outbox


def _ack(**changes: object) -> OutgoingMail:
    fields: dict[str, object] = {
        "purpose": "acknowledgement", "from_address": "contact@campaign.example",
        "to_address": "ana@example.org", "subject": "We have your question",
        "text_body": "Thank you.", "dedupe_key": "ack:test:1"}
    fields.update(changes)
    return OutgoingMail(**fields)  # type: ignore[arg-type]


async def test_a_second_enqueue_with_the_same_key_finds_the_first_row(pool: asyncpg.Pool) -> None:
    first_id = new_message_id(domain_of("contact@campaign.example"))
    async with pool.acquire() as conn:
        first = await mail_outbox.enqueue(conn, _ack(), message_id=first_id)
        again = await mail_outbox.enqueue(conn, _ack(), message_id=new_message_id("x.example"))
        rows = await conn.fetch("SELECT id, message_id, status FROM mail_outbox")
    assert again == first
    assert first.message_id == first_id and first_id.endswith("@campaign.example>")
    assert [(r["id"], r["status"]) for r in rows] == [(first.id, "queued")]


async def test_without_a_key_every_enqueue_is_a_row(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        one = await mail_outbox.enqueue(conn, _ack(dedupe_key=None),
                                        message_id=new_message_id("campaign.example"))
        two = await mail_outbox.enqueue(conn, _ack(dedupe_key=None),
                                        message_id=new_message_id("campaign.example"))
    assert one.id != two.id and one.message_id != two.message_id


def test_bulk_mail_without_an_unsubscribe_url_is_refused_before_the_database() -> None:
    with pytest.raises(ValueError, match="unsubscribe_url"):
        _ack(purpose="newsletter", bulk=True)
    with pytest.raises(ValueError, match="to_address"):
        _ack(to_address="not-an-address")


async def test_the_table_refuses_bulk_mail_without_one_click(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        with pytest.raises(asyncpg.CheckViolationError):
            await conn.execute(
                "INSERT INTO mail_outbox (purpose, bulk, from_address, to_address, subject,"
                " text_body, message_id) VALUES ('newsletter', true, 'a@b.example',"
                " 'c@d.example', 's', 't', '<1@b.example>')")
