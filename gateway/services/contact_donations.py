"""A contact's gifts with their receipts, and the donor's details for those allowed to see them.

Why here: the contact page, its donations page and the API show the same
gifts, and who may see the donor's name, address, employer and occupation
is decided once, by services/fences.py `sees_donor_identity` (admins and
finance staff; compliance: an organizer runs the campaign with amounts and
statuses, never the donor's identity). Looking at the details is audited
like any contact view.

A gift's receipt is the thank-you text sent once the money was taken (the
`thanks` text: "the billed MT's body, and the card receipt",
docs/donations.md); store/lookups.py `LIST_NUMBER_DONATIONS` finds it. A card
gift also names its Stripe payment, where Stripe's own receipt is.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import asyncpg

from gateway.config import Settings
from gateway.services import audit
from gateway.services.actor import Actor
from gateway.services.fences import sees_donor_identity
from gateway.store import donations, lookups

STRIPE_API = "https://api.stripe.com"
STRIPE_DASHBOARD = "https://dashboard.stripe.com"


def stripe_dashboard(settings: Settings) -> str | None:
    """Where a card gift's payment is on Stripe's dashboard: `.../test` for a test key
    (sk_test_, rk_test_), the live dashboard for a live key; None (no link) without a
    key, with another kind of key, or when the API is not Stripe's (a local fake,
    whose payments no dashboard has)."""
    key = settings.stripe_secret_key
    if key is None or settings.stripe_api_base.rstrip("/") != STRIPE_API:
        return None
    secret = key.get_secret_value()
    if secret.startswith(("sk_test_", "rk_test_")):
        return f"{STRIPE_DASHBOARD}/test"
    if secret.startswith(("sk_live_", "rk_live_")):
        return STRIPE_DASHBOARD
    return None


DETAIL_FIELDS = ("name", "street", "city", "region", "postal_code", "country", "employer",
                 "occupation", "source", "received_at")


@dataclass(frozen=True, slots=True)
class ContactDonations:
    """`details` is None when the viewer may not see donors' identities (not just empty)."""

    gifts: list[dict[str, Any]]
    details: list[dict[str, Any]] | None

    def as_json(self) -> dict[str, Any]:
        found = {"donations": self.gifts}
        return found | ({"donor_details": self.details} if self.details is not None else {})


async def donations_of(conn: asyncpg.Connection, viewer: Actor, msisdn: str, *,
                       client: str | None, audited: bool = True) -> ContactDonations:
    """The number's gifts (every short code, newest first) and, for admins and finance,
    the newest donor details it gave each committee. Audited (`view` donations) unless
    `audited` is False: the contact page records one row for all it shows."""
    gifts = [{**dict(r), "net_cents": r["amount_cents"] - r["refunded_cents"]}
             for r in await lookups.list_number_donations(conn, msisdn)]
    details: list[dict[str, Any]] | None = None
    if sees_donor_identity(viewer):
        keys = sorted({(msisdn, str(g["committee"])) for g in gifts})
        found = await donations.list_donor_details(conn, keys)
        details = [{"committee": committee,
                    **{k: v for k, v in asdict(found[(number, committee)]).items()
                       if k in DETAIL_FIELDS}}
                   for number, committee in keys if (number, committee) in found]
    if audited:
        await audit.record(conn, viewer, audit.CONTACT_VIEWED, f"contact:{msisdn}",
                           client=client, view="donations", donor_details=details is not None)
    return ContactDonations(gifts, details)
