"""Checkout links for card requests from numbers without a saved card.

Why the link is sent by the billing service and not the MO transaction: the
limits need the donor's totals and the session is an HTTP call, which never
runs inside the MO's transaction. Each tick:

1. claims `requested` card donations of the `checkout` flow (SKIP LOCKED)
   and checks the limits before any page can take money; over a limit is
   `refused` with the polite text, as for a YES. A gift that needs donor
   details not on file is held (`details_requested`, the details text with
   its link and the SMS dialog's first question) before any page exists:
   the law's facts come before the money. Released, it is `requested`
   again and the next tick offers its page;
2. after COMMIT, creates a payment-mode Checkout session whose idempotency
   key is derived from the donation id, so a crash or a second gateway
   between the call and the record gets the same session back. The page
   pays and saves the card for the next gift (`save_card`: see
   stripe_client.py for why payment mode with setup_future_usage and not
   setup mode), and closes with the request (`page_expires_at`);
3. records `confirmation_sent` (once per donation, the ledger's unique index)
   and only then queues the SMS with the link: one link per donation.

Paying on the page is the donor's confirmation (the page carries the
certification and terms); `checkout.session.completed` records confirmed and
charged (billing/webhook_ledger.py). An unpaid request expires with the
usual sweep.

Without a Stripe key no page can be made, and neither can any other method
take the gift (the engine only chooses this flow when the amount is no
carrier price point and no card is saved): the request is refused on the next
tick with the `unavailable` text (`method_unavailable`), never left to expire
in silence. app.py warns at start-up when keywords.yaml offers card and no
key is set.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Final

from gateway.billing.policy import DonationPolicy, method_unavailable
from gateway.billing.stripe_client import CheckoutLink, StripeCards, StripeFailure, StripeRejected
from gateway.engine import Rules
from gateway.engine.donations import CARD
from gateway.logs import get_logger
from gateway.store import billing as billing_store
from gateway.store import outbound as outbound_store
from gateway.store.donations import DonationRow
from gateway.store.outbound import NewOutbound

if TYPE_CHECKING:
    from gateway.billing.service import BillingService

log = get_logger("gateway.billing.checkout")

# Stripe takes a session's expires_at between 30 minutes and 24 hours after it is
# created. The value must be the same on every attempt for one donation (it is
# part of the idempotent request), so it is anchored on the donation's latest
# event, not on the clock: the page opens within seconds of that event, and
# SLACK covers retries for a while (and clock skew) before Stripe would refuse it.
PAGE_SHORTEST: Final = timedelta(minutes=30)
PAGE_LONGEST: Final = timedelta(hours=24)
SLACK: Final = timedelta(minutes=10)


def page_expires_at(d: DonationRow) -> datetime:
    """When the donation's Checkout page closes: with the request, clamped to Stripe's
    window. A request shorter than 40 minutes keeps its page 40 minutes, and the
    expiry sweep waits for the page (store/donations.py EXPIRE_DUE)."""
    anchor = d.last_event_at or d.requested_at
    return min(max(d.expires_at, anchor + PAGE_SHORTEST + SLACK),
               anchor + PAGE_LONGEST - SLACK)


async def offer_links(service: BillingService, cards: StripeCards | None, *, now: datetime,
                      limit: int) -> int:
    """Send a Checkout link for each card request waiting for one; returns how many changed."""
    if cards is None:
        return await _refuse_without_stripe(service, now=now, limit=limit)
    due: list[tuple[DonationRow, DonationPolicy]] = []
    async with service.pool.acquire() as conn, conn.transaction():
        claimed = await billing_store.checkout_due(conn, now=now, limit=limit)
        for d in sorted(claimed, key=lambda d: (d.msisdn, d.committee, d.id)):
            try:
                policy = DonationPolicy.from_rules(service.rules, d.program, d.shortcode)
            except KeyError:
                await service.record(conn, d, "cancelled", data={"reason": "rules_changed"})
                continue
            totals = await service.within_limits(conn, d, policy, now)
            if totals is None:
                continue
            missing = await service.missing_donor_details(conn, d, policy, totals)
            if missing:  # no page before the law's facts: held until they arrive
                await service.hold_for_details(conn, d, policy, missing, now)
                continue
            due.append((d, policy))
    for d, policy in due:  # after COMMIT: no HTTP call inside a transaction
        await _send_link(service, cards, d, policy, now)
    return len(claimed)


def card_programs(rules: Rules) -> list[str]:
    """Programs whose keywords.yaml offers card gifts (explicitly or by profile default)."""
    return sorted(pid for pid, donation in rules.donations.items() if CARD in donation.methods)


async def _refuse_without_stripe(service: BillingService, *, now: datetime, limit: int) -> int:
    """No Stripe key: no page can take these gifts, so say so now instead of a day's silence."""
    async with service.pool.acquire() as conn, conn.transaction():
        claimed = await billing_store.checkout_due(conn, now=now, limit=limit)
        for d in claimed:
            try:
                policy = DonationPolicy.from_rules(service.rules, d.program, d.shortcode)
            except KeyError:
                await service.record(conn, d, "cancelled", data={"reason": "rules_changed"})
                continue
            refusal = method_unavailable(policy, d.amount_cents)
            await service.refuse(conn, d, policy, refusal.reason, refusal.text, now)
            log.warning("checkout_without_stripe_key", donation_id=d.id)
    return len(claimed)


async def _send_link(service: BillingService, cards: StripeCards, d: DonationRow,
                     policy: DonationPolicy, now: datetime) -> None:
    closes = page_expires_at(d)
    try:
        link = await cards.create_checkout_session(
            mode="payment", msisdn=d.msisdn, amount_cents=d.amount_cents,
            currency=d.currency.lower(), donation_ref=d.id,
            description=f"{policy.committee} donation", save_card=True,
            expires_at=int(closes.timestamp()))
    except StripeRejected as err:
        async with service.pool.acquire() as conn, conn.transaction():
            await service.refuse(conn, d, policy, "checkout_rejected",
                                 policy.render("unavailable", amount=policy.money(d.amount_cents)),
                                 now)
        log.error("checkout_rejected", donation_id=d.id, error=str(err))
        return
    except StripeFailure as err:  # the same idempotency key next tick
        log.warning("checkout_retry_later", donation_id=d.id, error=str(err))
        return
    async with service.pool.acquire() as conn, conn.transaction():
        locked = await billing_store.lock_donation(conn, d.id)
        if locked is None or locked.status != "requested":
            return  # expired or cancelled meanwhile: no link
        recorded = await service.record(conn, d, "confirmation_sent", data={
            "flow": "checkout", "checkout_session": link.session_id,
            "page_expires_at": closes.isoformat()})
        if recorded:
            await outbound_store.insert_batch(conn, [NewOutbound(
                d.msisdn, d.shortcode, link_text(policy, d, link),
                outbound_store.PRIORITY_REPLY, False, d.id, now)])


def link_text(policy: DonationPolicy, d: DonationRow, link: CheckoutLink) -> str:
    """The SMS with the page; the certification and terms are on the page and in the text."""
    amount = policy.money(d.amount_cents)
    if policy.profile == "fr":
        return (f"{policy.committee} : pour donner {amount} par carte, rendez-vous sur "
                f"{link.url} Conditions : {policy.terms_url}")
    return (f"{policy.committee}: to give {amount} by card, use this secure page: {link.url} "
            f"You certify you are 18+, giving your own funds, a US citizen or permanent "
            f"resident and not a federal contractor. Terms: {policy.terms_url}")
