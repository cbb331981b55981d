"""The expert inbox and knowledge lookups on a real database, without SMPP.

Supporters' texts go through the real pipeline writer (engine + store, one
transaction per MO); experts use the store functions directly.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from gateway.geo import postal_position
from gateway.services import answers
from gateway.services.answers import AnswerTooLong
from gateway.services.campaign_data import new_committee
from gateway.store import committees as committees_store
from gateway.store import questions as questions_store
from gateway.store import timeline as timeline_store
from gateway.store.committees import NewCampaignEvent
from tests.support.e2e import wait_for
from tests.support.questions import FR, NOW, RULES, Supporter, asked


async def events_of(
    pool: asyncpg.Pool, msisdn: str, shortcode: str = FR
) -> list[dict[str, object]]:
    async with pool.acquire() as conn:
        return await timeline_store.list_for_contact(conn, msisdn, shortcode)


# -- a question reaches its theme's queue ------------------------------------------------

async def test_a_free_text_question_becomes_a_row_in_its_themes_queue(pool: asyncpg.Pool) -> None:
    [ack] = await Supporter(pool, "+33600000001").text("Quand rouvrira le lycée de ma ville ?")
    assert "(Education)" in ack and "Réponse sous 2 jours" in ack
    async with pool.acquire() as conn:
        [row] = await questions_store.list_queue(conn, "education", now=NOW)
        assert await questions_store.list_queue(conn, "sante", now=NOW) == []
    assert (row["msisdn"], row["program"], row["body"], row["status"], row["via"]) == (
        "+33600000001", "ensemble", "Quand rouvrira le lycée de ma ville ?", "open", "classified")
    assert row["sla_due"] - row["asked_at"] == timedelta(days=2) and not row["overdue"]
    assert [e["name"] for e in await events_of(pool, "+33600000001")] == ["question_asked"]


async def test_the_queue_puts_the_most_urgent_first_and_flags_overdue(pool: asyncpg.Pool) -> None:
    late = await asked(pool, "+33600000002", "question sur l'école de mon fils", NOW)
    early = await asked(pool, "+33600000003", "question sur le collège du quartier",
                        NOW + timedelta(hours=1))
    async with pool.acquire() as conn:
        rows = await questions_store.list_queue(
            conn, "education", now=NOW + timedelta(days=2, minutes=30))
    assert [(r["id"], r["overdue"]) for r in rows] == [(late, True), (early, False)]


# -- claims ------------------------------------------------------------------------------

async def test_two_experts_racing_one_claim_exactly_one_wins(pool: asyncpg.Pool) -> None:
    qid = await asked(pool, "+33600000010", "les urgences de l'hôpital ferment la nuit")
    first, second = await pool.acquire(), await pool.acquire()
    try:
        outer = first.transaction()
        await outer.start()
        won = await questions_store.claim(first, qid, "alice@example.org", now=NOW)
        assert won.won  # alice holds the row lock until her transaction commits
        bob_pid = second.get_server_pid()
        racing = asyncio.ensure_future(
            questions_store.claim(second, qid, "bob@example.org", now=NOW))

        async def bob_waits_for_the_row_lock() -> bool:
            return bool(await first.fetchval(
                "SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = $1",
                bob_pid))

        await wait_for(bob_waits_for_the_row_lock)  # both UPDATEs reached the same row
        assert not racing.done()
        await outer.commit()
        lost = await racing  # ...then re-checks the condition and finds it claimed
    finally:
        await pool.release(first)
        await pool.release(second)
    assert (lost.outcome, lost.won, lost.claimed_by) == (
        "already_claimed", False, "alice@example.org")
    names = [e["name"] for e in await events_of(pool, "+33600000010")]
    assert names == ["question_asked", "question_claimed"]


async def test_many_concurrent_claims_have_one_winner(pool: asyncpg.Pool) -> None:
    qid = await asked(pool, "+33600000011", "les urgences de l'hôpital ferment la nuit")

    async def claim(expert: str) -> questions_store.ClaimResult:
        async with pool.acquire() as conn:
            return await questions_store.claim(conn, qid, expert, now=NOW)

    results = await asyncio.gather(*(claim(f"expert{i}@example.org") for i in range(8)))
    winners = [r for r in results if r.won]
    assert len(winners) == 1
    assert {r.claimed_by for r in results} == {winners[0].claimed_by}
    async with pool.acquire() as conn:
        again = await questions_store.claim(conn, qid, str(winners[0].claimed_by), now=NOW)
        missing = await questions_store.claim(conn, 10**9, "x@example.org", now=NOW)
    assert again.won and missing.outcome == "not_found"


async def test_a_released_question_can_be_claimed_by_someone_else(pool: asyncpg.Pool) -> None:
    qid = await asked(pool, "+33600000012", "question sur le prix de l'essence")
    async with pool.acquire() as conn:
        assert (await questions_store.claim(conn, qid, "a@example.org", now=NOW)).won
        assert not await questions_store.release(conn, qid, "b@example.org")
        assert await questions_store.release(conn, qid, "a@example.org")
        assert (await questions_store.claim(conn, qid, "b@example.org", now=NOW)).won


# -- answers -----------------------------------------------------------------------------

async def test_an_answer_goes_out_through_the_outbox_and_onto_the_timeline(
    pool: asyncpg.Pool,
) -> None:
    msisdn = "+33600000020"
    qid = await asked(pool, msisdn, "les urgences de l'hôpital ferment la nuit, pourquoi ?")
    later = datetime.now(UTC)  # the MT's created_at is the database's clock: keep them in step
    async with pool.acquire() as conn:
        await questions_store.claim(conn, qid, "alice@example.org", now=NOW)
        refused = await answers.answer(
            conn, RULES, qid, expert="bob@example.org", text="Parce que.", now=later)
        result = await answers.answer(
            conn, RULES, qid, expert="alice@example.org",
            text="  L'ARS a réduit les gardes;\n un service de nuit rouvre en juin. ", now=later)
        twice = await answers.answer(
            conn, RULES, qid, expert="alice@example.org", text="Encore", now=later)
        mt = await conn.fetchrow("SELECT * FROM outbound WHERE id = $1", result.outbound_id)
        [stored] = await questions_store.list_for_contact(conn, msisdn, FR)
    assert (refused.outcome, refused.claimed_by) == ("claimed_by_other", "alice@example.org")
    assert result.outcome == "answered" and twice.outcome == "already_answered"
    assert mt["body"] == ("Ensemble Citoyen : L'ARS a réduit les gardes; un service de nuit "
                          "rouvre en juin. STOP au 38200")
    assert (mt["msisdn"], mt["shortcode"], mt["status"], mt["in_reply_to"]) == (
        msisdn, FR, "queued", None)
    assert (stored["status"], stored["answered_by"], stored["answered_at"], stored["outbound_id"]
            ) == ("answered", "alice@example.org", later, result.outbound_id)
    events = await events_of(pool, msisdn)
    assert [e["name"] for e in events] == ["question_asked", "question_claimed",
                                           "question_answered"]
    assert events[-1]["data"] == {"question_id": qid, "theme": "sante",
                                  "answered_by": "alice@example.org",
                                  "outbound_id": result.outbound_id}
    async with pool.acquire() as conn:
        timeline = await timeline_store.full_timeline(conn, msisdn, FR)
    assert [t["kind"] for t in timeline][-2:] == ["event", "mt"]  # who answered, then the MT


async def test_an_open_question_is_claimed_and_answered_at_once(pool: asyncpg.Pool) -> None:
    qid = await asked(pool, "+33600000021", "une question sur le logement social")
    async with pool.acquire() as conn:
        result = await answers.answer(
            conn, RULES, qid, expert="carol@example.org", text="Oui.", now=NOW)
        row = await questions_store.get_question(conn, qid)
        with pytest.raises(AnswerTooLong, match="shorten it"):
            await answers.answer(conn, RULES, qid, expert="c@example.org",
                                 text="blabla " * 200, now=NOW)
        with pytest.raises(ValueError, match="empty"):
            await answers.answer(conn, RULES, qid, expert="c@example.org",
                                 text="  ", now=NOW)
    assert result.outcome == "answered"
    assert row is not None and (row["status"], row["claimed_by"]) == ("answered",
                                                                     "carol@example.org")


# -- escalation and response times -------------------------------------------------------

async def test_unclaimed_questions_past_their_sla_go_to_the_themes_leads(
    pool: asyncpg.Pool,
) -> None:
    overdue = await asked(pool, "+33600000030", "question sur l'école de mon fils", NOW)
    claimed = await asked(pool, "+33600000031", "question sur le collège du quartier", NOW)
    fresh = await asked(pool, "+33600000032", "question sur le lycée du quartier",
                        NOW + timedelta(days=1))
    async with pool.acquire() as conn:
        await questions_store.claim(conn, claimed, "a@example.org", now=NOW)
    assert await answers.escalate(pool, RULES, NOW + timedelta(days=2, hours=1)) == 1
    assert await answers.escalate(pool, RULES, NOW + timedelta(days=2, hours=2)) == 0
    async with pool.acquire() as conn:
        rows = {r["id"]: r for r in await questions_store.list_queue(
            conn, "education", now=NOW + timedelta(days=2, hours=2))}
        # escalated stays in the queue, flagged overdue, and can still be claimed
        assert (await questions_store.claim(conn, overdue, "lead@example.org", now=NOW)).won
    assert (rows[overdue]["status"], rows[overdue]["escalated_to"], rows[overdue]["overdue"]) == (
        "escalated", ["education-leads@ensemble.example.fr"], True)
    assert rows[claimed]["status"] == "claimed" and rows[fresh]["status"] == "open"
    assert [e["name"] for e in await events_of(pool, "+33600000030")][-2:] == [
        "question_escalated", "question_claimed"]


async def test_response_time_per_theme(pool: asyncpg.Pool) -> None:
    for i, hours in enumerate((1, 3)):
        qid = await asked(pool, f"+3360000004{i}", "question sur l'école de mon fils")
        async with pool.acquire() as conn:
            await answers.answer(conn, RULES, qid, expert="a@example.org",
                                 text="Réponse.", now=NOW + timedelta(hours=hours))
    await asked(pool, "+33600000049", "les urgences de l'hôpital ferment la nuit")
    async with pool.acquire() as conn:
        rows = {r["theme"]: r for r in await questions_store.response_times(
            conn, since=NOW - timedelta(days=1), now=NOW + timedelta(days=3))}
    assert set(rows) == {"education", "sante"}
    education, sante = rows["education"], rows["sante"]
    assert (education["asked"], education["answered"], education["waiting"]) == (2, 2, 0)
    assert education["median_seconds"] == 2 * 3600
    assert (sante["answered"], sante["waiting"], sante["overdue"]) == (0, 1, 1)
    assert sante["median_seconds"] is None


# -- knowledge lookups -------------------------------------------------------------------

async def test_nearest_committee_by_postal_code_distance_then_area(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        for c in (
            new_committee("Paris 11e", "10 rue Oberkampf", "75011", "FR"),
            new_committee("Paris 15e", "5 rue de Vaugirard", "75015", "FR"),
            new_committee("Lyon", "1 quai Rambaud", "69002", "FR"),
            new_committee("LA Rise", "1 Main St, Los Angeles", "90012", "US"),
            new_committee("NYC Rise", "5 Broadway, New York", "10004", "US"),
        ):
            await committees_store.insert_committee(conn, c)

        async def nearest(country: str, code: str) -> str | None:
            area, lat, lon = postal_position(country, code)
            row = await committees_store.get_nearest_committee(
                conn, country=country, postal_code=code, area=area, lat=lat, lon=lon)
            return None if row is None else str(row["name"])

        assert await nearest("FR", "75015") == "Paris 15e"  # same postal code
        assert await nearest("FR", "75020") == "Paris 11e"  # same département, lowest id
        assert await nearest("FR", "13001") is None  # nothing in the Bouches-du-Rhône
        assert await nearest("US", "90210") == "LA Rise"  # Beverly Hills: by distance
        assert await nearest("US", "11201") == "NYC Rise"  # Brooklyn
        assert await nearest("US", "60601") is None  # Chicago: over 300 km from both


async def test_where_and_events_are_answered_in_the_mos_transaction(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await committees_store.insert_committee(conn, new_committee(
            "LA Rise", "1 Main St, Los Angeles", "90012", "US"))
        for title, days, program in (("Phone bank", 2, "rise"), ("Town hall", 1, None),
                                     ("Past rally", -1, "rise"), ("Fête", 1, "ensemble")):
            await committees_store.insert_event(conn, NewCampaignEvent(
                title=title, starts_at=NOW + timedelta(days=days), timezone="America/New_York",
                location="Online", program=program, country="US"))
    phone = Supporter(pool, "+13105550100", "12345")
    assert await phone.text("where 90210") == [
        "Rise Up Alerts: your nearest office is LA Rise, 1 Main St, Los Angeles. Text EVENTS "
        "for what's coming up."]
    assert await phone.text("WHERE 33139") == [
        "Rise Up Alerts: we have no office near 33139 yet. Text EVENTS for what's coming up."]
    assert await phone.text("events") == [
        "Rise Up Alerts: coming up: Thu May 2 11am Town hall, Online; "
        "Fri May 3 11am Phone bank, Online"]
    names = [e["name"] for e in await events_of(pool, "+13105550100", "12345")]
    assert names == ["keyword_matched", "knowledge_lookup"] * 3
