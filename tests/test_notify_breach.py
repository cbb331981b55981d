"""The lead's notice of a question past its SLA, on a real database: queued with the
escalation, once per lead however often or however many gateways escalate."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import asyncpg
from pydantic import SecretStr

from gateway.config import Settings, load_settings
from gateway.engine.loader import parse_rules
from gateway.notify.sla_breach import queue_breach_notices
from gateway.notify.staff_mail import StaffMail
from gateway.privacy import rights
from gateway.services import answers
from gateway.store import questions as questions_store
from gateway.store import users as user_store
from tests.support.questions import NOW, ROOT, RULES, asked

LEAD = "education-leads@ensemble.example.fr"
MAIL = StaffMail.from_settings(load_settings({
    "DATABASE_URL": "postgresql://test", "GATEWAY_MAIL_FROM_ADDRESS": "contact@ensemble.example.fr",
    "GATEWAY_MAIL_FROM_NAME": "Ensemble", "GATEWAY_PUBLIC_BASE_URL": "https://act.ensemble.fr/"}))
LATE = NOW + timedelta(days=2, hours=1)


async def notices(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    async with pool.acquire() as conn:
        return list(await conn.fetch(
            "SELECT * FROM mail_outbox WHERE purpose = 'notification' ORDER BY id"))


async def test_the_lead_gets_one_notice_with_the_theme_the_delay_and_the_link(
    pool: asyncpg.Pool,
) -> None:
    question = await asked(pool, "+33600000201",
                           "Pourquoi l'école ferme ? Rappelez-moi au 06 12 34 56 78 svp", NOW)
    assert await answers.escalate(pool, RULES, LATE, mail=MAIL) == 1
    assert await answers.escalate(pool, RULES, LATE + timedelta(hours=1), mail=MAIL) == 0
    [notice] = await notices(pool)
    assert (notice["to_address"], notice["from_address"], notice["from_name"]) == (
        LEAD, "contact@ensemble.example.fr", "Ensemble")
    assert notice["dedupe_key"] == f"sla-breach:{question}:{LEAD}"
    assert notice["question_id"] is None and not notice["bulk"]
    assert notice["subject"] == f"Question n° {question} en retard (Education)"
    body = notice["text_body"]
    assert "« Education » (Ensemble Citoyen) attend une réponse depuis 2 jours 1 heure" in body
    assert "délai promis était de 2 jours : elle est en retard de 1 heure" in body
    assert "« Pourquoi l'école ferme ? Rappelez-moi au … svp »" in body
    assert f"https://act.ensemble.fr/inbox/questions/{question}\n" in body
    assert "06 12" not in body and "0201" not in body  # no contact detail of the citizen
    assert notice["message_id"].endswith("@ensemble.example.fr>")


async def test_escalating_in_two_connections_at_once_notifies_each_lead_once(
    pool: asyncpg.Pool,
) -> None:
    for i in range(6):
        await asked(pool, f"+3360000021{i}", f"question {i} sur l'école de mon fils", NOW)
    for i in range(3):
        await asked(pool, f"+3360000022{i}", f"la police {i} ne vient jamais ici", NOW)
    counts = await asyncio.gather(*(answers.escalate(pool, RULES, LATE, mail=MAIL)
                                    for _ in range(3)))
    assert sum(counts) == 9
    again = await asyncio.gather(*(answers.escalate(pool, RULES, LATE, mail=MAIL)
                                   for _ in range(2)))
    assert again == [0, 0]
    rows = await notices(pool)
    assert sorted(r["to_address"] for r in rows) == sorted(
        [LEAD] * 6 + ["securite-leads@ensemble.example.fr"] * 3)
    assert len({r["dedupe_key"] for r in rows}) == 9


async def test_a_notice_commits_with_its_escalation_or_not_at_all(pool: asyncpg.Pool) -> None:
    question = await asked(pool, "+33600000230", "question sur le lycée du quartier", NOW)
    leads = {("ensemble", "education"): [LEAD]}
    async with pool.acquire() as conn:
        tx = conn.transaction()
        await tx.start()
        rows = await questions_store.escalate_overdue(conn, leads, now=LATE)
        assert await queue_breach_notices(conn, RULES, rows, mail=MAIL, now=LATE) == 1
        await tx.rollback()  # the gateway died before COMMIT
        row = await questions_store.get_question(conn, question)
        assert row is not None and row["status"] == "open"
    assert await notices(pool) == []
    assert await answers.escalate(pool, RULES, LATE, mail=MAIL) == 1
    assert [r["dedupe_key"] for r in await notices(pool)] == [f"sla-breach:{question}:{LEAD}"]


async def test_a_lead_whose_account_is_disabled_gets_nothing(pool: asyncpg.Pool) -> None:
    source = (ROOT / "keywords.yaml").read_text(encoding="utf-8").replace(
        f"leads: [{LEAD}]", "leads: [Ana@Ensemble.example.fr, bob@ensemble.example.fr]")
    rules = parse_rules(source)
    async with pool.acquire() as conn:
        for email in ("ana@ensemble.example.fr", "bob@ensemble.example.fr"):
            await user_store.insert_user(conn, email=email, role="admin", themes=(),
                                         password_hash=None)
        ana = await user_store.get_user_by_email(conn, "ana@ensemble.example.fr")
        assert ana is not None
        await user_store.update_user(conn, ana.id, disabled=True)
    await asked(pool, "+33600000240", "question sur le collège du quartier", NOW)
    assert await answers.escalate(pool, rules, LATE, mail=MAIL) == 1
    assert [r["to_address"] for r in await notices(pool)] == ["bob@ensemble.example.fr"]


async def test_without_a_from_address_questions_escalate_and_nothing_is_queued(
    pool: asyncpg.Pool,
) -> None:
    silent = StaffMail.from_settings(load_settings({"DATABASE_URL": "postgresql://test"}))
    assert silent.sender is None
    question = await asked(pool, "+33600000250", "question sur l'école de ma fille", NOW)
    assert await answers.escalate(pool, RULES, LATE, mail=silent) == 1
    async with pool.acquire() as conn:
        row = await questions_store.get_question(conn, question)
        assert row is not None and row["status"] == "escalated"
    assert await notices(pool) == []


async def test_erasing_the_citizen_removes_their_words_from_the_leads_notice(
    pool: asyncpg.Pool, settings: Settings,
) -> None:
    """The notice quotes the question; erasure takes the quote, the rest of the row stays."""
    private = settings.model_copy(update={"privacy_hash_secret": SecretStr("k")})
    kept = await asked(pool, "+33600000261", "question sur la cantine du collège", NOW)
    await asked(pool, "+33600000260", "Pourquoi l'école de Lucie ferme-t-elle ?", NOW)
    assert await answers.escalate(pool, RULES, LATE, mail=MAIL) == 2
    async with pool.acquire() as conn:
        await rights.erase(conn, "+33600000260", by="dpo", settings=private)
    rows = await notices(pool)
    assert len(rows) == 2  # the record that a notice went stays, with its Message-ID
    erased = next(r for r in rows if r["dedupe_key"] != f"sla-breach:{kept}:{LEAD}")
    assert "Lucie" not in erased["text_body"] and erased["text_body"] == ""
    other = next(r for r in rows if r["dedupe_key"] == f"sla-breach:{kept}:{LEAD}")
    assert "cantine" in other["text_body"]


async def test_a_waiting_notice_about_an_erased_question_is_not_sent(
    pool: asyncpg.Pool, settings: Settings,
) -> None:
    private = settings.model_copy(update={"privacy_hash_secret": SecretStr("k")})
    await asked(pool, "+33600000270", "Pourquoi l'école de Marc ferme-t-elle ?", NOW)
    assert await answers.escalate(pool, RULES, LATE, mail=MAIL) == 1
    async with pool.acquire() as conn:
        await rights.erase(conn, "+33600000270", by="dpo", settings=private)
    [row] = await notices(pool)
    assert (row["status"], row["text_body"]) == ("suppressed", "")
    assert row["suppressed_reason"] == "erased on request"
