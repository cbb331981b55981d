"""Supporters' texts through the real decision pipeline, and the outbox "delivered".

Why the pipeline and not rows written by hand: a contact's state, its
consent ledger rows (with the disclosure the confirmation carried), its
profile and location columns, its gifts and its questions are what
`DecisionWriter` writes for an MO; writing them any other way would show a
demo of something the product never writes. Each MO is decided in its own
transaction at its own time in the story, as ingest would.

The demo has no carrier: what the outbox holds is claimed, submitted and
receipted DELIVRD here through the outbox's own writer (store/outbound.py),
so the dashboard's deliveries and the billed MTs' settlement read as they
would after a real SMSC's receipts; each is recorded as made, sent and
delivered at the story's time of the MO it answers (never later than now),
so a contact's timeline shows a reply beside its MO, and a gift billed on
the phone is billed on its day, not at the time the seed ran (the
reconciliation page counts a gift's age from it).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg

from gateway import smstext
from gateway.billing.aggregators import get_profile
from gateway.billing.service import BillingService
from gateway.billing.stripe_client import StripeCards
from gateway.engine.holder import RulesHolder
from gateway.pipeline.decide import DecisionWriter
from gateway.store import inbound as inbound_store
from gateway.store import outbound as outbound_store
from gateway.store.inbound import IdReserve, NewInbound
from gateway.store.receipts import NewReceipt

OWNER = "demo-seed"  # the outbox lease owner while the seed "sends"
CLAIM_BATCH = 500


class Texter:
    """One phone network for the story: MOs in, decisions written, MTs delivered."""

    def __init__(self, pool: asyncpg.Pool, rules: RulesHolder, *, privacy_key: bytes | None,
                 cards: StripeCards | None, aggregator: str) -> None:
        self.pool = pool
        self.now = datetime.now(UTC)  # the story's clock, moved by `text` and `at`
        self._writer = DecisionWriter(rules, privacy_key=privacy_key)
        self._ids = IdReserve("inbound_id_seq")
        self.billing = BillingService(pool, rules, aggregator=get_profile(aggregator),
                                      cards=cards, clock=self.clock, privacy_key=privacy_key)
        self.delivered = 0

    def clock(self) -> datetime:
        return self.now

    def at(self, when: datetime) -> None:
        self.now = when

    async def text(self, msisdn: str, shortcode: str, body: str, when: datetime) -> None:
        """One MO, stored and decided in its own transaction, as ingest does."""
        self.now = when
        coding = smstext.data_coding_for(smstext.choose_encoding(body))
        mo = NewInbound(msisdn, shortcode, body, coding, 1, when)
        async with self.pool.acquire() as conn, conn.transaction():
            [mo_id] = await self._ids.take(conn, 1)
            await inbound_store.insert_batch(conn, [mo], [mo_id])
            await self._writer.decide_and_write(conn, [(mo_id, mo)])

    async def bill(self, after: timedelta = timedelta(seconds=5)) -> None:
        """The billing service's pass a few seconds later, the outbox, settlement, the thanks."""
        self.now += after
        await self.billing.tick()
        await self.deliver()
        await self.billing.tick()  # settles the billed MTs just receipted, and thanks
        await self.deliver()

    async def deliver(self) -> int:
        """Every MT due now: claimed, submitted and receipted as the SMSC would."""
        total = 0
        while True:
            async with self.pool.acquire() as conn, conn.transaction():
                claimed, _ = await outbound_store.claim(
                    conn, limit=CLAIM_BATCH, owner=OWNER, lease_seconds=60)
                if not claimed:
                    break
                parts = {m.id: _segment_ids(m.id, m.body) for m in claimed}
                sent_at = min(self.now, datetime.now(UTC))
                await outbound_store.mark_submitted(conn, list(parts.items()), at=sent_at)
                await outbound_store.record_receipts(conn, [
                    NewReceipt(part, "DELIVRD", "000", True)
                    for ids in parts.values() for part in ids])
                await outbound_store.backdate(conn, list(parts), sent_at)
            total += len(claimed)
        self.delivered += total
        return total


def _segment_ids(outbound_id: int, body: str) -> list[str]:
    """One made-up SMSC message id per SMS segment the text needs."""
    return [f"demo-{outbound_id}-{n}" for n in range(1, smstext.segment_count(body) + 1)]
