"""Contact import of 200,000 generated rows: the dry run's counts are the import's, a run
cut off mid-import and started again ends in the same state, and no number opted out in
the database is subscribed again (issue 18, Tests)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import asyncpg
import pytest

from gateway.phone import to_e164
from gateway.services.imports import service
from gateway.store import contacts
from tests.support.imports import contact_file, number, organizer, runner, uploaded

ROWS = 200_000
STOPPED = [to_e164(number(i)) for i in range(3, ROWS, 997)]  # opted out on the short code
LEFT_RISE = [to_e164(number(i)) for i in range(5, ROWS, 1999)]  # left the program only
SUBSCRIBED = [to_e164(number(i)) for i in range(8, ROWS, 1499)]
PER_ROW = ("SELECT row_no, msisdn, outcome, effect, reason, column_name, duplicate_of"
           " FROM contact_import_rows WHERE import_id = $1 AND phase = $2 ORDER BY row_no")


async def seed(conn: asyncpg.Connection) -> None:
    now = datetime(2025, 1, 1, tzinfo=UTC)
    sub = {"since": now.isoformat(), "keyword": "JOIN"}
    await contacts.upsert_states(conn, [
        *[(n, "12345", True, {"v": 1, "subs": {"rise": {"status": "opted_out", **sub}}})
          for n in STOPPED],
        *[(n, "12345", False, {"v": 1, "subs": {"rise": {"status": "opted_out", **sub}}})
          for n in LEFT_RISE if n not in STOPPED],
        *[(n, "12345", False, {"v": 1, "subs": {"rise": {"status": "subscribed", **sub}}})
          for n in SUBSCRIBED if n not in STOPPED and n not in LEFT_RISE],
    ], now=now)


async def test_200k_rows_dry_run_equals_import_across_a_crash(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await seed(conn)
        import_id = await uploaded(conn, contact_file(ROWS))
    assert await runner(pool, chunk_rows=20_000).run_once()
    async with pool.acquire() as conn:
        dry = await service.summary(conn, import_id, report_rows=10)
        assert dry["import"]["status"] == "done"
        assert dry["dry_run"]["rows"] == ROWS
        for kind in ("new", "updated", "subscribed", "contact_only", "opted_out",
                     "kept_opted_out", "already_subscribed"):
            assert dry["dry_run"][kind] > 0, kind
        assert set(dry["dry_run"]["skipped_by_reason"]) == {"bad_number", "duplicate",
                                                            "no_number"}
        assert await conn.fetchval("SELECT count(*) FROM consent_events") == 0
        await service.queue(conn, await organizer(conn), "t", import_id, phase="import",
                            mapping=None)

    # gateway A is cut off (its task cancelled) in the middle of its third chunk
    chunks = 0
    third = asyncio.Event()

    async def after_chunk(done: int) -> None:
        nonlocal chunks
        chunks += 1
        if chunks == 2:
            third.set()
            await asyncio.sleep(3600)  # the third chunk never commits

    a = runner(pool, owner="gw-a", chunk_rows=20_000, after_chunk=after_chunk)
    task = asyncio.create_task(a.run_once())
    await asyncio.wait_for(third.wait(), 300)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with pool.acquire() as conn:
        cut = await conn.fetchrow("SELECT status, next_row FROM contact_imports")
        assert (cut["status"], cut["next_row"]) == ("running", 40_000)
        assert await conn.fetchval("SELECT count(*) FROM contact_import_rows"
                                   " WHERE phase = 'import'") == 40_000
    # gateway B may not take it while A's lease runs; A, started again, goes on
    assert not await runner(pool, owner="gw-b").run_once()
    again = runner(pool, owner="gw-a", chunk_rows=20_000)
    assert await again.release_own() == 1
    assert await again.run_once()

    async with pool.acquire() as conn:
        done = await service.summary(conn, import_id, report_rows=10)
        assert done["import"]["status"] == "done"
        assert done["result"] == dry["dry_run"]
        assert [tuple(r) for r in await conn.fetch(PER_ROW, import_id, "import")] == [
            tuple(r) for r in await conn.fetch(PER_ROW, import_id, "dry_run")]
        result = done["result"]
        ledger = await conn.fetch("SELECT kind, count(*) AS n, count(DISTINCT import_row) AS"
                                  " rows FROM consent_events GROUP BY kind ORDER BY kind")
        assert [(r["kind"], r["n"], r["rows"]) for r in ledger] == [
            ("opt_in_confirmed", result["subscribed"], result["subscribed"]),
            ("opted_out", result["opted_out"], result["opted_out"])]
        seeded = len(set(STOPPED) | set(LEFT_RISE) | set(SUBSCRIBED))
        assert await conn.fetchval("SELECT count(*) FROM contacts") == seeded + result["new"]
        # nobody opted out in the database is subscribed again, by state or by ledger
        for numbers in (STOPPED, LEFT_RISE):
            states = await conn.fetch(
                "SELECT opted_out, state->'subs'->'rise'->>'status' AS rise FROM contacts"
                " WHERE msisdn = ANY($1::text[])", numbers)
            assert {r["rise"] for r in states} == {"opted_out"}
            assert await conn.fetchval(
                "SELECT count(*) FROM consent_events WHERE kind = 'opt_in_confirmed'"
                " AND msisdn = ANY($1::text[])", numbers) == 0
        assert {r["opted_out"] for r in await conn.fetch(
            "SELECT opted_out FROM contacts WHERE msisdn = ANY($1::text[])", STOPPED)} == {True}
        audit = await conn.fetchrow("SELECT actor, detail::text AS detail FROM audit_log"
                                    " WHERE action = 'contacts.imported'")
        assert audit["actor"] == "organizer@example.org" and '"rows": 200000' in audit["detail"]
