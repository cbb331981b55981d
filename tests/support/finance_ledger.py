"""Ledger rows for the finance tests, written straight through the store (no SMPP, no Stripe).

A carrier gift gets its billed MT and one segment carrying the SMSC message
id, as the outbox and the receipt path leave them; a card gift gets the
PaymentIntent id on its `charged` event, as the billing service records it.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg

from gateway.store import donations as store
from gateway.store import inbound as inbound_store
from gateway.store.donations import DonorDetails, NewDonation, NewDonationEvent
from gateway.store.inbound import NewInbound

NOW = datetime(2024, 9, 1, 12, 0, tzinfo=UTC)
COMMITTEE = "Rise Up PAC"
_refs = itertools.count(1)


@dataclass(frozen=True)
class Gift:
    id: int
    method: str
    amount_cents: int
    message_id: str | None = None
    payment_intent: str | None = None


async def gift(conn: asyncpg.Connection, *, method: str = "carrier", amount: int = 1000,
               at: datetime = NOW - timedelta(days=100), msisdn: str = "+12125550100",
               keyword: str = "GIVE", program: str = "rise", outcome: str = "paid",
               refunded: int = 0, disputed: bool = False, currency: str = "USD",
               committee: str = COMMITTEE) -> Gift:
    """One donation confirmed at `at` and, by `outcome`: paid (billed / charged),
    billed_unknown (carrier send cut off), failed, or pending (submitted, no outcome)."""
    [mo_id] = await inbound_store.IdReserve("inbound_id_seq", block=1).take(conn, 1)
    await inbound_store.insert_batch(
        conn, [NewInbound(msisdn, "12345", f"{keyword} {amount // 100}", 0, 1, at)], [mo_id])
    await store.insert_donations(conn, [NewDonation(
        mo_id, msisdn, "12345", program, committee, method, amount, currency, at,
        at + timedelta(hours=24))])
    n = next(_refs)
    message_id = f"msg-{n:06d}" if method == "carrier" else None
    intent = f"pi_test_{n:06d}" if method == "card" else None
    events = [NewDonationEvent(mo_id, "requested", at, amount, currency, {"method": method}),
              NewDonationEvent(mo_id, "confirmed", at + timedelta(minutes=1), amount, currency,
                               {"method": method})]
    sent = at + timedelta(minutes=2)
    if method == "carrier":
        status = {"paid": "delivered", "billed_unknown": "failed", "failed": "undeliverable",
                  "pending": "submitted"}[outcome]
        error = "billed_unknown: send cut off; reconcile, never resend" \
            if outcome == "billed_unknown" else None
        outbound_id = await conn.fetchval(
            "INSERT INTO outbound (msisdn, shortcode, body, donation_id, status, last_error,"
            " final_at) VALUES ($1, '12345', 'thanks', $2, $3, $4, $5) RETURNING id",
            msisdn, mo_id, status, error, sent)
        if outcome != "billed_unknown":
            await conn.execute(
                "INSERT INTO outbound_segments (outbound_id, seq, smsc_message_id, status)"
                " VALUES ($1, 1, $2, 'DELIVRD')", outbound_id, message_id)
        events.append(NewDonationEvent(mo_id, "billing_submitted", sent, amount, currency,
                                       outbound_id=outbound_id))
        if outcome in ("paid", "failed"):
            paid = outcome == "paid"
            events.append(NewDonationEvent(
                mo_id, "billed" if paid else "failed", sent, amount if paid else None,
                currency if paid else None, outbound_id=outbound_id, external_ref=message_id))
    else:
        events.append(NewDonationEvent(mo_id, "charge_requested", sent, amount, currency))
        if outcome in ("paid", "failed"):
            paid = outcome == "paid"
            events.append(NewDonationEvent(
                mo_id, "charged" if paid else "failed", sent, amount if paid else None,
                currency if paid else None, external_ref=intent))
    if refunded:
        events.append(NewDonationEvent(mo_id, "refunded", sent + timedelta(days=1), refunded,
                                       currency, external_ref=f"re-{n}"))
    if disputed:
        events.append(NewDonationEvent(mo_id, "disputed", sent + timedelta(days=2),
                                       external_ref=f"dp-{n}"))
    await store.insert_events(conn, events)
    return Gift(mo_id, method, amount, message_id, intent)


async def details(conn: asyncpg.Connection, msisdn: str, *, name: str = "Ada Lovelace",
                  employer: str | None = "Analytical Engines", committee: str = COMMITTEE,
                  at: datetime = NOW - timedelta(days=200)) -> None:
    await store.insert_donor_details(conn, [DonorDetails(
        msisdn, committee, "web", at, name=name, street="1 Main St", city="Springfield",
        region="IL", postal_code="62701", country="US", employer=employer,
        occupation="Engineer" if employer else None)])
