"""Erasing an e-mail address takes its written questions with it: the question, the
citizen's later reply, the acknowledgement's link to it, and the form post.

Why a test of its own: e-mail and form questions came after the person's erasure was
written, and a question row holds the citizen's words and address. The mail is stored
and routed by the real intake and router on PostgreSQL; then the address is erased
and no trace of it may remain in any table.
"""

from __future__ import annotations

import asyncpg
from pydantic import SecretStr

from gateway.config import Settings
from gateway.privacy import rights
from tests.support.persons import email_traces
from tests.support.written_mail import RECEIVED, citizen_mail, route_all, router, store_mail

RENEE = "renee@example.fr"


async def test_erasing_an_address_removes_its_questions_and_replies(
    pool: asyncpg.Pool, settings: Settings,
) -> None:
    private = settings.model_copy(update={"privacy_hash_secret": SecretStr("k")})
    await store_mail(pool, citizen_mail("Fermeture des urgences de l'hôpital",
                                        "Que ferez-vous pour l'hôpital ?"))
    assert await route_all(router(pool)) == 1
    async with pool.acquire() as conn:
        ack = await conn.fetchval("SELECT message_id FROM mail_outbox WHERE question_id IS"
                                  " NOT NULL")
    await store_mail(pool, citizen_mail("Re: votre question", "Et la maternité ?",
                                        message_id="<q2@example.fr>", in_reply_to=ack))
    assert await route_all(router(pool)) == 1
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM question_messages") == 1
        before = await email_traces(conn, RENEE)
        assert "questions.email" in set(before)
        document = await rights.export(conn, RENEE, by="dpo", now=RECEIVED, settings=private)
        [question] = document["questions_written"]
        assert question["body"].startswith("Fermeture") or "hôpital" in question["body"]
        assert [m["body"] for m in question["later_messages"]] == ["Et la maternité ?"]
        report = await rights.erase(conn, RENEE, by="dpo", settings=private)
        assert await email_traces(conn, RENEE) == []
        for table in ("questions", "question_messages", "answers"):
            assert await conn.fetchval(f"SELECT count(*) FROM {table}") == 0, table
        assert await conn.fetchval("SELECT count(*) FROM mail_outbox WHERE question_id IS"
                                   " NOT NULL") == 0
    assert report.rows["questions"] == 1
