"""Contact import, continued: tags by import (a column and the file's own), imported consent
in the webhook stream, and uploads never imported that expire (docs/import.md)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.services.imports import service
from gateway.services.imports.rows import cell_tags
from gateway.store import webhook_events, webhook_subscriptions
from gateway.store.tags import BadTag
from tests.support.clock import ManualClock
from tests.support.imports import MAPPING, RULES, contact_file, organizer, runner, uploaded
from tests.support.pages_site import form_token
from tests.support.webapi import WebApi

HEADER = "Mobile Phone;First Name;Source;Opt-in Date;Campaign;Unsubscribed;Tags\n"
FILE = (HEADER
        + '212 555 0101;Ada;web form;2025-03-01;Spring petition;;"Volunteer; donor"\n'
        + "212 555 0102;Bob;;;;;donor|door-knock\n"
        + "212 555 0103;Cy;web form;2025-03-01;Spring petition;;not a tag!\n"
        + "(212) 555-0101;Ada;web form;2025-03-01;Spring petition;;late-tag\n"
        + "212 555 0104;Dee;;;;yes;\n").encode()
TAGGED = {**{k: v for k, v in MAPPING.items() if k in ("phone", "first_name", "consent_source",
                                                      "consent_date", "consent_wording",
                                                      "opted_out")}, "tags": "Tags"}


TAG_TEXT = st.from_regex(r"[a-z0-9][a-z0-9_-]{0,39}", fullmatch=True)


@given(st.lists(st.tuples(TAG_TEXT, st.sampled_from([";", ",", "|", " ; ", ", "]),
                          st.booleans()), max_size=6))
def test_a_cell_of_tags_reads_back_each_tag_once_in_order(
        parts: list[tuple[str, str, bool]]) -> None:
    cell = "".join((tag.upper() if upper else tag) + sep for tag, sep, upper in parts)
    assert cell_tags(cell) == tuple(dict.fromkeys(tag for tag, _, _ in parts))


@given(TAG_TEXT, st.sampled_from(["door knock", "é", "x!", "-lead", "a" * 41, "#1"]))
def test_a_cell_with_something_that_is_not_a_tag_is_refused(good: str, bad: str) -> None:
    with pytest.raises(BadTag):
        cell_tags(f"{good}; {bad}")


async def listen(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await webhook_subscriptions.insert(
            conn, url="https://crm.example.org/hooks", description="", secret="s" * 40,
            event_types=(webhook_events.CONTACT_OPTED_IN, webhook_events.CONTACT_OPTED_OUT),
            created_by=None)


async def test_tags_by_column_and_file_dry_run_then_import(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        import_id = await uploaded(conn, FILE, mapping=TAGGED, tags=["Spring-2026"])
    assert await runner(pool).run_once()
    async with pool.acquire() as conn:
        dry = await service.summary(conn, import_id, report_rows=50)
        # row 4 ("not a tag!") is skipped, naming the column; row 5 repeats row 2's number
        assert dry["dry_run"]["skipped_by_reason"] == {"bad_tag": 1, "duplicate": 1}
        bad = next(r for r in dry["rows"] if r["row_no"] == 4)
        assert (bad["reason"], bad["column_name"]) == ("bad_tag", "Tags")
        assert dry["dry_run"]["tags"] == {"donor": 2, "door-knock": 1, "spring-2026": 3,
                                          "volunteer": 1}
        assert await conn.fetchval("SELECT count(*) FROM contact_tags") == 0
        await service.queue(conn, await organizer(conn), "t", import_id, phase="import",
                            mapping=None)
    assert await runner(pool).run_once()
    async with pool.acquire() as conn:
        done = await service.summary(conn, import_id, report_rows=50)
        assert done["result"] == done["dry_run"]
        tagged = await conn.fetch(
            "SELECT msisdn, tag, source, tagged_by FROM contact_tags ORDER BY msisdn, tag")
    assert [(r["msisdn"], r["tag"]) for r in tagged] == [
        ("+12125550101", "donor"), ("+12125550101", "spring-2026"),
        ("+12125550101", "volunteer"), ("+12125550102", "donor"),
        ("+12125550102", "door-knock"), ("+12125550102", "spring-2026"),
        ("+12125550104", "spring-2026")]
    assert {(r["source"], r["tagged_by"]) for r in tagged} == {("import", f"import:{import_id}")}


async def test_a_file_tag_that_is_not_a_tag_is_refused_naming_the_field(
        pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        with pytest.raises(Exception) as refused:
            await uploaded(conn, FILE, mapping=TAGGED, tags=["door knock"])
    assert getattr(refused.value, "field", None) == "tags"
    assert "'door knock' is not a tag" in str(refused.value)


async def emitted(pool: asyncpg.Pool) -> list[tuple[str, dict[str, Any]]]:
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT event_type, payload FROM webhook_events ORDER BY id")
    return [(r["event_type"], json.loads(r["payload"])) for r in rows]


async def test_imported_consent_reaches_the_webhook_stream_with_its_provenance(
        pool: asyncpg.Pool) -> None:
    await listen(pool)
    async with pool.acquire() as conn:
        dry_id = await uploaded(conn, FILE, mapping=TAGGED)
    assert await runner(pool).run_once()
    assert await emitted(pool) == []  # a dry run tells nobody anything
    async with pool.acquire() as conn:
        import_id = await uploaded(conn, FILE, mapping=TAGGED, phase="import")
    assert import_id != dry_id
    assert await runner(pool).run_once()
    events = await emitted(pool)
    assert [(t, p["msisdn"], p["ledger_kind"]) for t, p in events] == [
        ("contact.opted_in", "+12125550101", "opt_in_confirmed"),
        ("contact.opted_out", "+12125550104", "opted_out")]
    opted_in = events[0][1]
    assert opted_in == {
        "msisdn": "+12125550101", "shortcode": opted_in["shortcode"], "program": "rise",
        "keyword": "IMPORT", "ledger_kind": "opt_in_confirmed", "source": "import",
        "occurred_at": "2025-03-01T00:00:00+00:00", "import_id": import_id, "import_row": 2,
        "consent_source": "web form", "consent_wording": "Spring petition"}


async def test_a_crash_between_chunks_neither_loses_nor_doubles_tags_or_events(
        pool: asyncpg.Pool) -> None:
    """Killed after its first chunk committed (the lease left to run out), the import is
    taken over: every consent row has exactly one event, every tag one row."""
    await listen(pool)
    async with pool.acquire() as conn:
        staff = await organizer(conn)
        import_id = await uploaded(conn, contact_file(1_500), tags=["bulk"])
    assert await runner(pool, chunk_rows=500).run_once()
    async with pool.acquire() as conn:
        would = (await service.summary(conn, import_id, report_rows=0))["dry_run"]["tags"]
        await service.queue(conn, staff, "t", import_id, phase="import", mapping=None)

    class Killed(Exception):
        pass

    async def die(done: int) -> None:
        raise Killed

    with pytest.raises(Killed):
        await runner(pool, chunk_rows=500, after_chunk=die).run_once()
    clock = ManualClock(datetime.now(UTC) + timedelta(minutes=5))  # the lease ran out
    assert await runner(pool, owner="gw-b", chunk_rows=500, clock=clock).run_once()
    async with pool.acquire() as conn:
        done = await service.summary(conn, import_id, report_rows=0)
        assert done["result"]["tags"] == would
        assert await conn.fetchval(
            "SELECT count(*) FROM contact_tags WHERE tag = 'bulk'") == would["bulk"]
        ledger = await conn.fetchval(
            "SELECT count(*) FROM consent_events WHERE import_id = $1", import_id)
        assert ledger == done["result"]["subscribed"] + done["result"]["opted_out"]
        rows = await conn.fetch(
            "SELECT (payload->>'import_row')::int AS row FROM webhook_events")
    assert len(rows) == ledger and len({r["row"] for r in rows}) == ledger


async def test_uploads_never_imported_expire_and_the_rest_is_kept(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        staff = await organizer(conn)
        never_run = (await service.upload(
            conn, staff, "t", filename="a.csv", content=FILE, program="rise", country="US",
            rules=RULES,
            max_bytes=10_000_000, now=datetime.now(UTC)))["id"]
        dry_only = await uploaded(conn, FILE, mapping=TAGGED)
    assert await runner(pool).run_once()
    async with pool.acquire() as conn:
        imported = await uploaded(conn, FILE, mapping=TAGGED, phase="import")
    assert await runner(pool).run_once()
    async with pool.acquire() as conn:
        queued = await uploaded(conn, FILE, mapping=TAGGED)
    soon = ManualClock(datetime.now(UTC) + timedelta(hours=71))
    assert await runner(pool, clock=soon).expire_uploads() == []
    later = ManualClock(datetime.now(UTC) + timedelta(hours=73))
    assert await runner(pool, clock=later).expire_uploads() == [never_run, dry_only]
    async with pool.acquire() as conn:
        state = {r["id"]: r for r in await conn.fetch(
            "SELECT id, status, content IS NULL AS purged, mapping IS NULL AS unmapped"
            " FROM contact_imports")}
        assert {i: (state[i]["status"], state[i]["purged"], state[i]["unmapped"])
                for i in (never_run, dry_only, imported, queued)} == {
            never_run: ("expired", True, True), dry_only: ("expired", True, True),
            imported: ("done", True, False), queued: ("queued", False, False)}
        assert await conn.fetchval(
            "SELECT count(*) FROM contact_import_rows WHERE import_id = $1", dry_only) == 0
        assert await conn.fetchval(
            "SELECT count(*) FROM contact_import_rows WHERE import_id = $1", imported) == 5
        assert await conn.fetchval(
            "SELECT count(*) FROM audit_log WHERE action = 'contacts.import_expired'") == 2
        with pytest.raises(Exception, match="cannot be queued"):
            await service.queue(conn, staff, "t", dry_only, phase="import", mapping=TAGGED)


async def test_an_expired_import_says_so_on_its_page_in_both_languages(
        site: WebApi, pool: asyncpg.Pool) -> None:
    await site.staff("organizer", email="organizer@example.org")
    await site.login("organizer@example.org")
    async with pool.acquire() as conn:
        staff = await organizer(conn)
        import_id = (await service.upload(
            conn, staff, "t", filename="a.csv", content=FILE, program="rise", country="US",
            rules=RULES, max_bytes=10_000_000, now=datetime.now(UTC)))["id"]
    later = ManualClock(datetime.now(UTC) + timedelta(hours=73))
    assert await runner(pool, clock=later).expire_uploads() == [import_id]
    page = await (await site.client.get(f"/imports/{import_id}")).text()
    assert "Expired: the file was deleted unused" in page
    assert "Upload it again to import it." in page
    assert 'id="mapping-form"' not in page  # nothing left to choose columns for
    listed = await (await site.client.get("/imports")).text()
    assert "Expired: the file was deleted unused" in listed
    async with pool.acquire() as conn:
        await conn.execute("UPDATE users SET language = 'fr' WHERE email = $1", staff.email)
    french = await (await site.client.get(f"/imports/{import_id}")).text()
    assert "Expiré : le fichier a été supprimé sans avoir servi" in french
    assert "Envoyez-le de nouveau pour l'importer." in french


async def test_the_mapping_page_takes_the_file_tags_and_names_a_bad_one(
        site: WebApi, pool: asyncpg.Pool) -> None:
    await site.staff("organizer", email="organizer@example.org")
    await site.login("organizer@example.org")
    async with pool.acquire() as conn:
        import_id = (await service.upload(
            conn, await organizer(conn), "t", filename="a.csv", content=FILE, program="rise",
            country="US", rules=RULES, max_bytes=10_000_000, now=datetime.now(UTC)))["id"]
    page = await (await site.client.get(f"/imports/{import_id}")).text()
    assert 'name="file_tags"' in page and 'name="map_tags"' in page
    form = {"csrf_token": form_token(page), "phase": "dry_run",
            **{f"map_{field}": header for field, header in TAGGED.items()}}
    bad = await site.client.post(f"/imports/{import_id}/start",
                                 data={**form, "file_tags": "spring, door knock"})
    assert bad.status == 400
    shown = await bad.text()
    assert 'id="file-tags-error"' in shown and "&#39;door knock&#39; is not a tag" in shown
    assert 'value="spring, door knock"' in shown  # kept as typed
    good = await site.client.post(f"/imports/{import_id}/start", allow_redirects=False,
                                  data={**form, "file_tags": "Spring-2026; volunteers"})
    assert good.status in (302, 303)
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT tags FROM contact_imports WHERE id = $1",
                                   import_id) == ["spring-2026", "volunteers"]
