"""Supporters asking the contact centre: texts through the real pipeline writer, no SMPP.

Each MO is decided by the engine and written by the store in its own
transaction, as ingest does, at a time the test chooses; `text_fr` is the
same over SMPP, to the French short code through the simulator.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from gateway.engine import load_rules
from gateway.engine.holder import RulesHolder
from gateway.pipeline.decide import DecisionWriter
from gateway.smpp.constants import CommandStatus
from gateway.smpp.simulator import SmscSimulator
from gateway.store import inbound as inbound_store
from gateway.store.inbound import NewInbound

ROOT = Path(__file__).resolve().parents[2]
RULES = load_rules(ROOT / "keywords.yaml")
NOW = datetime(2024, 5, 1, 15, 0, tzinfo=UTC)
FR = "38200"


class Supporter:
    """One number texting a short code (French by default), decided at the test's time."""

    def __init__(self, pool: asyncpg.Pool, msisdn: str, shortcode: str = FR) -> None:
        self.pool, self.msisdn, self.shortcode = pool, msisdn, shortcode
        self.writer = DecisionWriter(RulesHolder(RULES))
        self.ids = inbound_store.IdReserve("inbound_id_seq", block=1)

    async def text(self, body: str, at: datetime = NOW) -> list[str]:
        """Send one MO; return the replies queued for it."""
        mo = NewInbound(self.msisdn, self.shortcode, body, 0, 1, at)
        async with self.pool.acquire() as conn, conn.transaction():
            [mo_id] = await self.ids.take(conn, 1)
            await inbound_store.insert_batch(conn, [mo], [mo_id])
            await self.writer.decide_and_write(conn, [(mo_id, mo)])
            rows = await conn.fetch(
                "SELECT body FROM outbound WHERE in_reply_to = $1 ORDER BY id", mo_id)
        return [r["body"] for r in rows]


async def asked(pool: asyncpg.Pool, msisdn: str, text: str, at: datetime = NOW) -> int:
    """`msisdn` texts a question at `at`; the id of the question it became."""
    await Supporter(pool, msisdn).text(text, at)
    async with pool.acquire() as conn:
        return int(await conn.fetchval(
            "SELECT max(id) FROM questions WHERE msisdn = $1", msisdn))


async def text_fr(smsc: SmscSimulator, msisdn: str, body: str, *, expect: int) -> list[str]:
    """Over SMPP to the French code: send `body`, wait for `expect` more MTs, return them."""
    before = len(smsc.texts_to(msisdn))
    assert await smsc.inject_mo(msisdn, FR, body) == CommandStatus.ESME_ROK
    async with asyncio.timeout(10):
        await smsc.wait_until(lambda: len(smsc.texts_to(msisdn)) >= before + expect)
    return smsc.texts_to(msisdn)[before:]


# two questions of two themes, from two numbers (the inbox's theme fences)
EDU_TEXT = "Quand rouvrira le lycée de ma ville ?"
SECURITY_TEXT = "La police ne vient jamais dans mon quartier, pourquoi ?"
EDU = "+33600000101"
SEC = "+33600000102"
