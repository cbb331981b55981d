"""The demo mailbox in a real browser: write to the campaign, get the answer, reply in thread.

A gateway as `make demo` runs it for mail: its SMTP listener on, its sender
submitting to the demo sink (gateway/mail/demo_sink.py) on loopback, and the
mailbox page on. The citizen writes from the page (the listener stores it);
the campaign's answer is queued as the answering code queues it, threaded on
that message; the sender delivers it to the sink; the citizen reads it on the
page and replies, and the reply reaches the gateway with In-Reply-To and
References naming the answer. Skips without Chromium.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from playwright.async_api import Page, expect

from gateway.app import Gateway
from gateway.config import Settings
from gateway.mail import demo_mailbox
from gateway.mail.demo_sink import serve
from gateway.smpp.simulator import SmscSimulator
from gateway.store import users as user_store
from gateway.web.credentials import hash_password
from tests.support.browser import browser_page, needs_chromium
from tests.support.e2e import gateway_settings, running_gateway, stop_gateway, wait_for
from tests.support.mail_out import queue
from tests.support.pages_site import start_site

__all__ = ["browser_page"]  # the fixture, shared from tests/support/browser.py

PASSWORD = "a long demo passphrase"
CONTACT = "contact@campaign.example"
CITIZEN = "renee@example.org"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
async def mail_demo(settings: Settings, smsc: SmscSimulator,
                    tmp_path: Path) -> AsyncIterator[Gateway]:
    root = tmp_path / "mailbox"
    sink_port = free_port()
    sink = asyncio.create_task(serve("127.0.0.1", sink_port, root))
    await asyncio.sleep(0.1)
    gw = await running_gateway(gateway_settings(
        settings, smsc, web_cookie_secure=False, mail_smtp_enabled=True,
        mail_smtp_port=free_port(), mail_contact_addresses=[CONTACT],
        mail_from_name="Campaign contact centre", mail_out_host="127.0.0.1",
        mail_out_port=sink_port, mail_out_security="none", mail_demo_mailbox=root), smsc)
    try:
        async with gw.pool.acquire() as conn:
            await user_store.insert_user(conn, email="admin@example.org", role="admin",
                                         themes=(), password_hash=hash_password(PASSWORD))
        yield gw
    finally:
        await stop_gateway(gw)
        sink.cancel()
        await asyncio.gather(sink, return_exceptions=True)


async def inbound(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    return list(await pool.fetch(
        "SELECT subject, message_id, in_reply_to, references_ids, from_address"
        " FROM mail_inbound ORDER BY id"))


@needs_chromium
async def test_write_read_the_answer_and_reply_in_thread(
        mail_demo: Gateway, browser_page: Page, tmp_path: Path) -> None:
    page, base = browser_page, f"http://127.0.0.1:{mail_demo.http_port}"
    await page.goto(base + "/login")
    await page.get_by_label("E-mail").fill("admin@example.org")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await page.get_by_role("link", name="Mailbox").click()  # in the navigation beside Phone
    await expect(page.get_by_role("heading", level=1)).to_have_text("Mailbox")
    await page.get_by_label("E-mail address").fill(CITIZEN)
    await page.get_by_role("button", name="Open this mailbox").click()
    await expect(page.locator("#no-letters")).to_be_visible()

    await page.get_by_label("Subject").fill("Où est l'hôpital ?")
    await page.get_by_label("Message").fill("Bonjour,\nquand rouvre l'hôpital de nuit ?")
    await page.get_by_role("button", name=f"Send as {CITIZEN}").click()
    await expect(page.locator("#letters tbody tr")).to_have_count(1)
    [question] = await inbound(mail_demo.pool)
    assert question["subject"] == "Où est l'hôpital ?" and question["from_address"] == CITIZEN
    root = mail_demo.settings.mail_demo_mailbox
    assert root is not None

    async def in_mailbox(count: int) -> bool:
        return len(await asyncio.to_thread(demo_mailbox.letters, root, CITIZEN)) == count

    # the gateway routes the question to its theme and acknowledges it by e-mail; waited
    # for here, so the counts below do not depend on when the router ran
    await wait_for(lambda: in_mailbox(2))
    acknowledgement = (await asyncio.to_thread(demo_mailbox.letters, root, CITIZEN))[1]
    assert "est bien arrivée" in acknowledgement.subject

    # the campaign answers, threaded on the citizen's message (as the answering code will)
    await queue(mail_demo.pool, to=CITIZEN, from_address=CONTACT,
                subject="Re: Où est l'hôpital ?",
                text_body="Bonjour Renée,\n\nLes urgences rouvrent la nuit dès lundi.",
                in_reply_to=question["message_id"], references=(question["message_id"],))
    assert mail_demo.mail_out is not None
    mail_demo.mail_out.wake()
    await wait_for(lambda: in_mailbox(3))
    await page.get_by_role("link", name="Check for new mail").click()
    await expect(page.locator("#letters tbody tr")).to_have_count(3)
    await page.screenshot(path=str(tmp_path / "mailbox.png"), full_page=True)
    await page.get_by_role("link", name="Re: Où est l'hôpital ?").click()
    await expect(page.locator("#letter-text")).to_contain_text("rouvrent la nuit")
    headers = page.locator("#headers")
    await expect(headers).to_contain_text("Campaign contact centre")
    await expect(headers).to_contain_text(question["message_id"])  # In-Reply-To
    await page.screenshot(path=str(tmp_path / "message.png"), full_page=True)

    await page.get_by_label("Your reply").fill("Merci ! Et le week-end ?")
    await page.get_by_role("button", name="Send the reply").click()
    await expect(page.locator("#letters tbody tr")).to_have_count(4)
    answer = (await asyncio.to_thread(demo_mailbox.letters, root, CITIZEN))[2]
    reply = (await inbound(mail_demo.pool))[1]
    assert reply["subject"] == "Re: Où est l'hôpital ?"
    assert reply["in_reply_to"] == answer.message_id
    assert reply["references_ids"] == [question["message_id"], answer.message_id]


async def test_the_mailbox_is_off_unless_configured(
        pool: asyncpg.Pool, settings: Settings) -> None:
    site = await start_site(pool, settings)
    try:
        admin = await site.staff("admin")
        page = await site.client.get("/mailbox", headers=admin.bearer)
        assert page.status == 404 and "GATEWAY_MAIL_DEMO_MAILBOX" in await page.text()
        sent = await site.client.post("/mailbox/send", headers=admin.bearer,
                                      data={"address": CITIZEN, "text": "hello"})
        assert sent.status == 404
        home = await site.client.get("/dashboard", headers=admin.bearer)
        assert 'href="/mailbox"' not in await home.text()
    finally:
        await site.client.close()


def test_an_address_cannot_reach_outside_the_mailbox_directory(tmp_path: Path) -> None:
    path = demo_mailbox.mailbox_dir(tmp_path, "a/b@Example.org")  # '/' is allowed there
    assert path.parent == tmp_path and path.name == "a%2Fb@example.org"
    demo_mailbox.keep_sent(tmp_path, "a/b@example.org", demo_mailbox.citizen_mail(
        citizen="a/b@example.org", to="contact@campaign.example", subject="s", text="t"))
    assert demo_mailbox.addresses(tmp_path) == [("a/b@example.org", 1)]
    assert demo_mailbox.letter(tmp_path, "a@example.org", "../secret.eml") is None
