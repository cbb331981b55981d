"""A broadcast that would send people past their program's promised frequency is refused,
unless overridden explicitly, and the override is in the audit log.

keywords.yaml promises `rise` subscribers up to 6 messages a month. The two
New York subscribers of the seed already had six of rise's broadcasts; the
others had none.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from gateway.broadcast import control, service
from gateway.broadcast.compose_checks import ComposeError
from gateway.broadcast.frequency import FREQUENCY_OVERRIDDEN, FREQUENCY_SKIPPED
from gateway.engine import load_rules
from gateway.store import broadcasts as broadcast_store
from gateway.store import outbound as outbound_store
from gateway.store.outbound import NewOutbound
from tests.support.broadcasts import (
    CODE,
    NOW,
    POLICY,
    VARIABLES,
    create,
    materialize,
    seed,
)
from tests.support.cli import broadcast_cli as gateway
from tests.support.pages_site import form_token
from tests.support.webapi import WebApi

ROOT = Path(__file__).resolve().parents[1]
RULES = load_rules(ROOT / "keywords.yaml")
NEW_YORK = "state = NY"  # two subscribers in the seed
TEXT = "Rally at noon. Reply STOP to opt out."


@pytest.fixture
async def conn(pool: asyncpg.Pool) -> Any:
    async with pool.acquire() as connection:
        await seed(connection)
        yield connection


async def sent_before(conn: asyncpg.Connection, count: int, *, where: str = NEW_YORK,
                      ago: timedelta = timedelta(days=2)) -> list[int]:
    """`count` earlier rise broadcasts to `where`, submitted `ago` before NOW."""
    made = []
    for _ in range(count):
        broadcast_id = await create(conn, where=where, text=TEXT)
        await materialize(conn, broadcast_id)
        await conn.execute(
            "UPDATE outbound SET status = 'submitted', submitted_at = $2"
            " WHERE broadcast_id = $1", broadcast_id, NOW - ago)
        made.append(broadcast_id)
    return made


async def checked_create(conn: asyncpg.Connection, *, override: bool = False,
                         where: str = "", program: str = "rise") -> int:
    return await service.create(
        conn, program=program, shortcode=CODE, where=where, text=TEXT,
        created_by="organizer@example.org", rules=RULES, override_frequency=override,
        now=NOW,
    )


async def test_refused_naming_how_many_and_nothing_is_created(conn: asyncpg.Connection) -> None:
    await sent_before(conn, 6)
    before = await conn.fetchval("SELECT count(*) FROM broadcasts")
    with pytest.raises(service.FrequencyExceeded) as refused:
        await checked_create(conn)
    message = str(refused.value)
    assert message.startswith("2 recipients already had 6 broadcast message(s) of program "
                              "'rise' in the month before")
    assert "'Up to 6 msgs/mo'" in message and "override" in message
    assert await conn.fetchval("SELECT count(*) FROM broadcasts") == before
    # the same broadcast to people under the limit goes through
    assert await checked_create(conn, where="not state = NY") > 0


async def test_override_creates_it_and_is_audit_logged(conn: asyncpg.Connection) -> None:
    await sent_before(conn, 6)
    async with conn.transaction():
        broadcast_id = await checked_create(conn, override=True)
    entry = await conn.fetchrow(
        "SELECT actor, target, detail FROM audit_log WHERE action = $1", FREQUENCY_OVERRIDDEN)
    assert entry is not None
    assert (entry["actor"], entry["target"]) == ("organizer@example.org",
                                                  f"broadcast:{broadcast_id}")
    assert '"pushed_past": 2' in entry["detail"] and '"max_messages": 6' in entry["detail"]


async def test_an_override_that_changed_nothing_is_not_logged(conn: asyncpg.Connection) -> None:
    await sent_before(conn, 5)
    await checked_create(conn, override=True)
    assert await conn.fetchval(
        "SELECT count(*) FROM audit_log WHERE action = $1", FREQUENCY_OVERRIDDEN) == 0


@pytest.mark.parametrize("change", [
    "UPDATE outbound SET status = 'failed' WHERE broadcast_id = $1",
    "UPDATE outbound SET status = 'cancelled' WHERE broadcast_id = $1",
    "UPDATE outbound SET status = 'undeliverable' WHERE broadcast_id = $1",
    "UPDATE outbound SET submitted_at = submitted_at - interval '30 days' WHERE broadcast_id = $1",
    "UPDATE broadcasts SET program = 'ensemble' WHERE id = $1",
])
async def test_what_never_reached_the_phone_or_is_out_of_period_does_not_count(
    conn: asyncpg.Connection, change: str,
) -> None:
    first, *_ = await sent_before(conn, 6)
    await conn.execute(change, first)
    assert await checked_create(conn) > 0


async def test_queued_rows_not_sent_yet_count(conn: asyncpg.Connection) -> None:
    first, *_ = await sent_before(conn, 6)
    await conn.execute(
        "UPDATE outbound SET status = 'queued', submitted_at = NULL WHERE broadcast_id = $1",
        first)
    with pytest.raises(service.FrequencyExceeded):
        await checked_create(conn)


async def test_finished_broadcasts_in_the_period_count(conn: asyncpg.Connection) -> None:
    """Only broadcasts finished before the period are skipped (the query reads recent ones)."""
    made = await sent_before(conn, 6)
    await conn.execute("UPDATE broadcasts SET status = 'done', updated_at = $2"
                       " WHERE id = ANY($1)", made, NOW - timedelta(days=2))
    with pytest.raises(service.FrequencyExceeded):
        await checked_create(conn)


async def test_replies_to_their_own_texts_do_not_count(conn: asyncpg.Connection) -> None:
    await sent_before(conn, 5)
    replies = [NewOutbound(msisdn="+12125550001", shortcode=CODE, body="HELP answer",
                           priority=0, compliance=True, in_reply_to=None,
                           not_before=NOW - timedelta(hours=1)) for _ in range(10)]
    await outbound_store.insert_batch(conn, replies)
    assert await checked_create(conn) > 0


async def test_a_later_send_time_moves_the_period(conn: asyncpg.Connection) -> None:
    await sent_before(conn, 6, ago=timedelta(days=2))
    with pytest.raises(service.FrequencyExceeded):
        await service.create(
            conn, program="rise", shortcode=CODE, where="", text=TEXT, created_by="o",
            scheduled_at=NOW + timedelta(days=28), rules=RULES, now=NOW)
    assert await service.create(
        conn, program="rise", shortcode=CODE, where="", text=TEXT, created_by="o",
        scheduled_at=NOW + timedelta(days=30), rules=RULES, now=NOW) > 0


async def counted_per_number(conn: asyncpg.Connection) -> dict[str, int]:
    """Rise broadcast rows per number that count against the promise."""
    rows = await conn.fetch(
        "SELECT o.msisdn, count(*) AS n FROM outbound o JOIN broadcasts b ON b.id = o.broadcast_id"
        " WHERE b.program = 'rise' AND o.status = ANY($1) GROUP BY o.msisdn",
        ["queued", "sending", "submitted", "delivered"])
    return {r["msisdn"]: r["n"] for r in rows}


async def skipped_entry(conn: asyncpg.Connection, broadcast_id: int) -> str | None:
    detail: str | None = await conn.fetchval(
        "SELECT detail FROM audit_log WHERE action = $1 AND target = $2",
        FREQUENCY_SKIPPED, f"broadcast:{broadcast_id}")
    return detail


async def test_two_broadcasts_created_back_to_back_cannot_both_pass(
    conn: asyncpg.Connection,
) -> None:
    """Each passes at creation (5 < 6); the second is written after the first's rows exist,
    and the two New Yorkers the first brought to 6 are left out of it."""
    await sent_before(conn, 5)
    first = await checked_create(conn)
    second = await checked_create(conn)
    everyone = (await materialize(conn, first)).recipients
    result = await materialize(conn, second)
    assert result.recipients == everyone - 2
    assert max((await counted_per_number(conn)).values()) == 6
    progress = await broadcast_store.get_progress(conn, second)
    assert progress is not None and progress["over_frequency"] == 2
    detail = await skipped_entry(conn, second)
    assert detail is not None and '"skipped": 2' in detail and '"max_messages": 6' in detail
    assert await skipped_entry(conn, first) is None


async def test_a_draft_started_later_is_checked_when_its_rows_are_written(
    conn: asyncpg.Connection,
) -> None:
    draft = await checked_create(conn)  # nobody at the limit yet
    await sent_before(conn, 6)  # meanwhile, six more broadcasts went out
    result = await materialize(conn, draft)
    numbers = await conn.fetch("SELECT msisdn FROM outbound WHERE broadcast_id = $1", draft)
    assert result.recipients == len(numbers) and len(numbers) > 0
    assert max((await counted_per_number(conn)).values()) == 6


async def test_a_broadcast_moved_earlier_is_checked_at_its_new_time(
    conn: asyncpg.Connection,
) -> None:
    await sent_before(conn, 6, ago=timedelta(days=2))
    later = await service.create(
        conn, program="rise", shortcode=CODE, where="", text=TEXT, created_by="o",
        scheduled_at=NOW + timedelta(days=30), rules=RULES, now=NOW)  # the six are past then
    await control.schedule(conn, later, NOW + timedelta(hours=1), now=NOW)
    await service.materialize(conn, later, policy=POLICY, variables=VARIABLES,
                              clock=lambda: NOW + timedelta(hours=1))
    assert max((await counted_per_number(conn)).values()) == 6
    progress = await broadcast_store.get_progress(conn, later)
    assert progress is not None and progress["over_frequency"] == 2


async def test_an_override_at_creation_holds_when_the_rows_are_written(
    conn: asyncpg.Connection,
) -> None:
    await sent_before(conn, 6)
    everyone = await checked_create(conn, override=True)
    result = await materialize(conn, everyone)
    assert max((await counted_per_number(conn)).values()) == 7
    progress = await broadcast_store.get_progress(conn, everyone)
    assert progress is not None and progress["over_frequency"] == 0
    assert result.recipients == await conn.fetchval(
        "SELECT count(*) FROM outbound WHERE broadcast_id = $1", everyone)


async def waiting_for_a_lock(pool: asyncpg.Pool, pid: int) -> None:
    """Until backend `pid` waits on an advisory lock (a condition, polled; not a sleep-for-time)."""
    async with pool.acquire() as watch:
        for _ in range(500):
            if await watch.fetchval(
                    "SELECT wait_event = 'advisory' FROM pg_stat_activity WHERE pid = $1", pid):
                return
            await asyncio.sleep(0.02)
    raise AssertionError(f"backend {pid} never waited for the program's lock")


async def test_two_broadcasts_written_at_once_keep_the_promise(pool: asyncpg.Pool) -> None:
    """Two instances writing two broadcasts of one program at the same moment: the second
    waits for the first's batch to commit, then sees its rows and leaves the New Yorkers out."""
    async with pool.acquire() as first_conn, pool.acquire() as second_conn:
        await seed(first_conn)
        await sent_before(first_conn, 5)
        first, second = await checked_create(first_conn), await checked_create(first_conn)
        unfinished = first_conn.transaction()
        await unfinished.start()
        await materialize(first_conn, first)  # its rows exist but are not committed yet
        writing = asyncio.create_task(materialize(second_conn, second))
        await waiting_for_a_lock(pool, second_conn.get_server_pid())
        await unfinished.commit()
        await writing
        assert max((await counted_per_number(first_conn)).values()) == 6
        progress = await broadcast_store.get_progress(first_conn, second)
        assert progress is not None and progress["over_frequency"] == 2


async def test_an_unknown_program_lists_the_known_ones(conn: asyncpg.Connection) -> None:
    with pytest.raises(ComposeError, match="'rse' is not a program of the keywords file; "
                                           "known: ensemble, rise"):
        await checked_create(conn, program="rse")
    with pytest.raises(ComposeError):
        await service.preview(conn, program="rse", shortcode=CODE, where="", text=TEXT,
                              variables={}, now=NOW, rules=RULES)


async def test_the_api_refuses_then_accepts_the_override(
    pool: asyncpg.Pool, web: WebApi,
) -> None:
    async with pool.acquire() as connection:
        await seed(connection)
        await sent_before(connection, 6)
        await connection.execute("UPDATE outbound SET submitted_at = now() - interval '1 day'")
    organizer = await web.staff("organizer")
    draft = {"program": "rise", "text": TEXT}
    refused = await web.client.post("/api/v1/broadcasts", json=draft, headers=organizer.bearer)
    body = await refused.json()
    assert refused.status == 400, body
    assert (body["error"]["code"], body["error"]["field"]) == ("frequency_limit",
                                                               "override_frequency")
    assert body["error"]["message"].startswith("2 recipients already had 6")
    typo = await web.client.post("/api/v1/broadcasts", json={**draft, "program": "rse"},
                                 headers=organizer.bearer)
    assert typo.status == 400 and (await typo.json())["error"]["field"] == "program"
    made = await web.client.post("/api/v1/broadcasts", json={**draft, "override_frequency": True},
                                 headers=organizer.bearer)
    assert made.status == 201, await made.text()
    async with pool.acquire() as connection:
        actions = await connection.fetch(
            "SELECT action, actor FROM audit_log ORDER BY id DESC LIMIT 2")
    assert [(r["action"], r["actor"]) for r in actions] == [
        ("broadcast.created", "organizer@example.org"),
        (FREQUENCY_OVERRIDDEN, "organizer@example.org")]


async def test_the_composer_page_refuses_then_accepts_the_checkbox(
    pool: asyncpg.Pool, site: WebApi,
) -> None:
    async with pool.acquire() as connection:
        await seed(connection)
        await sent_before(connection, 6)
        await connection.execute("UPDATE outbound SET submitted_at = now() - interval '1 day'")
    await site.staff("organizer")
    await site.login("organizer@example.org")
    token = form_token(await (await site.client.get("/broadcasts/new")).text())
    form = {"csrf_token": token, "program": "rise", "text": TEXT, "action": "create"}
    refused = await site.client.post("/broadcasts/new", data=form)
    page = await refused.text()
    assert refused.status == 400 and 'id="override_frequency-error"' in page
    assert "2 recipients already had 6" in page and TEXT in page  # nothing typed is lost
    made = await site.client.post("/broadcasts/new", data={**form, "override_frequency": "yes"},
                                  allow_redirects=False)
    assert made.status == 303
    async with pool.acquire() as connection:
        logged = await connection.fetchval(
            "SELECT count(*) FROM audit_log WHERE action = $1 AND actor = $2",
            FREQUENCY_OVERRIDDEN, "organizer@example.org")
    assert logged == 1


async def test_the_cli_refuses_then_accepts_the_flag(db_url: str, pool: asyncpg.Pool) -> None:
    async with pool.acquire() as connection:
        await seed(connection)
        await sent_before(connection, 6)
        await connection.execute("UPDATE outbound SET submitted_at = now() - interval '1 day'")
    refused = await gateway(db_url, "create", "--program", "rise", "--text", TEXT)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert refused.stderr.startswith("gateway broadcast: 2 recipients already had 6")
    made = await gateway(db_url, "create", "--program", "rise", "--text", TEXT,
                         "--override-frequency", "--by", "ana")
    assert made.returncode == 0, made.stderr
    async with pool.acquire() as connection:
        actor = await connection.fetchval(
            "SELECT actor FROM audit_log WHERE action = $1", FREQUENCY_OVERRIDDEN)
    assert actor == "ana"
