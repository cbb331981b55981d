"""Issue 15's path, seen from the citizen's contact page: web form -> acknowledgement e-mail ->
an expert answers by e-mail -> the citizen's reply threads onto the same question -> the
person's timeline shows all four, in order.

Every step is the real one on a real PostgreSQL: the form /write posted over HTTP
(tests/support/write_site.py), the acknowledgement queued by routing, the answer given
through the inbox API, the reply stored as the SMTP listener stores it and routed by the
real router (tests/support/written_mail.py). Then the e-mail address's contact page and
its API timeline, as an organizer sees them. Times are the test's: the form's clock
starts an hour ago and the reply arrives after the answer.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from gateway.config import Settings
from tests.support.pages_site import start_site
from tests.support.webapi import WebApi
from tests.support.write_site import WriteSite, form_settings, write_site
from tests.support.written_mail import citizen_mail, route_all, router, store_mail

ADDRESS = "renee@example.fr"
FORM_POST = {"theme": "sante", "message": "Les urgences ferment la nuit : pourquoi ?",
             "name": "Renée Dupré", "email": "Renee@Example.fr"}
ANSWER = "Bonjour Renée,\n\nNous rouvrirons les urgences la nuit."


@pytest.fixture
async def site(pool: asyncpg.Pool, settings: Settings) -> AsyncIterator[WebApi]:
    web = await start_site(pool, form_settings(settings))
    try:
        yield web
    finally:
        await web.client.close()


@pytest.fixture
async def form(pool: asyncpg.Pool, settings: Settings) -> AsyncIterator[WriteSite]:
    async with write_site(pool, form_settings(settings)) as shown:
        shown.clock.set(datetime.now(UTC) - timedelta(hours=1))
        yield shown


def steps(items: list[dict[str, Any]]) -> list[tuple[str, str | None]]:
    """(kind, what) of each item: an event's name, a mail's purpose, else None."""
    return [(i["kind"], i["body"] if i["kind"] == "event" else
             (i["data"] or {}).get("purpose")) for i in items]


async def test_form_ack_email_answer_and_reply_are_one_history_on_the_contact_page(
        pool: asyncpg.Pool, site: WebApi, form: WriteSite) -> None:
    expert = await site.staff("expert", email="sante@example.org", themes=("sante",))
    organizer = await site.staff("organizer")
    assert (await form.post(FORM_POST))[0] == 200
    async with pool.acquire() as conn:
        question_id = await conn.fetchval("SELECT id FROM questions")
        ack = await conn.fetchrow("SELECT message_id, purpose FROM mail_outbox")
    assert ack["purpose"] == "acknowledgement"

    answered = await site.client.post(f"/api/v1/inbox/questions/{question_id}/answer",
                                      json={"text": ANSWER}, headers=expert.bearer)
    assert answered.status == 200, await answered.text()
    async with pool.acquire() as conn:
        sent = await conn.fetchval("SELECT message_id FROM mail_outbox WHERE purpose = "
                                   "'answer'")
    await store_mail(pool, citizen_mail(
        "Re: votre question", "Merci, mais quand exactement ?", message_id="<r1@example.fr>",
        in_reply_to=sent, references=f"{ack['message_id']} {sent}"),
        received_at=datetime.now(UTC))
    assert await route_all(router(pool)) == 1
    async with pool.acquire() as conn:
        threaded = await conn.fetchrow("SELECT route, question_id FROM mail_inbound")
    assert tuple(threaded) == ("threaded", question_id)

    response = await site.client.get(f"/api/v1/contacts/email/{ADDRESS}/timeline",
                                     headers=organizer.bearer)
    assert response.status == 200
    items = (await response.json())["timeline"]
    assert steps(items) == [
        ("form_in", None), ("event", "question_asked"),   # the form post, a question
        ("mail_out", "acknowledgement"),                  # its acknowledgement
        ("mail_out", "answer"), ("event", "question_answered"),  # the expert's e-mail
        ("mail_in", None), ("event", "question_reply")]   # the citizen's reply, threaded
    assert {i["address"] for i in items} == {ADDRESS}
    asked, answer, reply = (items[1]["data"], items[4]["data"], items[6]["data"])
    assert (asked["question_id"], asked["channel"], asked["theme"]) == (question_id, "web",
                                                                         "sante")
    assert (answer["answered_by"], answer["channel"]) == ("sante@example.org", "email")
    assert (reply["question_id"], reply["reopened"]) == (question_id, True)
    assert [i["at"] for i in items] == sorted(i["at"] for i in items)

    await site.login("organizer@example.org")
    page = await site.client.get(f"/contacts/email/{ADDRESS}")
    html = await page.text()
    assert page.status == 200
    timeline = html.split('id="timeline"', 1)[1].split("</section>", 1)[0]
    assert timeline.count('class="conversation-group') == 1  # the question's one thread
    assert re.findall(r'<li class="kind-(\w+)', timeline) == [
        "form_in", "event", "mail_out", "mail_out", "event", "mail_in", "event"]
    shown = [timeline.index(words) for words in (
        "They wrote on the form /write", "Question asked", "acknowledgement",
        "Question answered", "They wrote again on the question")]
    assert shown == sorted(shown)
    assert "on the form" in timeline and "by sante@example.org" in timeline
    assert "Les urgences ferment" not in timeline  # the question's text stays in the inbox
    via = html.split('id="email-via"', 1)[1].split("</dd>", 1)[0]
    assert "wrote by e-mail" in via and "wrote on the form /write" in via
