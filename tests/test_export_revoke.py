"""One finished export's download revoked, singly: by its requester or an admin only, over
the API (DELETE, scope contacts:export) and on the exports page after a confirm step; the
file's chunks go, the signed link answers 410 Gone with a sentence, the audit log says who."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from gateway.config import Settings
from gateway.services import export_jobs
from gateway.store import users as user_store
from gateway.web.credentials import new_api_token
from tests.support.broadcasts import seed
from tests.support.clock import ManualClock
from tests.support.pages_site import export_site, form_token
from tests.support.webapi import WebApi


@pytest.fixture
async def job_site(pool: asyncpg.Pool, settings: Settings
                   ) -> AsyncIterator[tuple[WebApi, ManualClock]]:
    async with pool.acquire() as conn:
        await seed(conn)
    async with export_site(pool, settings) as made:
        yield made


async def _finished_export(site: WebApi, bearer: dict[str, str]) -> tuple[int, str]:
    """A finished API export and its signed link's path."""
    asked = await site.client.post("/api/v1/exports", headers=bearer, json={
        "program": "rise", "fields": ["msisdn", "zip"]})
    assert asked.status == 202, await asked.text()
    export_id = int((await asked.json())["export"]["id"])
    await export_jobs.drain()
    link = export_jobs.make_link(site.settings, export_id, now=datetime.now(UTC))
    path = link.url[link.url.index("/api/"):]
    assert (await site.client.get(path)).status == 200
    return export_id, path


async def _chunks(pool: asyncpg.Pool, export_id: int) -> int:
    async with pool.acquire() as conn:
        found: int = await conn.fetchval(
            "SELECT count(*) FROM contact_export_files WHERE export_id = $1", export_id)
    return found


async def test_the_api_revokes_one_export_for_its_requester_only(
        job_site: tuple[WebApi, ManualClock], pool: asyncpg.Pool) -> None:
    site, _ = job_site
    finance = await site.staff("finance")
    other = await site.staff("organizer")
    export_id, path = await _finished_export(site, finance.bearer)
    kept_id, kept_path = await _finished_export(site, finance.bearer)
    assert await _chunks(pool, export_id) > 0

    refused = await site.client.delete(f"/api/v1/exports/{export_id}", headers=other.bearer)
    assert refused.status == 403
    made = new_api_token()  # the requester's own token, without contacts:export
    async with pool.acquire() as conn:
        await user_store.insert_token(conn, user_id=finance.user.id, name="narrow",
                                      prefix=made.prefix, secret_hash=made.secret_hash,
                                      expires_at=datetime.now(UTC) + timedelta(days=1),
                                      scopes=["donations:read"])
    narrow = await site.client.delete(f"/api/v1/exports/{export_id}",
                                      headers={"Authorization": f"Bearer {made.token}"})
    assert narrow.status == 403
    assert await _chunks(pool, export_id) > 0

    revoked = await site.client.delete(f"/api/v1/exports/{export_id}", headers=finance.bearer)
    assert revoked.status == 200, await revoked.text()
    assert (await revoked.json())["export"]["revoked_at"] is not None
    assert await _chunks(pool, export_id) == 0
    gone = await site.client.get(path)
    assert gone.status == 410
    assert "was revoked" in (await gone.json())["error"]["message"]
    again = await site.client.delete(f"/api/v1/exports/{export_id}", headers=finance.bearer)
    assert again.status == 409
    assert (await site.client.get(kept_path)).status == 200  # the other export is untouched
    assert await _chunks(pool, kept_id) > 0
    async with pool.acquire() as conn:
        audit = await conn.fetch("SELECT actor, target FROM audit_log"
                                 " WHERE action = 'export.revoked'")
    assert [(r["actor"], r["target"]) for r in audit] == [
        ("finance@example.org", f"export:{export_id}")]


async def test_an_admin_revokes_on_the_page_after_confirming(
        job_site: tuple[WebApi, ManualClock], pool: asyncpg.Pool) -> None:
    site, _ = job_site
    finance = await site.staff("finance")
    export_id, path = await _finished_export(site, finance.bearer)
    await site.staff("admin", email="admin@example.org")
    await site.login("admin@example.org")
    page = await (await site.client.get("/exports")).text()
    assert f'action="/exports/{export_id}/revoke"' in page
    token = form_token(page)

    ask = await site.client.post(f"/exports/{export_id}/revoke", data={"csrf_token": token})
    asked = await ask.text()
    assert ask.status == 200 and 'name="confirmed" value="yes"' in asked
    assert "cannot be undone" in asked
    assert await _chunks(pool, export_id) > 0  # asking is not doing

    done = await site.client.post(f"/exports/{export_id}/revoke", allow_redirects=False,
                                  data={"csrf_token": token, "confirmed": "yes"})
    assert done.headers["Location"] == f"/exports?revoked={export_id}"
    after = await (await site.client.get(done.headers["Location"])).text()
    assert "its link no longer works" in after and "Revoked" in after
    assert f'action="/exports/{export_id}/revoke"' not in after
    assert await _chunks(pool, export_id) == 0
    assert (await site.client.get(path)).status == 410
