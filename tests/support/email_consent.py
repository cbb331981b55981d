"""E-mail consent tests' shared pieces: settings that can mail, the public pages on a real
socket, and reading the confirmation link out of the queued mail."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from gateway.clock import Clock
from gateway.config import Settings
from gateway.email_consent import Evidence, OptInRequest, request_opt_in
from gateway.email_consent.opt_in import NO_EVIDENCE, confirm
from gateway.engine import Rules, load_rules
from gateway.mail.record import build_record, smtp_dedupe_key
from gateway.metrics import Metrics
from gateway.store import mail_inbound
from gateway.unsubscribe_link import unsubscribe_url
from gateway.web.health import make_web_app
from gateway.web.mail_consent import add_mail_consent_routes

ROOT = Path(__file__).resolve().parents[2]
RULES: Rules = load_rules(ROOT / "keywords.yaml")
BOX = "Receive information about the campaign by e-mail"
BOX_VERSION = "form-box-v2"
LINK = re.compile(r"https://act\.campaign\.example(/mail/confirm/\S+)")


def mailing_settings(settings: Settings, **changes: Any) -> Settings:
    """The test's settings plus a From address, a public URL and both keys."""
    return settings.model_copy(update={
        "mail_from_address": "contact@campaign.example",
        "public_base_url": "https://act.campaign.example",
        "mail_link_secret": SecretStr("unsubscribe-link-test-key"),
        "privacy_hash_secret": SecretStr("privacy-test-key"), **changes})


async def tick_box(conn: asyncpg.Connection, settings: Settings, address: str, now: datetime,
                   *, program: str = "rise", source: str = "web_form",
                   evidence: Evidence = NO_EVIDENCE, language: str | None = None
                   ) -> OptInRequest:
    """What the public form does with a ticked box."""
    return await request_opt_in(conn, settings, RULES, address=address, program=program,
                                source=source, wording=BOX, version=BOX_VERSION,
                                evidence=evidence, now=now, language=language)


async def confirmed_subscriber(conn: asyncpg.Connection, settings: Settings, address: str,
                               now: datetime, *, program: str = "rise") -> str:
    """`address` ticks the box and presses the link's button; its unsubscribe URL."""
    requested = await tick_box(conn, settings, address, now, program=program)
    assert requested.mail_id is not None, requested
    token = (await confirmation_path(conn, requested.mail_id)).rsplit("/", 1)[1]
    confirmed = await confirm(conn, RULES, token=token, now=now, client_ip=None)
    assert confirmed.status == "confirmed", confirmed
    return unsubscribe_url(settings, address, program)


async def confirmation_path(conn: asyncpg.Connection, mail_id: int) -> str:
    """The path of the link in the queued confirmation mail."""
    body = await conn.fetchval("SELECT text_body FROM mail_outbox WHERE id = $1", mail_id)
    found = LINK.search(body)
    assert found, body
    return found[1]


async def stored_reply(conn: asyncpg.Connection, sender: str, body: str) -> int:
    """A citizen's mail stored exactly as the SMTP listener stores it; its mail_inbound id."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "contact@campaign.example"
    message["Subject"] = "Re: Rise Up Alerts news"
    message.set_content(body)
    raw = message.as_bytes()
    record = build_record(raw, intake="smtp", dedupe_key=smtp_dedupe_key(sender, [], raw),
                          envelope_from=sender, max_attachment_bytes=1000)
    mail_id, _ = await mail_inbound.insert(conn, record)
    return mail_id


def path_of(url: str) -> str:
    return urlsplit(url).path


@asynccontextmanager
async def public_pages(pool: asyncpg.Pool, settings: Settings,
                       clock: Clock) -> AsyncIterator[TestClient[Any, Any]]:
    """The confirm and unsubscribe pages on aiohttp's test server (a real socket)."""
    async def healthy() -> dict[str, Any]:
        return {"database": True}

    app = make_web_app(metrics=Metrics(), health_check=healthy)
    add_mail_consent_routes(app, pool=pool, settings=settings, rules=lambda: RULES,
                            clock=clock)
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()
