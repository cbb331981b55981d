"""Contact import on a small file: each kind of row does what docs/import.md says."""

from __future__ import annotations

import asyncio

import asyncpg

from gateway.app import Gateway
from gateway.services.imports import service
from tests.support.imports import contact_file, organizer, runner, uploaded

FILE = b"""Mobile Phone;First Name;Last Name;Email;Zip;Source;Opt-in Date;Campaign;Unsubscribed
212 555 0101;Ada;Lovelace;ada@example.org;10001;web form;2025-03-01;Spring petition;
212 555 0102;Bob;;;;web form;2025-03-01;;
not a number;Cy;;;;web form;2025-03-01;Spring petition;
(212) 555-0101;Ada;L;;;web form;2025-03-01;Spring petition;
212 555 0103;Dee;;;;;;;yes
212 555 0104;Eve;;;;web form;01/03/2025;Spring petition;
"""


async def test_each_kind_of_row(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        import_id = await uploaded(conn, FILE)
    assert await runner(pool).run_once()
    async with pool.acquire() as conn:
        dry = await service.summary(conn, import_id, report_rows=50)
        assert dry["import"]["status"] == "done"
        assert dry["dry_run"]["subscribed"] == 1
        assert dry["dry_run"]["skipped_by_reason"] == {"bad_number": 1, "duplicate": 1}
        assert dry["dry_run"]["contact_only_by_reason"] == {"bad_consent_date": 1,
                                                            "no_consent": 1}
        assert await conn.fetchval("SELECT count(*) FROM contacts") == 0
        rows = {r["row_no"]: r for r in dry["rows"]}
        assert (rows[4]["reason"], rows[4]["column_name"]) == ("bad_number", "Mobile Phone")
        assert (rows[5]["reason"], rows[5]["duplicate_of"]) == ("duplicate", 2)
        assert (rows[3]["reason"], rows[3]["column_name"]) == ("no_consent", "Campaign")
        assert rows[6]["effect"] == "opted_out"
        await service.queue(conn, await organizer(conn), "t", import_id, phase="import",
                            mapping=None)
    assert await runner(pool).run_once()
    async with pool.acquire() as conn:
        done = await service.summary(conn, import_id, report_rows=50)
        assert done["result"] == done["dry_run"]
        ledger = await conn.fetch("SELECT msisdn, kind, consent_source, consent_wording"
                                  " FROM consent_events ORDER BY id")
        assert [(r["msisdn"], r["kind"]) for r in ledger] == [
            ("+12125550101", "opt_in_confirmed"), ("+12125550103", "opted_out")]
        assert await conn.fetchval(
            "SELECT opted_out FROM contacts WHERE msisdn = '+12125550103'")
        assert await conn.fetchval("SELECT content IS NULL FROM contact_imports")


async def test_the_running_gateway_runs_a_queued_import(gateway: Gateway) -> None:
    assert gateway.supervisor.status()["imports"] == "running"
    async with gateway.pool.acquire() as conn:
        import_id = await uploaded(conn, FILE, phase="import")
    gateway.imports.wake()
    status = None
    async with gateway.pool.acquire() as conn:
        for _ in range(600):  # the task's own round, woken above; at most a minute
            status = await conn.fetchval(
                "SELECT status FROM contact_imports WHERE id = $1", import_id)
            if status == "done":
                break
            await asyncio.sleep(0.1)
        assert status == "done"
        assert await conn.fetchval("SELECT count(*) FROM consent_events") == 2


async def test_a_stopping_gateway_hands_the_rest_back_between_two_chunks(
        pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        import_id = await uploaded(conn, contact_file(1_200), phase="import")

    async def stop_after_the_first(done: int) -> None:
        await first.stop()

    first = runner(pool, chunk_rows=500, after_chunk=stop_after_the_first)
    assert await first.run_once()
    async with pool.acquire() as conn:
        paused = await conn.fetchrow("SELECT status, next_row, lease_owner FROM contact_imports"
                                     " WHERE id = $1", import_id)
    assert tuple(paused) == ("queued", 500, None)
    assert await runner(pool, owner="gw-b", chunk_rows=500).run_once()
    async with pool.acquire() as conn:
        found = await service.summary(conn, import_id, report_rows=0)
    assert found["import"]["status"] == "done" and found["result"]["rows"] == 1_200
