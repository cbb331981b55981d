"""`gateway demo seed`: refused without the demo mark; on a marked database, the story once.

The seed drives the product's own writers (the MO pipeline, billing, the
broadcast materializer, the public form), so the checks here read what those
wrote and then ask the product itself: WHERE and EVENTS through the real
engine and pipeline, the contacts list and the expert inbox through the pages.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from pydantic import SecretStr

from gateway.config import Settings
from gateway.demo import cast
from gateway.demo.marker import NotADemoDatabase
from gateway.demo.places import COMMITTEES, EVENTS
from gateway.demo.seed import seed
from gateway.devdb import mark_demo
from gateway.engine import load_rules
from gateway.engine.holder import RulesHolder
from gateway.pipeline.decide import DecisionWriter
from gateway.privacy.rights import erase
from gateway.store import inbound as inbound_store
from gateway.store.inbound import NewInbound
from tests.support.cli import CLEAN_ENV, PYTHONPATH, ROOT
from tests.support.pages_site import start_site

COUNTS = {
    "committees": "SELECT count(*) FROM committees",
    "events": "SELECT count(*) FROM campaign_events WHERE starts_at > now()",
    "contacts": "SELECT count(*) FROM contacts",
    "inbound": "SELECT count(*) FROM inbound",
    "outbound": "SELECT count(*) FROM outbound",
    "consent": "SELECT count(*) FROM consent_events",
    "donations": "SELECT count(*) FROM donations",
    "questions": "SELECT count(*) FROM questions",
    "broadcasts": "SELECT count(*) FROM broadcasts",
}


async def counts(pool: asyncpg.Pool) -> dict[str, int]:
    async with pool.acquire() as conn:
        return {name: await conn.fetchval(sql) for name, sql in COUNTS.items()}


async def texted(pool: asyncpg.Pool, settings: Settings, msisdn: str, body: str) -> list[str]:
    """A new supporter's MO through the real engine and pipeline writer; the replies queued."""
    mo = NewInbound(msisdn, cast.RISE_CODE, body, 0, 1, datetime.now(UTC))
    async with pool.acquire() as conn, conn.transaction():
        [mo_id] = await inbound_store.IdReserve("inbound_id_seq", block=1).take(conn, 1)
        await inbound_store.insert_batch(conn, [mo], [mo_id])
        rules = RulesHolder(load_rules(settings.keywords))
        await DecisionWriter(rules).decide_and_write(conn, [(mo_id, mo)])
        rows = await conn.fetch("SELECT body FROM outbound WHERE in_reply_to = $1", mo_id)
    return [r["body"] for r in rows]


async def test_the_command_refuses_a_database_without_the_demo_mark(
    pool: asyncpg.Pool, db_url: str, settings: Settings,
) -> None:
    env = {**CLEAN_ENV, "PYTHONPATH": PYTHONPATH, "DATABASE_URL": db_url,
           "GATEWAY_KEYWORDS": str(ROOT / "keywords.yaml"), "GATEWAY_LOG_LEVEL": "warning"}
    done = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "gateway.cli", "demo", "seed"],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=120, check=False)
    assert done.returncode == 1, done.stderr
    assert "is not marked as a demo database" in done.stderr
    assert "make demo" in done.stderr and done.stdout == ""
    with pytest.raises(NotADemoDatabase):  # the function refuses alike
        await seed(pool, settings, load_rules(settings.keywords))
    assert set((await counts(pool)).values()) == {0}


async def test_a_marked_database_gets_the_story_once_and_the_product_answers_from_it(
    pool: asyncpg.Pool, settings: Settings,
) -> None:
    async with pool.acquire() as conn:
        await mark_demo(conn)
    settings = settings.model_copy(update={"web_cookie_secure": False,
                                           "privacy_hash_secret": SecretStr("demo-key" * 4)})
    first = await seed(pool, settings, load_rules(settings.keywords))
    people = cast.cast()
    assert (first.people, first.committees, first.events, first.written_questions) == (
        len(people), len(COMMITTEES), len(EVENTS), len(cast.WRITTEN_QUESTIONS))
    assert 250 <= len(people) <= 500
    after_first = await counts(pool)
    assert after_first["contacts"] == len(people) and after_first["broadcasts"] == 1

    async with pool.acquire() as conn:
        zones = await conn.fetchval(
            "SELECT count(DISTINCT z) FROM contacts, unnest(timezones) z WHERE z LIKE 'America/%'"
            " OR z LIKE 'Pacific/%'")
        assert zones >= 7  # Eastern to Hawaii
        programs = dict(await conn.fetch(
            "SELECT program, count(*) FROM consent_events WHERE kind = 'opt_in_confirmed' "
            "GROUP BY 1"))
        assert programs["rise"] > 150 and programs["ensemble"] > 60
        # as a real opt-in writes them: the MO, the disclosure texted and its version
        ledger = await conn.fetch(
            "SELECT DISTINCT program, disclosure_version FROM consent_ledger "
            "WHERE kind = 'opt_in_confirmed' AND inbound_id IS NOT NULL "
            "AND disclosure_text LIKE '%' || program_name || '%'")
        assert {tuple(r) for r in ledger} == {("rise", "us-optin-v3"),
                                              ("ensemble", "fr-optin-v1")}
        assert await conn.fetchval(
            "SELECT count(*) FROM consent_events WHERE kind = 'opted_out'") >= 10
        assert await conn.fetchval(
            "SELECT count(*) FROM contacts WHERE state->'profile'->>'gender' IS NOT NULL") > 100
        gifts = {tuple(r) for r in await conn.fetch(
            "SELECT method, status FROM donations WHERE status IN ('charged', 'billed')")}
        assert {("carrier", "billed"), ("card", "charged")} <= gifts
        assert await conn.fetchval(
            "SELECT count(*) FROM donation_events WHERE kind IN ('charged', 'billed')") >= 20
        # a gift billed on the phone is billed on its day in the story (its MT's final
        # receipt), not when the seed ran: the reconciliation page ages it from then
        late_bills = await conn.fetchval(
            "SELECT count(*) FROM donation_events b JOIN donation_events s"
            " ON s.donation_id = b.donation_id AND s.kind = 'billing_submitted'"
            " WHERE b.kind = 'billed' AND b.occurred_at > s.occurred_at + interval '1 hour'")
        assert late_bills == 0
        assert await conn.fetchval(
            "SELECT count(*) FROM outbound WHERE final_at > now() - interval '1 day'"
            " AND created_at < now() - interval '2 days'") == 0
        broadcast = await conn.fetchrow(
            "SELECT b.status, b.recipients, count(o.id) FILTER (WHERE o.status = 'delivered') "
            "AS delivered FROM broadcasts b JOIN outbound o ON o.broadcast_id = b.id "
            "GROUP BY b.id")
        assert broadcast["status"] == "done" and broadcast["recipients"] > 150
        assert broadcast["delivered"] == broadcast["recipients"]
        replies = await conn.fetchval(
            "SELECT count(*) FROM inbound i WHERE i.received_at >= (SELECT min(submitted_at) "
            "FROM outbound WHERE broadcast_id IS NOT NULL)")
        assert replies >= 10
        waiting = await conn.fetch(
            "SELECT DISTINCT theme, channel FROM questions WHERE status = 'open'")
        assert len({r["theme"] for r in waiting}) >= 5
        assert {r["channel"] for r in waiting} == {"sms", "web"}
        assert await conn.fetchval("SELECT count(*) FROM outbound WHERE status = 'queued'") == 0
        # a reply is made at the story's time of the MO it answers, not when the seed ran
        replies = await conn.fetch(
            "SELECT i.received_at, o.created_at, o.submitted_at FROM outbound o"
            " JOIN inbound i ON i.id = o.in_reply_to")
        assert len(replies) > 300
        # (made after its MO and no later than sent; a gift's receipt answers the GIVE
        # after the YES that came minutes later)
        late = [tuple(r) for r in replies
                if not r["received_at"] <= r["created_at"] <= r["submitted_at"]]
        assert late == []
        old = [r for r in replies if r["received_at"] < datetime.now(UTC) - timedelta(days=7)]
        assert len(old) > 100  # the story's weeks, not all of it "just now"

    second = await seed(pool, settings, load_rules(settings.keywords))
    assert second.summary() == "already seeded, nothing added"
    assert await counts(pool) == after_first

    async with pool.acquire() as conn:  # erased in the demo: not brought back by the seed
        await erase(conn, people[0].msisdn, by="test", settings=settings)
    third = await seed(pool, settings, load_rules(settings.keywords))
    assert third.summary() == "already seeded, nothing added"

    where = await texted(pool, settings, "+12125550150", "WHERE 10001")
    assert any("Rise Up Manhattan (demo)" in text for text in where), where
    events = await texted(pool, settings, "+12125550151", "EVENTS")
    assert any("Phone bank for paid family leave (demo)" in text for text in events), events

    site = await start_site(pool, settings)
    try:
        admin = await site.staff("admin")
        contacts = await site.client.get("/contacts", headers=admin.bearer)
        html = await contacts.text()
        assert contacts.status == 200 and "+12065550101" in html
        # the tour's search by name, misspelt: the volunteers who gave "Jordan" as their name
        jordans = {p.msisdn for p in people[1:] if any(t.body == "Jordan" for t in p.texts)}
        assert jordans
        found = await site.client.get("/contacts?name=jordn", headers=admin.bearer)
        html = await found.text()
        assert found.status == 200 and all(msisdn in html for msisdn in jordans), html
        assert "+12065550101" not in html
        inbox = await site.client.get("/inbox", headers=admin.bearer)
        assert inbox.status == 200 and "professeur de maths" in await inbox.text()
        dashboard = await site.client.get("/dashboard", headers=admin.bearer)
        assert dashboard.status == 200 and "USD" in await dashboard.text()
    finally:
        await site.client.close()
