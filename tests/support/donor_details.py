"""One card donor past the $50 and $200 thresholds of compliance rule 18, and their details.

Shared by the tests of the hold itself (store, engine, billing service) and
of the web form that lifts it: both need the same donor with a saved card,
giving on the test's own clock.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import asyncpg

from gateway.billing.details import receive_donor_details
from gateway.billing.stripe_client import StripeCards
from gateway.store.donations import DonorDetails
from tests.support.donors import TextingDonor

MSISDN = "+15551237001"
COMMITTEE = "Rise Up PAC"
NAME_ADDRESS = DonorDetails(MSISDN, COMMITTEE, "web", datetime(2026, 1, 1, tzinfo=UTC),
                            name="Ada Lovelace", street="1 Main St", city="Springfield",
                            region="IL", postal_code="62701", country="US")
EVERYTHING = replace(NAME_ADDRESS, employer="Analytical Engines", occupation="Engineer")


class Donor(TextingDonor):
    """The donor of these tests: `MSISDN`, a card saved at the fake Stripe, no details yet."""

    def __init__(self, pool: asyncpg.Pool, cards: StripeCards) -> None:
        super().__init__(pool, cards, MSISDN)

    async def give(self, amount: int) -> None:
        await self.text(f"GIVE {amount}")
        await self.text("YES")
        await self.billing.tick()

    async def details(self, details: DonorDetails) -> list[int]:
        async with self.pool.acquire() as conn, conn.transaction():
            return await receive_donor_details(conn, details, now=self.now)

    async def statuses(self) -> list[str]:
        async with self.pool.acquire() as conn:
            return [r["status"] for r in await conn.fetch(
                "SELECT status FROM donations ORDER BY id")]

    async def kinds(self) -> list[str]:
        async with self.pool.acquire() as conn:
            return [r["kind"] for r in await conn.fetch(
                "SELECT kind FROM donation_events ORDER BY donation_id DESC, id")]

    async def last_text(self) -> str:
        async with self.pool.acquire() as conn:
            body: str = await conn.fetchval("SELECT body FROM outbound ORDER BY id DESC LIMIT 1")
        return body
