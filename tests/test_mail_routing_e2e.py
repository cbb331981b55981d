"""A whole gateway: a citizen's mail through the real SMTP listener reaches the expert queue,
routed by the gateway's own `mail-route` task, and its acknowledgement is queued threaded.
"""

from __future__ import annotations

import asyncio
import smtplib
from collections.abc import AsyncIterator

import asyncpg
import pytest

from gateway.app import Gateway
from gateway.config import Settings
from gateway.smpp.simulator import SmscSimulator
from tests.support.e2e import gateway_settings, running_gateway, stop_gateway, wait_for
from tests.support.written_mail import CONTACT, citizen_mail


@pytest.fixture
async def mail_gateway(settings: Settings, smsc: SmscSimulator) -> AsyncIterator[Gateway]:
    gw = await running_gateway(gateway_settings(
        settings, smsc, mail_smtp_enabled=True, mail_smtp_port=0,
        mail_contact_addresses=[CONTACT], mail_route_interval=0.05), smsc)
    try:
        yield gw
    finally:
        await stop_gateway(gw)


async def test_mail_over_smtp_becomes_a_question_and_an_acknowledgement(
        mail_gateway: Gateway) -> None:
    listener = mail_gateway.mail.listener
    assert listener is not None and listener.port is not None
    port = listener.port
    raw = citizen_mail("Fermeture des urgences de l'hôpital à Besançon", "Pourquoi ?")

    def send() -> None:
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
            client.sendmail("renee@example.fr", [CONTACT], raw)

    await asyncio.to_thread(send)
    pool: asyncpg.Pool = mail_gateway.pool

    async def acknowledged() -> bool:
        async with pool.acquire() as conn:
            return bool(await conn.fetchval("SELECT count(*) FROM mail_outbox"))

    await wait_for(acknowledged)
    assert mail_gateway.supervisor.status()["mail-route"] == "running"
    async with pool.acquire() as conn:
        question = await conn.fetchrow("SELECT channel, theme, email FROM questions")
        ack = await conn.fetchrow("SELECT purpose, in_reply_to, to_address FROM mail_outbox")
    assert question is not None and ack is not None
    assert tuple(question) == ("email", "sante", "renee@example.fr")
    assert tuple(ack) == ("acknowledgement", "<q1@example.fr>", "renee@example.fr")
