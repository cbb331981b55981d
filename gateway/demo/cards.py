"""A card processor for the demo: saved cards that every charge succeeds on, and no network.

Why a stand-in: the demo has no Stripe account, and a card gift's ledger
(confirmed, charge requested, charged, with the payment's reference) is
written by the billing service only once a processor has answered. The
stand-in answers as Stripe does for a saved test card (`succeeded`), with
references that say they are the demo's (`pi_demo_…`), so the finance pages
show card gifts beside carrier-billed ones. It serves the seed only: the
running demo gateway has no card processor, as without a Stripe key.
"""

from __future__ import annotations

from datetime import datetime

import asyncpg

from gateway.billing.stripe_client import ChargeResult, StripeCards
from gateway.store import stripe_store
from gateway.store.stripe_store import SavedCardRow

BRANDS = ("visa", "mastercard", "amex")


class DemoCards(StripeCards):
    """Every saved card charges; nothing leaves the machine."""

    def __init__(self) -> None:  # no Stripe client: nothing is called
        self.charges = 0

    async def charge_saved_card(
        self, *, donation_ref: int, amount_cents: int, currency: str, customer_id: str,
        payment_method_id: str, description: str = "Donation",
    ) -> ChargeResult:
        if amount_cents <= 0:
            raise ValueError(f"amount_cents must be positive, got {amount_cents}")
        self.charges += 1
        return ChargeResult("succeeded", f"pi_demo_{donation_ref}", f"ch_demo_{donation_ref}")

    async def aclose(self) -> None:
        return None


async def save_card(conn: asyncpg.Connection, msisdn: str, n: int, at: datetime) -> None:
    """The card a supporter saved on an earlier Checkout page (made-up ids, last four 42nn)."""
    await stripe_store.insert_saved_cards(conn, [SavedCardRow(
        payment_method_id=f"pm_demo_{n}", msisdn=msisdn, customer_id=f"cus_demo_{n}",
        brand=BRANDS[n % len(BRANDS)], last4=f"42{n % 100:02d}", event_id=None, created_at=at)])
