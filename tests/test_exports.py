"""Contact exports: formula-safe cells, donor columns per role, streamed while the query
still runs, audit-logged, and the warehouse job whose signed webhook carries a link that
downloads the file and then expires."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import asyncpg
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.config import Settings
from gateway.hooks.notice import DisabledNotice
from gateway.hooks.sender import DeliveryConfig, WebhookSender
from gateway.notify.staff_mail import StaffMail
from gateway.services import export_jobs
from gateway.services import webhooks as webhook_service
from gateway.services.exports import csv_chunk
from gateway.store import exports as export_store
from gateway.store import tags as tag_store
from gateway.store import users as user_store
from tests.support.broadcasts import CODE, PEOPLE, seed
from tests.support.clock import ManualClock
from tests.support.pages_site import export_site
from tests.support.webapi import WebApi
from tests.support.webhook_receiver import Receiver, rounds_until, verify

DANGEROUS = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NUMBER = r"-?[0-9]+(\.[0-9]+)?"


def rows_of(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode(), newline="")))


@given(st.lists(st.one_of(
    st.text(max_size=30),
    st.builds(lambda p, t: p + t, st.sampled_from(DANGEROUS), st.text(max_size=10)),
    st.sampled_from(["=1+1", "+33612345678", "@SUM(A1)", "\t=1", "\r=1", " =1", "-12.50"])),
    min_size=1, max_size=6))
def test_no_exported_cell_starts_a_formula(cells: list[str]) -> None:
    import re
    [row] = rows_of(csv_chunk([cells]))
    for typed, written in zip(cells, row, strict=True):
        starts_formula = written.lstrip(" \u00a0").startswith(DANGEROUS)
        assert not starts_formula or re.fullmatch(PLAIN_NUMBER, written), (typed, written)
        assert written in (typed, "'" + typed)  # nothing else changed


@pytest.fixture
async def people(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await seed(conn)
        await conn.execute(
            "UPDATE contacts SET state = jsonb_set(state, '{profile,first_name}', $2::jsonb)"
            " WHERE msisdn = $1", PEOPLE["new_york"][0], json.dumps("=HYPERLINK(\"x\")"))
        await tag_store.tag_numbers(conn, "volunteer", [PEOPLE["new_york"][0]])
        await conn.execute(
            "INSERT INTO donor_details (msisdn, committee, name, employer, occupation, source,"
            " received_at) VALUES ($1, 'rise_pac', 'Ana Diaz', '@Acme', 'Nurse', 'sms', now())",
            PEOPLE["new_york"][0])


async def test_the_page_download_is_formula_safe_and_audited(
        site: WebApi, pool: asyncpg.Pool, people: None) -> None:
    await site.staff("organizer")
    await site.login("organizer@example.org")
    form = await (await site.client.get("/exports")).text()
    assert 'value="employer"' not in form  # not offered to organizers
    # each column says what it holds beside its CSV name
    assert "Mobile number <code>msisdn</code>" in form
    assert "Profile answer: first_name <code>profile.first_name</code>" in form
    response = await site.client.get("/exports/contacts.csv", params=[
        ("program", "rise"), ("where", "state = NY"), ("fields", "msisdn"),
        ("fields", "profile.first_name"), ("fields", "tags"), ("fields", "gift_count")])
    assert response.status == 200, await response.text()
    assert response.headers["Content-Type"].startswith("text/csv")
    rows = rows_of(await response.read())
    assert rows[0] == ["msisdn", "profile.first_name", "tags", "gift_count"]
    by_number = {r[0]: r for r in rows[1:]}
    assert set(by_number) == {"'" + PEOPLE[n][0] for n in ("new_york", "moved_from_miami")}
    assert by_number["'" + PEOPLE["new_york"][0]][1:] == ["'=HYPERLINK(\"x\")", "volunteer", "0"]
    async with pool.acquire() as conn:
        entry = await conn.fetchrow(
            "SELECT actor, detail FROM audit_log WHERE action = 'export.downloaded'")
        export = await conn.fetchrow("SELECT status, rows, via FROM contact_exports")
    detail = json.loads(entry["detail"]) if isinstance(entry["detail"], str) else entry["detail"]
    assert entry["actor"] == "organizer@example.org"
    assert (detail["filter"], detail["rows"], detail["program"]) == ("state = NY", 2, "rise")
    assert tuple(export) == ("done", 2, "page")


@pytest.mark.parametrize(("role", "allowed"), [("organizer", False), ("finance", True),
                                               ("admin", True)])
async def test_donor_columns_follow_the_matrix(
        site: WebApi, people: None, role: str, allowed: bool) -> None:
    await site.staff(role)
    await site.login(f"{role}@example.org")
    response = await site.client.get("/exports/contacts.csv", params=[
        ("program", "rise"), ("where", "state = NY"), ("fields", "msisdn"),
        ("fields", "donor_name"), ("fields", "employer"), ("fields", "occupation")])
    if not allowed:
        assert response.status == 403
        assert "donor" in await response.text()
        return
    assert response.status == 200, await response.text()
    rows = {r[0]: r[1:] for r in rows_of(await response.read())[1:]}
    assert rows["'" + PEOPLE["new_york"][0]] == ["Ana Diaz", "'@Acme", "Nurse"]


async def test_the_api_refuses_donor_columns_to_organizers(
        site: WebApi, people: None) -> None:
    staff = await site.staff("organizer")
    response = await site.client.post("/api/v1/exports", headers=staff.bearer, json={
        "program": "rise", "fields": ["msisdn", "employer"]})
    assert response.status == 403
    assert "employer" in (await response.json())["error"]["message"]


LARGE = 60_000


async def test_a_large_export_streams_before_the_query_ends(
        site: WebApi, pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO contacts (msisdn, shortcode, state, zip)"
            " SELECT '+1202555' || lpad(n::text, 7, '0'), $1,"
            "   jsonb_build_object('subs', jsonb_build_object('rise',"
            "     jsonb_build_object('status', 'subscribed', 'since', '2024-01-01'))), '20001'"
            " FROM generate_series(1, $2) AS n", CODE, LARGE)
    await site.staff("organizer")
    await site.login("organizer@example.org")
    response = await site.client.get("/exports/contacts.csv", params=[
        ("program", "rise"), ("fields", "msisdn"), ("fields", "zip"), ("fields", "joined_at")])
    assert response.status == 200
    first = await response.content.readexactly(4096)  # the first rows are here...
    assert first.startswith(b"msisdn,zip,joined_at\r\n")
    async with pool.acquire() as conn:  # ...while the export's snapshot is still open
        open_export = await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT c.msisdn%'"
            " AND state IN ('active', 'idle in transaction') AND pid <> pg_backend_pid()")
        assert await conn.fetchval("SELECT count(*) FROM contact_exports "
                                   "WHERE status = 'running'") == 1
    assert open_export == 1
    rest = await response.read()
    rows = rows_of(first + rest)
    assert len(rows) == LARGE + 1 and rows[-1][1:] == ["20001", "2024-01-01"]
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT rows FROM contact_exports") == LARGE


@pytest.fixture
async def job_site(pool: asyncpg.Pool, settings: Settings
                   ) -> AsyncIterator[tuple[WebApi, ManualClock]]:
    async with export_site(pool, settings) as made:
        yield made


class _Actor:
    def __init__(self, user: user_store.User) -> None:
        self.user_id, self.email = user.id, user.email


async def test_the_export_job_webhook_carries_a_link_that_downloads_then_expires(
        job_site: tuple[WebApi, ManualClock], pool: asyncpg.Pool, people: None) -> None:
    site, clock = job_site
    receiver = await Receiver(clock=clock.timestamp).start()
    try:
        admin = await site.staff("admin")
        async with pool.acquire() as conn:
            _, secret = await webhook_service.create(
                conn, _Actor(admin.user), "test", url=receiver.url,
                event_types=["export.completed"], description="warehouse",
                allow_loopback_http=True)
        finance = await site.staff("finance")
        asked = await site.client.post("/api/v1/exports", headers=finance.bearer, json={
            "program": "rise", "where": "state = NY",
            "fields": ["msisdn", "zip", "employer"]})
        assert asked.status == 202, await asked.text()
        export_id = (await asked.json())["export"]["id"]
        await export_jobs.drain()
        state = await (await site.client.get(f"/api/v1/exports/{export_id}",
                                             headers=finance.bearer)).json()
        assert (state["export"]["status"], state["export"]["rows"]) == ("done", 2)

        work = WebhookSender(
            pool, DeliveryConfig(owner="gw-1", timeout=5.0, retry_min=10.0, retry_max=60.0,
                                 max_attempts=10, disable_after_failures=1000,
                                 allow_private_networks=True),  # the receiver is loopback
            notice=DisabledNotice(StaffMail("gateway@campaign.example", "Gateway",
                                            lambda path: "https://gw.example" + path)),
            clock=clock)
        try:
            await rounds_until(work, clock, lambda: bool(receiver.accepted()), step=1.0)
        finally:
            await work.close()
        [delivery] = receiver.accepted()
        verify(secret, delivery.headers["Webhook-Signature"], delivery.body,
               now=clock.timestamp())
        event = delivery.event
        assert event["type"] == "export.completed"
        assert event["data"]["rows"] == 2 and event["data"]["export_id"] == export_id
        link = urlsplit(event["data"]["download_url"])
        path = f"{link.path}?{link.query}"

        got = await site.client.get(path)  # no API token: the link is the credential
        assert got.status == 200
        rows = rows_of(await got.read())
        assert rows[0] == ["msisdn", "zip", "employer"]
        assert sorted(r[0] for r in rows[1:]) == sorted(
            "'" + PEOPLE[n][0] for n in ("new_york", "moved_from_miami"))
        forged = await site.client.get(path[:-3] + ("AAA" if not path.endswith("AAA")
                                                    else "BBB"))
        assert forged.status == 403
        other = await site.client.get(path.replace(f"/{export_id}/", f"/{export_id + 1}/"))
        assert other.status == 403

        clock.advance(timedelta(seconds=3601))
        expired = await site.client.get(path)
        assert expired.status == 403
        assert "expired" in await expired.text()
    finally:
        await receiver.stop()


async def test_a_job_waits_for_nothing_when_none_runs() -> None:
    await asyncio.wait_for(export_jobs.drain(), 1)


async def test_old_export_files_are_pruned_and_new_ones_kept(pool: asyncpg.Pool) -> None:
    now = datetime.now(UTC)
    async with pool.acquire() as conn:
        old, new, running = [await conn.fetchval(
            "INSERT INTO contact_exports (requested_by, via, program, fields, status,"
            " finished_at) VALUES ('x@example.org', 'api', 'rise', '{msisdn}', $1, $2)"
            " RETURNING id", status, at)
            for status, at in (("done", now - timedelta(days=8)), ("done", now),
                               ("running", None))]
        for export_id in (old, new, running):
            await export_store.append_chunk(conn, export_id, 0, b"msisdn\r\n")
        assert await export_store.prune_files(conn, now - timedelta(days=7)) == 1
        assert [r["export_id"] for r in await conn.fetch(
            "SELECT export_id FROM contact_export_files ORDER BY 1")] == [new, running]


async def test_a_job_this_instance_left_running_is_failed_and_its_file_dropped(
        pool: asyncpg.Pool, settings: Settings) -> None:
    """At start, an instance fails its own jobs that were running when it stopped; another
    instance's running job may be running now and is left alone."""
    async with pool.acquire() as conn:
        mine, theirs, page = [await conn.fetchval(
            "INSERT INTO contact_exports (requested_by, via, program, fields, owner)"
            " VALUES ('x@example.org', $1, 'rise', '{msisdn}', $2) RETURNING id", via, owner)
            for via, owner in (("api", settings.instance_name), ("api", "other-gw"),
                               ("page", None))]
        await export_store.append_chunk(conn, mine, 0, b"msisdn\r\n+1555")
        assert await export_jobs.fail_stale(conn, settings, now=datetime.now(UTC) + timedelta(
            seconds=1)) == 1
        assert [tuple(r) for r in await conn.fetch(
            "SELECT id, status FROM contact_exports ORDER BY id")] == [
            (mine, "failed"), (theirs, "running"), (page, "running")]
        assert await conn.fetchval("SELECT count(*) FROM contact_export_files") == 0
