"""Contact import on the organizers' page in headless Chromium, and through the API.

The page: upload a file, see the guessed mapping, run the dry run (the
background job is run by the test), read the report with its row and column,
import, read the result. Screenshots go to IMPORT_SCREENSHOTS (a folder) when
set. The API: the same steps by JSON, scope contacts:write for the lead to wire.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

import asyncpg
from playwright.async_api import Page, expect

from tests.support.browser import browser_page, needs_chromium
from tests.support.imports import runner
from tests.support.webapi import PASSWORD, WebApi

__all__ = ["browser_page"]

FILE = ("Mobile;Prénom;Nom;Source;Date opt-in;Campagne;Désabonné\n"
        "06 12 34 56 78;Ana;Dupont;formulaire web;2025-03-01;Pétition printemps;\n"
        "0612345679;Bob;Martin;;;;\n"
        "12;Cy;Petit;formulaire web;2025-03-01;Pétition printemps;\n"
        "+33 6 12 34 56 78;Ana;D;formulaire web;2025-03-01;Pétition printemps;\n"
        "0612345680;Dee;Durand;;;;oui\n").encode("cp1252")


@needs_chromium
async def test_an_organizer_imports_a_file_through_the_page(
        site: WebApi, pool: asyncpg.Pool, browser_page: Page, tmp_path: Path) -> None:
    shots = Path(os.environ.get("IMPORT_SCREENSHOTS", tmp_path))
    os.makedirs(shots, exist_ok=True)
    await site.staff("organizer")
    base = str(site.client.make_url("")).rstrip("/")
    page = browser_page
    await page.goto(base + "/login")
    await page.get_by_label("E-mail").fill("organizer@example.org")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await page.goto(base + "/imports")
    upload = tmp_path / "liste.csv"
    upload.write_bytes(FILE)
    await page.get_by_label("File (CSV or XLSX").set_input_files(str(upload))
    await page.get_by_label("Program").select_option("ensemble")
    await page.get_by_label("Country of national numbers").fill("FR")
    await page.screenshot(path=str(shots / "imports.png"), full_page=True)
    await page.get_by_role("button", name="Upload and choose the columns").click()

    await expect(page.get_by_label("Phone number")).to_have_value("Mobile")
    await expect(page.get_by_label("Consent: wording or campaign")).to_have_value("Campagne")
    await expect(page.get_by_label("Opted out")).to_have_value("Désabonné")
    await page.screenshot(path=str(shots / "import-mapping.png"), full_page=True)
    await page.get_by_role("button", name="Run the dry run").click()
    await expect(page.locator("progress")).to_be_visible()
    assert await runner(pool).run_once()
    await page.reload()
    report = page.locator("#import-rows")
    await expect(report).to_contain_text("Not a phone number")
    await expect(report).to_contain_text("Same number as an earlier row (row 2)")
    await expect(report).to_contain_text("No proof of consent")
    await page.screenshot(path=str(shots / "import-dry-run.png"), full_page=True)
    await page.get_by_role("button", name="Import these 5 rows").click()
    assert await runner(pool).run_once()
    await page.reload()
    await expect(page.locator("#result-title")).to_be_visible()
    await page.screenshot(path=str(shots / "import-done.png"), full_page=True)
    async with pool.acquire() as conn:  # the same page for a French-speaking organizer
        await conn.execute("UPDATE users SET language = 'fr'")
    await page.reload()
    await expect(page.locator("#result-title")).to_have_text("Importé")
    await expect(page.locator("#import-rows")).to_contain_text("Même numéro qu'une ligne")
    await page.screenshot(path=str(shots / "import-done-fr.png"), full_page=True)
    async with pool.acquire() as conn:
        subscribed = await conn.fetch(
            "SELECT msisdn, consent_source FROM consent_events WHERE kind = 'opt_in_confirmed'")
        assert [tuple(r) for r in subscribed] == [("+33612345678", "formulaire web")]


async def test_the_api_imports_and_names_row_and_column(site: WebApi,
                                                        pool: asyncpg.Pool) -> None:
    staff = await site.staff("organizer")
    body = {"filename": "liste.csv", "content_base64": base64.b64encode(FILE).decode(),
            "program": "ensemble", "country": "FR"}
    made = await site.client.post("/api/v1/imports", json=body, headers=staff.bearer)
    assert made.status == 202, await made.text()
    found = await made.json()
    import_id = found["import"]["id"]
    assert found["import"]["mapping"]["phone"] == "Mobile"
    assert await runner(pool).run_once()
    dry = await (await site.client.get(f"/api/v1/imports/{import_id}",
                                       headers=staff.bearer)).json()
    assert dry["dry_run"]["skipped_by_reason"] == {"bad_number": 1, "duplicate": 1}
    by_row = {r["row_no"]: r for r in dry["rows"]}
    assert (by_row[4]["reason"], by_row[4]["column_name"]) == ("bad_number", "Mobile")
    assert (by_row[3]["effect"], by_row[3]["reason"]) == ("contact_only", "no_consent")
    started = await site.client.post(f"/api/v1/imports/{import_id}/start", json={},
                                     headers=staff.bearer)
    assert started.status == 202
    assert await runner(pool).run_once()
    done = await (await site.client.get(f"/api/v1/imports/{import_id}",
                                        headers=staff.bearer)).json()
    assert done["result"] == dry["dry_run"] and done["import"]["status"] == "done"

    wrong = await site.client.post("/api/v1/imports", json={
        **body, "mapping": {"phone": "Téléphone"}}, headers=staff.bearer)
    assert wrong.status == 400
    error = await wrong.json()
    assert "Téléphone" in str(error) and "row 1" in str(error)
    broken = await site.client.post("/api/v1/imports", json={
        **body, "content_base64": base64.b64encode(
            FILE + b'0612345681;"Eve;Roux;x;2025-03-01;y;\n').decode()},
        headers=staff.bearer)
    assert broken.status == 400
    assert "row 7" in str(await broken.json())
    for role in ("finance", "expert"):
        other = await site.staff(role)
        refused = await site.client.get(f"/api/v1/imports/{import_id}", headers=other.bearer)
        assert refused.status == 403, role
