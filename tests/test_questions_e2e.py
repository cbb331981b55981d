"""The contact centre end to end over SMPP: a question routed by theme, acknowledged,
claimed, answered and delivered; a knowledge-base answer by postal code."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from gateway.app import Gateway
from gateway.services import answers
from gateway.services.campaign_data import new_committee
from gateway.smpp.simulator import SmscSimulator
from gateway.store import committees as committees_store
from gateway.store import questions as questions_store
from gateway.store import timeline as timeline_store
from tests.support.e2e import Phone, wait_for
from tests.support.questions import FR, text_fr


async def test_a_question_is_routed_by_theme_acknowledged_answered_and_delivered(
    gateway: Gateway, smsc: SmscSimulator
) -> None:
    msisdn = "+33612340001"
    [ack] = await text_fr(smsc, msisdn, "Les urgences de l'hôpital ferment la nuit, pourquoi ?",
                          expect=1)
    assert ack == ("Ensemble Citoyen : merci ! Votre question (Santé) est transmise à nos "
                   "experts. Réponse sous 2 jours. STOP au 38200")
    now = datetime.now(UTC)
    async with gateway.pool.acquire() as conn:
        [question] = await questions_store.list_queue(conn, "sante", now=now)
        assert (question["msisdn"], question["shortcode"], question["status"]) == (
            msisdn, FR, "open")
        first = await questions_store.claim(conn, question["id"], "alice@example.org", now=now)
        second = await questions_store.claim(conn, question["id"], "bob@example.org", now=now)
        assert first.won and (second.outcome, second.claimed_by) == (
            "already_claimed", "alice@example.org")
        result = await answers.answer(
            conn, gateway.rules.current, question["id"], expert="alice@example.org",
            text="Faute de médecins. Une garde de nuit rouvre en juin.", now=now)
    gateway.outbox.wake()
    answer = ("Ensemble Citoyen : Faute de médecins. Une garde de nuit rouvre en juin. "
              "STOP au 38200")
    async with asyncio.timeout(10):
        await smsc.wait_until(lambda: answer in smsc.texts_to(msisdn))

    async def delivered() -> bool:
        async with gateway.pool.acquire() as conn:
            status = await conn.fetchval("SELECT status FROM outbound WHERE id = $1",
                                         result.outbound_id)
        return bool(status == "delivered")

    await wait_for(delivered)
    async with gateway.pool.acquire() as conn:
        timeline = await timeline_store.full_timeline(conn, msisdn, FR)
    assert [(t["kind"], t["body"]) for t in timeline] == [
        ("mo", "Les urgences de l'hôpital ferment la nuit, pourquoi ?"),
        ("event", "question_asked"), ("mt", ack), ("event", "question_claimed"),
        ("event", "question_answered"), ("mt", answer)]
    assert timeline[-2]["data"]["answered_by"] == "alice@example.org"
    assert timeline[-1]["status"] == "delivered"


async def test_where_90210_answers_with_the_nearest_committee(
    gateway: Gateway, smsc: SmscSimulator
) -> None:
    async with gateway.pool.acquire() as conn:
        for args in (("NYC Rise", "5 Broadway, New York", "10004"),
                     ("LA Rise", "200 N Spring St, Los Angeles", "90012")):
            await committees_store.insert_committee(
                conn, new_committee(*args, country="US"))
    phone = Phone(smsc, "+13105550199")
    assert await phone.text("WHERE 90210", expect=1) == [
        "Rise Up Alerts: your nearest office is LA Rise, 200 N Spring St, Los Angeles. "
        "Text EVENTS for what's coming up."]
    assert await phone.text("where", expect=1) == [
        "Rise Up Alerts: text WHERE and your ZIP code, like WHERE 90210."]
