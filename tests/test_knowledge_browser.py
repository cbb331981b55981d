"""The knowledge base in a real browser (Debian's Chromium, driven by Playwright).

An organizer uploads a brochure on the Knowledge base page; an expert then
opens a health question, searches "hopitaux" from the answer form, reads
the highlighted passage and inserts it with /static/knowledge.js: in place,
at the cursor, no round trip, the SMS count updated. Skips without Chromium,
like tests/test_browser_e2e.py.
"""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg
from playwright.async_api import FilePayload, Page, expect

from gateway.app import Gateway
from gateway.smstext import segment_count
from gateway.store import users as user_store
from gateway.web.credentials import hash_password
from tests.support.browser import browser_page, needs_chromium
from tests.support.questions import asked

pytestmark = needs_chromium

__all__ = ["browser_page"]  # the fixture, shared from tests/support/browser.py

PASSWORD = "a long demo passphrase"
BROCHURE = ("# Santé\n\nLes urgences de chaque hôpital de proximité rouvriront la nuit.\n\n"
            "Nous doublerons les maisons de santé rurales.\n")
PASSAGE = ("Santé\n\nLes urgences de chaque hôpital de proximité rouvriront la nuit.\n\n"
           "Nous doublerons les maisons de santé rurales.")  # short: one passage


async def log_in(page: Page, base: str, email: str) -> None:
    await page.goto(base + "/login")
    await page.get_by_label("E-mail").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()


async def test_upload_then_search_and_insert_from_the_answer_form(
    pool: asyncpg.Pool, demo_gateway: Gateway, browser_page: Page,
) -> None:
    question = await asked(pool, "+33600000501", "SANTE quand rouvrira l'hôpital ?",
                           datetime.now(UTC))
    async with pool.acquire() as conn:
        for email, role, themes in (("organizer@example.org", "organizer", ()),
                                    ("sante@example.org", "expert", ("sante",))):
            await user_store.insert_user(conn, email=email, role=role, themes=themes,
                                         password_hash=hash_password(PASSWORD))
    page = browser_page
    base = f"http://127.0.0.1:{demo_gateway.http_port}"

    await log_in(page, base, "organizer@example.org")
    await page.get_by_role("link", name="Knowledge base").click()
    await page.get_by_label("Title").fill("Brochure santé")
    await page.get_by_label("Program").select_option("ensemble")
    await page.get_by_label("Theme").select_option("sante")
    await page.get_by_label("Public address").fill("https://ensemble.example.fr/sante")
    brochure: FilePayload = {"name": "brochure.md", "mimeType": "text/markdown",
                             "buffer": BROCHURE.encode()}
    await page.get_by_label("File").set_input_files(files=brochure)
    await page.get_by_role("button", name="Add the document").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Brochure santé")
    await expect(page.locator("#document-text")).to_contain_text("hôpital de proximité")
    await page.get_by_role("button", name="Log out").click()

    await log_in(page, base, "sante@example.org")
    await page.goto(f"{base}/inbox/questions/{question}")
    answer = page.locator("#text")
    await answer.fill("Bonjour ! ")
    await page.get_by_label("Search the campaign's documents").fill("hopitaux")
    await page.get_by_role("button", name="Search", exact=True).click()
    hits = page.locator("#knowledge-hits li")
    await expect(hits).to_have_count(1)
    await expect(hits.locator("mark")).to_have_text("hôpital")
    await expect(answer).to_have_value("Bonjour ! ")  # the draft came back with the results

    url = page.url
    await answer.press("End")
    await hits.get_by_role("button", name="Insert the passage").click()
    await expect(answer).to_have_value(f"Bonjour ! {PASSAGE}")
    assert page.url == url  # inserted in place: no round trip
    sent_as = "Ensemble Citoyen : " + " ".join(f"Bonjour ! {PASSAGE}".split()) + " STOP au 38200"
    await expect(page.locator("#answer-segments")).to_have_text(str(segment_count(sent_as)))
    await hits.get_by_role("button", name="Insert the link").click()
    await expect(answer).to_have_value(f"Bonjour ! {PASSAGE} https://ensemble.example.fr/sante")
    await page.get_by_role("button", name="Send the answer").click()
    await expect(page.locator("#question-answer")).to_contain_text("https://ensemble.example.fr")
