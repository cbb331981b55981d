"""E-mail into the contact centre: stored mail routed like an SMS, once, whatever happens.

Mail is stored as the SMTP listener stores it (its record builder and
store/mail_inbound.py) on a real PostgreSQL, and the real router takes it.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import asyncpg
import pytest

from gateway.config import Settings
from gateway.email_consent import may_send_bulk
from gateway.outgoing_mail import OutgoingMail
from gateway.store import committees, mail_outbox
from tests.support.e2e import wait_for
from tests.support.email_consent import confirmed_subscriber, mailing_settings
from tests.support.written_mail import (
    CONTACT,
    RECEIVED,
    citizen_mail,
    route_all,
    router,
    store_mail,
)

HOSPITAL = "Fermeture des urgences de l'hôpital à Besançon"


async def routed(pool: asyncpg.Pool, mail_id: int) -> asyncpg.Record:
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT route, route_reason, question_id, routed_at FROM mail_inbound WHERE id = $1",
            mail_id)
    assert row is not None
    return row


async def outbox(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    async with pool.acquire() as conn:
        return list(await conn.fetch("SELECT * FROM mail_outbox ORDER BY id"))


async def test_a_french_accented_html_mail_opens_a_question_in_its_theme_and_is_acknowledged(
        pool: asyncpg.Pool) -> None:
    raw = citizen_mail(HOSPITAL, "<p>Que ferez-vous pour l'hôpital&nbsp;? <b>Merci</b></p>",
                       html=True)
    assert b"=?utf-8?q?" in raw  # the subject travels as an encoded word
    mail_id = await store_mail(pool, raw)

    assert await route_all(router(pool)) == 1

    state = await routed(pool, mail_id)
    assert (state["route"], state["route_reason"]) == ("question", None)
    async with pool.acquire() as conn:
        question = await conn.fetchrow("SELECT * FROM questions WHERE id = $1",
                                       state["question_id"])
    assert question is not None
    assert (question["channel"], question["program"], question["theme"], question["via"]) == (
        "email", "ensemble", "sante", "classified")
    assert (question["email"], question["name"], question["language"]) == (
        "renee@example.fr", "Renée Dupré", "fr")
    assert question["msisdn"] is None and question["mail_inbound_id"] == mail_id
    assert question["body"] == f"{HOSPITAL}\n\nQue ferez-vous pour l'hôpital ? Merci"
    assert question["sla_due"] - question["asked_at"] == timedelta(days=2)
    [ack] = await outbox(pool)
    assert (ack["purpose"], ack["to_address"], ack["question_id"]) == (
        "acknowledgement", "renee@example.fr", question["id"])
    assert ack["from_address"] == CONTACT and ack["to_name"] == "Renée Dupré"
    assert ack["subject"] == "Ensemble Citoyen : votre question (Santé) est bien arrivée"
    assert "Votre question (Santé) est transmise" in ack["text_body"]
    assert "sous 2 jours" in ack["text_body"]
    assert (ack["in_reply_to"], list(ack["references_ids"])) == (
        "<q1@example.fr>", ["<q1@example.fr>"])
    assert ack["dedupe_key"] == f"route:email:{mail_id}:acknowledgement"


async def test_a_simple_request_gets_the_knowledge_answer_and_no_question(
        pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await committees.insert_event(conn, committees.NewCampaignEvent(
            title="Réunion publique", starts_at=RECEIVED + timedelta(days=3),
            timezone="Europe/Paris", location="Besançon", program="ensemble", country="FR"))
    mail_id = await store_mail(pool, citizen_mail("Agenda", "Quelle est la prochaine réunion ?"))

    await route_all(router(pool))

    assert (await routed(pool, mail_id))["route"] == "knowledge_answer"
    [answer] = await outbox(pool)
    assert (answer["purpose"], answer["question_id"]) == ("knowledge_answer", None)
    assert answer["subject"] == "Ensemble Citoyen : réponse à votre message"
    assert "prochains rendez-vous : ven. 6 dec. 10h00 Réunion publique, Besançon" \
        in answer["text_body"]
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM questions") == 0


async def test_a_long_letter_mentioning_a_knowledge_phrase_goes_to_the_experts(
        pool: asyncpg.Pool) -> None:
    letter = "Avant la prochaine réunion je voudrais vous dire " + "pourquoi " * 60
    mail_id = await store_mail(pool, citizen_mail("Une lettre", letter))
    await route_all(router(pool))
    assert (await routed(pool, mail_id))["route"] == "question"


async def test_a_reply_to_our_acknowledgement_threads_onto_its_question_without_a_new_ack(
        pool: asyncpg.Pool) -> None:
    first = await store_mail(pool, citizen_mail(HOSPITAL, "Que ferez-vous ?"))
    await route_all(router(pool))
    [ack] = await outbox(pool)
    question_id = (await routed(pool, first))["question_id"]

    reply = await store_mail(pool, citizen_mail(
        "Re: " + HOSPITAL, "J'ajoute : les urgences ferment la nuit.\n\n> Votre question...",
        message_id="<q2@example.fr>", in_reply_to=ack["message_id"],
        references=f"<q1@example.fr> {ack['message_id']}"))
    # and a second reply naming only the citizen's first mail
    again = await store_mail(pool, citizen_mail("Re: urgences", "Et la maternité ?",
                                                message_id="<q3@example.fr>",
                                                in_reply_to="<q1@example.fr>"))
    assert await route_all(router(pool)) == 2

    for mail_id in (reply, again):
        state = await routed(pool, mail_id)
        assert (state["route"], state["question_id"]) == ("threaded", question_id)
    async with pool.acquire() as conn:
        messages = await conn.fetch(
            "SELECT * FROM question_messages WHERE question_id = $1 ORDER BY id", question_id)
        assert await conn.fetchval("SELECT count(*) FROM questions") == 1
    assert [m["mail_inbound_id"] for m in messages] == [reply, again]
    assert messages[0]["body"].startswith("J'ajoute : les urgences ferment la nuit.")
    assert not messages[0]["reopened"]
    assert len(await outbox(pool)) == 1  # no acknowledgement for a reply


async def test_a_reply_naming_someone_elses_thread_is_a_new_question(
        pool: asyncpg.Pool) -> None:
    first = await store_mail(pool, citizen_mail(HOSPITAL, "Que ferez-vous ?"))
    await route_all(router(pool))
    [ack] = await outbox(pool)
    intruder = await store_mail(pool, citizen_mail(
        "Re: hôpital", "Je m'invite dans cette conversation sur l'hôpital.",
        sender="mallory@example.net", message_id="<m1@example.net>",
        in_reply_to=ack["message_id"]), envelope_from="mallory@example.net")
    await route_all(router(pool))
    state = await routed(pool, intruder)
    assert state["route"] == "question"
    assert state["question_id"] != (await routed(pool, first))["question_id"]


@pytest.mark.parametrize(("headers", "sender", "reason"), [
    ({"Auto-Submitted": "auto-replied"}, "renee@example.fr", "auto_reply"),
    ({"List-Id": "<citoyens.lists.example>"}, "renee@example.fr", "list"),
    ({}, "no-reply@example.fr", "robot_address"),
])
async def test_automatic_mail_is_recorded_as_routed_and_never_answered(
        pool: asyncpg.Pool, headers: dict[str, str], sender: str, reason: str) -> None:
    mail_id = await store_mail(pool, citizen_mail("Absence du bureau : " + HOSPITAL,
                                                  "Je suis absente jusqu'au 10.",
                                                  sender=sender, headers=headers),
                               envelope_from=sender)
    await route_all(router(pool))
    state = await routed(pool, mail_id)
    assert (state["route"], state["route_reason"], state["question_id"]) == (
        "never_answer", reason, None)
    assert await outbox(pool) == []


async def test_without_a_from_address_the_question_opens_and_the_reason_is_recorded(
        pool: asyncpg.Pool) -> None:
    mail_id = await store_mail(pool, citizen_mail(HOSPITAL, "Que ferez-vous ?"))
    await route_all(router(pool, sender=None))
    state = await routed(pool, mail_id)
    assert (state["route"], state["route_reason"]) == ("question", "no_sender")
    assert state["question_id"] is not None
    assert await outbox(pool) == []


async def test_a_crash_between_routing_steps_loses_nothing_and_repeats_nothing(
        pool: asyncpg.Pool) -> None:
    """The router's session dies after it opened the question and while it queues the
    acknowledgement (held up by a row this test keeps uncommitted): nothing of it stays,
    and the next router routes the mail once."""
    mail_id = await store_mail(pool, citizen_mail(HOSPITAL, "Que ferez-vous ?"))
    key = f"route:email:{mail_id}:acknowledgement"
    async with pool.acquire() as blocker:
        holding = blocker.transaction()
        await holding.start()
        await mail_outbox.enqueue(blocker, OutgoingMail(
            purpose="acknowledgement", from_address=CONTACT, to_address="x@example.org",
            subject="x", text_body="x", dedupe_key=key), message_id="<held@example.org>")
        doomed = asyncio.create_task(router(pool).route_next())
        async with pool.acquire() as conn:
            waiting: list[int] = []

            async def router_waits() -> bool:  # outside a transaction: fresh statistics
                waiting[:] = [r["pid"] for r in await conn.fetch(
                    "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND query LIKE '%INSERT INTO mail_outbox%'")]
                return bool(waiting)

            await wait_for(router_waits, within=10)
            [pid] = waiting
            assert await conn.fetchval("SELECT count(*) FROM questions") == 0  # not committed
            await conn.execute("SELECT pg_terminate_backend($1)", pid)
        with pytest.raises((asyncpg.PostgresError, asyncpg.InterfaceError, OSError)):
            await doomed
        await holding.rollback()

    assert (await routed(pool, mail_id))["routed_at"] is None  # nothing was half-done
    assert await route_all(router(pool)) == 1
    state = await routed(pool, mail_id)
    assert state["route"] == "question"
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM questions") == 1
    [ack] = await outbox(pool)
    assert ack["dedupe_key"] == key and ack["question_id"] == state["question_id"]


async def test_two_routers_on_one_database_route_each_mail_once(pool: asyncpg.Pool) -> None:
    ids = [await store_mail(pool, citizen_mail(f"{HOSPITAL} ({n})", "Que ferez-vous ?",
                                               message_id=f"<n{n}@example.fr>"))
           for n in range(12)]
    counts = await asyncio.gather(route_all(router(pool)), route_all(router(pool)))
    assert sum(counts) == 12
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM questions") == 12
        assert await conn.fetchval(
            "SELECT count(*) FROM mail_inbound WHERE route = 'question' AND id = ANY($1)",
            ids) == 12
    assert len(await outbox(pool)) == 12


async def test_a_reply_asking_to_unsubscribe_ends_the_subscription_and_gets_no_answer(
        pool: asyncpg.Pool, settings: Settings) -> None:
    async with pool.acquire() as conn:
        await confirmed_subscriber(conn, mailing_settings(settings), "renee@example.fr",
                                   RECEIVED)
        assert await may_send_bulk(conn, "renee@example.fr", "rise")
        before = await conn.fetchval("SELECT count(*) FROM mail_outbox")
    mail_id = await store_mail(pool, citizen_mail("Re: les nouvelles", "Désabonnez-moi."))
    assert await route_all(router(pool)) == 1
    state = await routed(pool, mail_id)
    assert (state["route"], state["route_reason"]) == ("never_answer", "unsubscribe_reply")
    async with pool.acquire() as conn:
        assert not await may_send_bulk(conn, "renee@example.fr", "rise")
        assert await conn.fetchval("SELECT count(*) FROM mail_outbox") == before  # no answer
        assert await conn.fetchval("SELECT count(*) FROM questions") == 0
