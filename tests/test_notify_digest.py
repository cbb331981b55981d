"""The experts' digest on a real database, the clock driven by the test: only new questions
of the expert's themes, nothing when nothing is new, no repeat and no skip across a crash
or a transaction that commits late, one digest with two gateways, and the expert's switch."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from gateway.config import load_settings
from gateway.notify.digest import DigestJob, DigestSchedule
from gateway.notify.staff_mail import StaffMail
from gateway.services import answers
from gateway.store import inbound as inbound_store
from gateway.store import notifications as notifications_store
from gateway.store import users as user_store
from gateway.store.db import create_pool
from gateway.store.inbound import NewInbound
from gateway.tasks import TRANSIENT, Supervisor
from tests.support.clock import ManualClock
from tests.support.e2e import wait_for
from tests.support.pages_site import form_token
from tests.support.questions import FR, NOW, RULES, Supporter, asked
from tests.support.webapi import WebApi

MAIL = StaffMail.from_settings(load_settings({
    "DATABASE_URL": "postgresql://test", "GATEWAY_MAIL_FROM_ADDRESS": "contact@ensemble.example.fr",
    "GATEWAY_PUBLIC_BASE_URL": "https://act.ensemble.fr"}))
DAILY = DigestSchedule(every_minutes=1440, hour=8, zone=ZoneInfo("UTC"))
DAY = timedelta(days=1)
SCHOOL = "question sur l'école de mon fils"
HOSPITAL = "les urgences de l'hôpital ferment la nuit"
POLICE = "la police ne vient jamais dans mon quartier"


def digest_job(pool: asyncpg.Pool, clock: ManualClock) -> DigestJob:
    return DigestJob(pool, lambda: RULES, schedule=DAILY, mail=MAIL, clock=clock)


async def expert(pool: asyncpg.Pool, email: str, *themes: str) -> int:
    async with pool.acquire() as conn:
        user = await user_store.insert_user(conn, email=email, role="expert", themes=themes,
                                            password_hash=None)
    return user.id


async def digests(pool: asyncpg.Pool) -> dict[str, list[asyncpg.Record]]:
    """Queued digests by recipient, oldest first."""
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT * FROM mail_outbox WHERE dedupe_key LIKE 'digest:%'"
                                " ORDER BY id")
    found: dict[str, list[asyncpg.Record]] = {}
    for row in rows:
        found.setdefault(row["to_address"], []).append(row)
    return found


async def test_a_digest_lists_only_new_questions_of_the_experts_themes(
    pool: asyncpg.Pool,
) -> None:
    clock = ManualClock(NOW)  # 15:00 UTC; the slot is 08:00
    job = digest_job(pool, clock)
    await expert(pool, "edu@example.org", "education")
    await expert(pool, "both@example.org", "education", "sante")
    assert await job.tick() == 0  # experts seen for the first time: no digest of the past
    school = await asked(pool, "+33600000301", SCHOOL, NOW)
    await asked(pool, "+33600000302", HOSPITAL, NOW)
    await asked(pool, "+33600000303", POLICE, NOW)  # nobody's theme here
    answered = await asked(pool, "+33600000304", "question sur le lycée du quartier", NOW)
    async with pool.acquire() as conn:
        await answers.answer(conn, RULES, answered, expert="both@example.org", text="Oui.",
                             now=NOW)
    assert await job.tick() == 0  # the same slot: done already

    clock.set(NOW + timedelta(hours=17))  # the next day, 08:00
    assert await job.tick() == 2
    assert await job.tick() == 0
    sent = await digests(pool)
    [edu] = sent["edu@example.org"]
    assert edu["subject"] == "1 nouvelle question dans vos thèmes"
    assert edu["purpose"] == "notification" and edu["question_id"] is None
    assert edu["dedupe_key"].endswith(":2024-05-02T08:00Z")
    assert "- Education : 1 nouvelle question." in edu["text_body"]
    assert "Sans expert : 1 ; la plus ancienne attend depuis 17 heures" in edu["text_body"]
    assert f"https://act.ensemble.fr/inbox/questions/{school}\n" in edu["text_body"]
    assert "https://act.ensemble.fr/inbox\n" in edu["text_body"]
    assert "Santé" not in edu["text_body"] and "Sécurité" not in edu["text_body"]
    [both] = sent["both@example.org"]
    assert both["subject"] == "2 nouvelles questions dans vos thèmes"
    assert re.findall(r"^- (.*)$", both["text_body"], re.M) == [
        "Education : 1 nouvelle question.", "Santé : 1 nouvelle question."]  # menu order

    clock.advance(DAY)  # nothing new: no mail, the slot is still done
    assert await job.tick() == 0
    later = await asked(pool, "+33600000305", "question sur le collège du quartier",
                        clock() - timedelta(hours=1))
    clock.advance(DAY)
    assert await job.tick() == 2
    [_, edu2] = (await digests(pool))["edu@example.org"]
    assert "- Education : 1 nouvelle question." in edu2["text_body"]  # not the first again
    assert "Sans expert : 2 ; la plus ancienne attend depuis 2 jours 17 heures" in edu2[
        "text_body"]
    assert f"/inbox/questions/{later}" not in edu2["text_body"]  # the oldest is linked
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT last_slot, last_sent_at FROM expert_digests")
    assert {r["last_slot"] for r in rows} == {clock().replace(hour=8)}


async def test_a_crash_mid_digest_neither_loses_nor_repeats_a_question(
    pool: asyncpg.Pool,
) -> None:
    clock = ManualClock(NOW)
    await expert(pool, "edu@example.org", "education")
    assert await digest_job(pool, clock).tick() == 0
    for i in range(2):
        await asked(pool, f"+3360000031{i}", f"{SCHOOL} {i}", NOW)
    clock.advance(DAY)
    async with pool.acquire() as blocker, pool.acquire() as watcher:
        # hold the outbox so the digest's transaction stops at its INSERT, then kill it there
        tx = blocker.transaction()
        await tx.start()
        await blocker.execute("LOCK TABLE mail_outbox IN EXCLUSIVE MODE")
        ticking = asyncio.create_task(digest_job(pool, clock).tick())
        waiting = """SELECT pid FROM pg_stat_activity
                     WHERE datname = current_database() AND wait_event_type = 'Lock'"""

        async def stuck() -> bool:
            return await watcher.fetchval(waiting) is not None
        await wait_for(stuck, within=10)
        assert await watcher.fetchval(f"SELECT pg_terminate_backend(({waiting}))")
        with pytest.raises(TRANSIENT):
            await ticking  # the supervisor retries it after such an error
        await tx.rollback()
    assert await digests(pool) == {}
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT last_slot FROM expert_digests") == NOW.replace(hour=8)

    restarted = digest_job(pool, clock)  # a fresh gateway, the same slot
    assert await restarted.tick() == 1
    assert await restarted.tick() == 0
    [one] = (await digests(pool))["edu@example.org"]
    assert one["subject"] == "2 nouvelles questions dans vos thèmes"
    await asked(pool, "+33600000319", SCHOOL, clock())
    clock.advance(DAY)
    assert await restarted.tick() == 1
    [_, two] = (await digests(pool))["edu@example.org"]
    assert two["subject"] == "1 nouvelle question dans vos thèmes"


async def test_a_question_committed_after_a_later_one_is_not_skipped(pool: asyncpg.Pool) -> None:
    """Ids and receipt times are drawn before commit; the watermark is not fooled by them."""
    clock = ManualClock(NOW)
    job = digest_job(pool, clock)
    await expert(pool, "edu@example.org", "education")
    assert await job.tick() == 0
    slow = Supporter(pool, "+33600000320")
    async with pool.acquire() as conn:
        tx = conn.transaction()
        await tx.start()  # a question written first, committed last
        mo = NewInbound(slow.msisdn, FR, "question sur le lycée du quartier", 0, 1, NOW)
        [mo_id] = await slow.ids.take(conn, 1)
        await inbound_store.insert_batch(conn, [mo], [mo_id])
        await slow.writer.decide_and_write(conn, [(mo_id, mo)])
        first = await conn.fetchval("SELECT id FROM questions WHERE inbound_id = $1", mo_id)
        second = await asked(pool, "+33600000321", SCHOOL, NOW)
        assert first < second
        clock.advance(DAY)
        assert await job.tick() == 0  # the open transaction holds both back: nothing yet
        await tx.commit()
    clock.advance(DAY)
    assert await job.tick() == 1
    [digest] = (await digests(pool))["edu@example.org"]
    assert "- Education : 2 nouvelles questions." in digest["text_body"]


async def test_two_gateways_ticking_at_once_send_one_digest_each(
    pool: asyncpg.Pool, db_url: str,
) -> None:
    clock = ManualClock(NOW)
    for i in range(5):
        await expert(pool, f"e{i}@example.org", "education", "sante")
    assert await digest_job(pool, clock).tick() == 0
    await asked(pool, "+33600000330", SCHOOL, NOW)
    await asked(pool, "+33600000331", HOSPITAL, NOW)
    clock.advance(DAY)
    other = await create_pool(db_url, min_size=1, max_size=2)  # the second gateway's
    try:
        counts = await asyncio.gather(digest_job(pool, clock).tick(),
                                      digest_job(other, clock).tick(),
                                      digest_job(pool, clock).tick())
    finally:
        await other.close()
    assert sum(counts) == 5
    sent = await digests(pool)
    assert sorted(sent) == [f"e{i}@example.org" for i in range(5)]
    assert all(len(rows) == 1 for rows in sent.values())


async def test_disabled_accounts_and_experts_who_turned_it_off_get_none(
    pool: asyncpg.Pool,
) -> None:
    clock = ManualClock(NOW)
    job = digest_job(pool, clock)
    await expert(pool, "on@example.org", "education")
    off = await expert(pool, "off@example.org", "education")
    gone = await expert(pool, "gone@example.org", "education")
    async with pool.acquire() as conn:
        assert await notifications_store.set_enabled(conn, off, False, now=NOW) is False
        await user_store.update_user(conn, gone, disabled=True)
    assert await job.tick() == 0
    await asked(pool, "+33600000340", SCHOOL, NOW)
    clock.advance(DAY)
    assert await job.tick() == 1
    assert sorted(await digests(pool)) == ["on@example.org"]

    async with pool.acquire() as conn:  # both back: no backlog of what they missed
        assert await notifications_store.set_enabled(conn, off, True, now=clock()) is True
        await user_store.update_user(conn, gone, disabled=False)
    clock.advance(DAY)
    assert await job.tick() == 0
    await asked(pool, "+33600000341", SCHOOL, clock())
    clock.advance(DAY)
    assert await job.tick() == 3
    sent = await digests(pool)
    assert [r["subject"] for r in sent["off@example.org"] + sent["gone@example.org"]] == [
        "1 nouvelle question dans vos thèmes"] * 2


async def test_the_job_runs_under_the_supervisor_on_the_tests_clock(pool: asyncpg.Pool) -> None:
    clock = ManualClock(NOW)
    job = digest_job(pool, clock)
    ticks = 0

    async def counted_tick() -> int:
        nonlocal ticks
        queued = await job.tick()
        ticks += 1  # a tick that has ended
        return queued

    async def ticked(times: int) -> bool:
        return ticks >= times

    async def one_digest() -> bool:
        return len((await digests(pool)).get("edu@example.org", [])) == 1

    await expert(pool, "edu@example.org", "education")
    supervisor = Supervisor()
    supervisor.every("expert-digests", 0.01, counted_tick)
    try:
        await wait_for(lambda: ticked(1))
        await asked(pool, "+33600000351", SCHOOL, NOW)
        seen = ticks
        await wait_for(lambda: ticked(seen + 3))
        assert await digests(pool) == {}  # ticks go by, but the clock has not reached a slot
        clock.advance(DAY)
        await wait_for(one_digest)
    finally:
        await supervisor.stop()
    assert supervisor.status() == {"expert-digests": "stopped"}


async def test_an_expert_turns_the_digest_off_on_the_inbox_page_and_the_api(
    site: WebApi,
) -> None:
    staff = await site.staff("expert", email="edu@example.org", themes=("education",))
    await site.login("edu@example.org")
    page = await site.client.get("/inbox")
    text = await page.text()
    assert '<strong id="digest-state">on</strong>' in text
    turned = await site.client.post("/inbox/digest", data={
        "csrf_token": form_token(text), "on": "0"}, allow_redirects=False)
    assert (turned.status, turned.headers["Location"]) == (303, "/inbox?notice=digest_off")
    text = await (await site.client.get("/inbox?notice=digest_off")).text()
    assert '<strong id="digest-state">off</strong>' in text
    assert "You will not get the e-mail digest any more." in text

    api = await site.client.get("/api/v1/inbox/digest", headers=staff.bearer)
    assert await api.json() == {"on": False}
    back = await site.client.patch("/api/v1/inbox/digest", json={"on": True},
                                   headers=staff.bearer)
    assert (back.status, await back.json()) == (200, {"on": True})
    bad = await site.client.patch("/api/v1/inbox/digest", json={"on": "maybe"},
                                  headers=staff.bearer)
    assert bad.status == 400
    async with site.pool.acquire() as conn:
        audited = await conn.fetch("SELECT detail FROM audit_log WHERE action = 'user.updated'"
                                   " ORDER BY id")
    assert [row["detail"] for row in audited] == ['{"digest": false}', '{"digest": true}']
