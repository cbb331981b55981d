"""Experts answer e-mail and form questions by e-mail, in the citizen's conversation.

The whole path on a real PostgreSQL: a form post (its acknowledgement by e-mail), an
expert's answer through the inbox API (threaded on our acknowledgement), the citizen's
reply by mail (stored as the listener stores it, routed by the real router) reopening the
question, and the next answer threaded on that reply. SMS questions keep their SMS
answers (tests/test_inbox_api.py).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest

from gateway.config import Settings
from gateway.services import persons
from tests.support.pages_site import form_token, start_site
from tests.support.questions import EDU, EDU_TEXT, asked
from tests.support.webapi import WebApi, assert_error_shape, start_web_api
from tests.support.write_site import WriteSite, form_settings, write_site
from tests.support.written_mail import CONTACT, citizen_mail, route_all, router, store_mail

FORM_POST = {"theme": "sante", "message": "Les urgences ferment la nuit : pourquoi ?",
             "name": "Renée Dupré", "email": "renee@example.fr"}
ANSWER = "Bonjour Renée,\n\nNous rouvrirons les urgences la nuit.\n\nVoici pourquoi : ..."


@pytest.fixture
async def api(pool: asyncpg.Pool, settings: Settings) -> AsyncIterator[WebApi]:
    web = await start_web_api(pool, form_settings(settings))
    try:
        yield web
    finally:
        await web.client.close()


@pytest.fixture
async def form(pool: asyncpg.Pool, settings: Settings) -> AsyncIterator[WriteSite]:
    async with write_site(pool, form_settings(settings)) as site:
        yield site


async def mails(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    async with pool.acquire() as conn:
        return list(await conn.fetch("SELECT * FROM mail_outbox ORDER BY id"))


async def question_row(pool: asyncpg.Pool) -> asyncpg.Record:
    async with pool.acquire() as conn:
        row = await conn.fetchrow("SELECT * FROM questions")
    assert row is not None
    return row


async def answer(api: WebApi, headers: dict[str, str], question_id: int,
                 text: str = ANSWER) -> tuple[int, Any]:
    response = await api.client.post(f"/api/v1/inbox/questions/{question_id}/answer",
                                     json={"text": text}, headers=headers)
    return response.status, await response.json()


async def test_form_ack_expert_answer_citizen_reply_and_next_answer_are_one_conversation(
        api: WebApi, form: WriteSite) -> None:
    expert = await api.staff("expert", email="sante@example.org", themes=("sante",))
    assert (await form.post(FORM_POST))[0] == 200
    question = await question_row(api.pool)
    [ack] = await mails(api.pool)

    response = await api.client.get("/api/v1/inbox/questions/" + str(question["id"]),
                                    headers=expert.bearer)
    detail = await response.json()
    assert detail["question"]["email"] == "r***@example.fr"  # an expert needs no address
    assert detail["question"]["channel"] == "web" and detail["answer_channel"] == "email"
    status, body = await answer(api, expert.bearer, question["id"])
    assert status == 200 and body["channel"] == "email"

    [_, sent] = await mails(api.pool)
    assert (sent["purpose"], sent["to_address"], sent["question_id"]) == (
        "answer", "renee@example.fr", question["id"])
    assert (sent["in_reply_to"], list(sent["references_ids"])) == (
        ack["message_id"], [ack["message_id"]])
    assert sent["subject"] == "Ensemble Citoyen : réponse à votre question (Santé)"
    assert ANSWER in sent["text_body"]  # paragraphs kept
    assert sent["dedupe_key"] == f"answer:{question['id']}:0"

    reply = await store_mail(api.pool, citizen_mail(
        "Re: votre question", "Merci, mais quand exactement ?", message_id="<r1@example.fr>",
        in_reply_to=sent["message_id"], references=f"{ack['message_id']} {sent['message_id']}"))
    assert await route_all(router(api.pool)) == 1
    reopened = await question_row(api.pool)
    assert (reopened["status"], reopened["round"], reopened["answered_at"]) == ("open", 1, None)
    async with api.pool.acquire() as conn:
        route = await conn.fetchrow("SELECT route, route_reason, question_id FROM mail_inbound "
                                    "WHERE id = $1", reply)
    assert tuple(route) == ("threaded", "reopened", question["id"])

    status, body = await answer(api, expert.bearer, question["id"], "Dès le 1er mars.")
    assert status == 200
    [_, _, second] = await mails(api.pool)
    assert second["in_reply_to"] == "<r1@example.fr>"
    assert list(second["references_ids"]) == [ack["message_id"], sent["message_id"],
                                              "<r1@example.fr>"]
    assert second["dedupe_key"] == f"answer:{question['id']}:1"
    async with api.pool.acquire() as conn:
        answers = await conn.fetch("SELECT round, channel, mail_outbox_id FROM answers "
                                   "WHERE question_id = $1 ORDER BY round", question["id"])
    assert [tuple(a) for a in answers] == [(0, "email", sent["id"]), (1, "email", second["id"])]
    response = await api.client.get("/api/v1/inbox/questions/" + str(question["id"]),
                                    headers=expert.bearer)
    detail = await response.json()
    assert [m["body"] for m in detail["messages"]] == ["Merci, mais quand exactement ?"]
    assert [a["round"] for a in detail["answers"]] == [0, 1]


async def test_an_email_question_is_answered_in_reply_to_the_citizens_mail(
        api: WebApi) -> None:
    expert = await api.staff("expert", email="sante@example.org", themes=("sante",))
    await store_mail(api.pool, citizen_mail("Fermeture des urgences de l'hôpital",
                                            "Pourquoi ?"))
    await route_all(router(api.pool))
    question = await question_row(api.pool)
    status, _ = await answer(api, expert.bearer, question["id"])
    assert status == 200
    [_, sent] = await mails(api.pool)
    assert sent["from_address"] == CONTACT
    assert (sent["in_reply_to"], list(sent["references_ids"])) == (
        "<q1@example.fr>", ["<q1@example.fr>"])


async def test_an_email_answer_without_a_from_address_is_refused_beside_the_text(
        pool: asyncpg.Pool, settings: Settings) -> None:
    web = await start_web_api(pool, settings)  # no contact address, no From address
    try:
        expert = await web.staff("expert", email="sante@example.org", themes=("sante",))
        await store_mail(pool, citizen_mail("Fermeture des urgences de l'hôpital",
                                            "Pourquoi ?"))
        await route_all(router(pool))
        question = await question_row(pool)
        status, body = await answer(web, expert.bearer, question["id"])
        assert status == 400
        error = assert_error_shape(body)
        assert (error["field"], error["code"]) == ("text", "not_sendable")
        assert "GATEWAY_MAIL_FROM_ADDRESS" in error["message"]
        assert (await question_row(pool))["status"] == "open"
    finally:
        await web.client.close()


async def test_the_question_page_offers_an_email_answer_and_shows_the_conversation(
        pool: asyncpg.Pool, settings: Settings) -> None:
    site = await start_site(pool, form_settings(settings))
    try:
        await site.staff("expert", email="sante@example.org", themes=("sante",))
        await store_mail(pool, citizen_mail("Fermeture des urgences de l'hôpital",
                                            "Pourquoi ?"))
        await store_mail(pool, citizen_mail("Re: urgences", "Et la nuit ?",
                                            message_id="<q2@example.fr>",
                                            in_reply_to="<q1@example.fr>"))
        await route_all(router(pool))
        question = await question_row(pool)
        await site.login("sante@example.org")
        listed = await (await site.client.get("/inbox")).text()
        row = re.search(rf'<tr[^>]*data-question="{question["id"]}">.*?</tr>', listed, re.S)
        assert row is not None and "<td>r***@example.fr</td>" in row[0]  # not "None"
        response = await site.client.get(f"/inbox/questions/{question['id']}")
        text = await response.text()
        assert response.status == 200
        assert "r***@example.fr" in text and "renee@example.fr" not in text
        assert "by e-mail, via the words of the question" in text  # how it was routed
        assert "Sent by e-mail, in reply to the citizen" in text
        assert "data-before" not in text  # no SMS segment count for an e-mail answer
        assert "The citizen wrote again" in text and "Et la nuit ?" in text
        assert "this question came in writing" in text  # not a bare "Nothing yet"
        token = form_token(text)
        response = await site.client.post(
            f"/inbox/questions/{question['id']}/answer", allow_redirects=False,
            data={"csrf_token": token, "text": "Les urgences rouvriront.\n\nBien à vous."})
        assert response.status == 303
        assert "notice=mailed" in response.headers["Location"]
        [_, sent] = await mails(pool)
        assert sent["in_reply_to"] == "<q2@example.fr>"  # the citizen's latest message
    finally:
        await site.client.close()


async def test_an_sms_question_goes_by_email_only_to_the_persons_verified_address(
        pool: asyncpg.Pool, settings: Settings) -> None:
    web = await start_web_api(pool, form_settings(settings))
    try:
        expert = await web.staff("expert", email="edu@example.org", themes=("education",))
        question_id = await asked(pool, EDU, EDU_TEXT, datetime.now(UTC))
        url = f"/api/v1/inbox/questions/{question_id}/answer"
        refused = await web.client.post(url, headers=expert.bearer,
                                        json={"text": ANSWER, "by": "email"})
        error = assert_error_shape(await refused.json())
        assert refused.status == 400 and error["field"] == "by"  # no verified address: no guess
        async with pool.acquire() as conn:
            mo = await conn.fetchval("SELECT max(id) FROM inbound WHERE msisdn = $1", EDU)
            await persons.link_both_channels(conn, number=EDU, email="lea@example.fr",
                                             sms_inbound_id=mo, email_evidence={"test": 1},
                                             now=datetime.now(UTC))
        shown = await web.client.get(f"/api/v1/inbox/questions/{question_id}",
                                     headers=expert.bearer)
        assert (await shown.json())["email_choice"] == "l***@example.fr"
        sent = await web.client.post(url, headers=expert.bearer,
                                     json={"text": ANSWER, "by": "email"})
        assert sent.status == 200, await sent.text()
        [mail] = await mails(pool)
        assert (mail["to_address"], mail["purpose"]) == ("lea@example.fr", "answer")
        assert "Nous rouvrirons les urgences la nuit." in mail["text_body"]
        async with pool.acquire() as conn:
            assert await conn.fetchval("SELECT count(*) FROM outbound WHERE msisdn = $1 AND"
                                       " body LIKE '%rouvrirons%'", EDU) == 0
    finally:
        await web.client.close()
