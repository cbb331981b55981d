"""A donor texting the short code, decided and billed on the test's own clock.

Shared by the donation tests that drive the store, the engine and the
billing service directly (no SMPP): each file adds the questions it asks.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

from gateway.billing.aggregators import get_profile
from gateway.billing.service import BillingService
from gateway.billing.stripe_client import StripeCards
from gateway.engine import load_rules
from gateway.engine.holder import RulesHolder
from gateway.pipeline.decide import DecisionWriter
from gateway.store import inbound as inbound_store
from gateway.store.inbound import NewInbound

ROOT = Path(__file__).resolve().parents[2]


class TextingDonor:
    def __init__(self, pool: asyncpg.Pool, cards: StripeCards | None, msisdn: str,
                 shortcode: str = "12345") -> None:
        self.pool = pool
        self.msisdn = msisdn
        self.shortcode = shortcode
        self.now = datetime.now(UTC).replace(microsecond=0) - timedelta(days=3)
        self.ids = itertools.count(1)
        rules = self.rules = RulesHolder(load_rules(ROOT / "keywords.yaml"))
        self.writer = DecisionWriter(rules)
        self.billing = BillingService(pool, rules, aggregator=get_profile("amount_tlv"),
                                      cards=cards, clock=lambda: self.now)

    def clock(self) -> float:
        """The donor's now as unix seconds: the fake Stripe's clock (`FakeStripe.clock`)."""
        return self.now.timestamp()

    async def text(self, body: str) -> None:
        """One MO a second later than the last, decided in its own transaction."""
        self.now += timedelta(seconds=1)
        mo_id = next(self.ids)
        mo = NewInbound(self.msisdn, self.shortcode, body, 0, 1, self.now)
        async with self.pool.acquire() as conn, conn.transaction():
            await inbound_store.insert_batch(conn, [mo], [mo_id])
            await self.writer.decide_and_write(conn, [(mo_id, mo)])
