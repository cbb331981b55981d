"""A contact's history across every kind of row (texts, consent, a call's consent, gifts
with donor details and receipts), written through the stores as the pipeline writes it:
for the contact page's tests, in English and in French."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import asyncpg

from gateway.store import consent as consent_store
from gateway.store import donations as donation_store
from gateway.store import inbound as inbound_store
from gateway.store import outbound as outbound_store
from gateway.store.consent import NewConsentEvent, NewVoiceConsent
from gateway.store.donations import DonorDetails, NewDonation, NewDonationEvent
from gateway.store.inbound import NewInbound
from gateway.store.outbound import NewBilledMt, NewOutbound

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
ANA = "+12125550101"
PAC = "Rise Up PAC"
ASK = "Rise Up Alerts: reply Y to get up to 6 msgs/mo. Msg&data rates may apply."
WELCOME = "Rise Up Alerts: you're in! Up to 6 msgs/mo. Reply HELP for help, STOP to end."
BYE = "Rise Up Alerts: you're unsubscribed. No more messages."
PROMPT = "Press 1 to get our texts, up to 6 a month. Message and data rates may apply."
IDENTITY = ("Ana Lopez", "12 Main St", "Acme Tools", "Schoolteacher")


async def _mo(conn: asyncpg.Connection, text: str, at: datetime) -> int:
    ids = await inbound_store.IdReserve("inbound_id_seq", block=1).take(conn, 1)
    await inbound_store.insert_batch(conn, [NewInbound(ANA, "12345", text, 0, 1, at)], ids)
    return ids[0]


def _step(kind: str, mo_id: int, text: str, disclosure: str, version: str,
          at: datetime, keyword: str = "JOIN") -> NewConsentEvent:
    return NewConsentEvent(
        msisdn=ANA, shortcode="12345", program="rise", program_name="Rise Up Alerts",
        kind=kind, inbound_id=mo_id, mo_text=text, keyword=keyword,
        disclosure_text=disclosure, disclosure_version=version,
        privacy_url="https://riseup.example.org/privacy", privacy_version="2024-05",
        reply_index=None, occurred_at=at)


async def seed(pool: asyncpg.Pool) -> dict[str, int]:
    async with pool.acquire() as conn:
        state = json.dumps({"v": 1, "subs": {"rise": {"status": "subscribed"}},
                            "profile": {"first_name": "Ana", "zip": "10001"}})
        await conn.execute("INSERT INTO contacts (msisdn, shortcode, state, zip) VALUES"
                           " ($1, '12345', $2::jsonb, '10001')", ANA, state)
        join = await _mo(conn, "JOIN", NOW)
        yes = await _mo(conn, "Y", NOW + timedelta(minutes=1))
        stop = await _mo(conn, "STOP", NOW + timedelta(days=3))
        await consent_store.insert_batch(conn, [
            _step("opt_in_requested", join, "JOIN", ASK, "us-optin-v3", NOW),
            _step("opt_in_confirmed", yes, "Y", WELCOME, "us-optin-v3",
                  NOW + timedelta(minutes=1)),
            _step("opted_out", stop, "STOP", BYE, "us-optout-v1", NOW + timedelta(days=3),
                  keyword="STOP")])
        await consent_store.insert_voice(conn, NewVoiceConsent(
            msisdn=ANA, shortcode="12345", program="rise", program_name="Rise Up Alerts",
            kind="resubscribed", keyword="1", disclosure_text=WELCOME,
            disclosure_version="us-optin-v3", privacy_url="https://riseup.example.org/privacy",
            privacy_version="2024-05", outbound_id=None, occurred_at=NOW + timedelta(days=5),
            call_sid="CA0001", prompt_text=PROMPT, prompt_version="voice-optin-v2"))
        # a gift on the phone bill, billed; a card gift, charged, with its thank-you text
        carrier = await _mo(conn, "GIVE 10", NOW + timedelta(days=1))
        card = await _mo(conn, "GIVE 25", NOW + timedelta(days=2))
        await donation_store.insert_donations(conn, [
            NewDonation(carrier, ANA, "12345", "rise", PAC, "carrier", 1000, "USD",
                        NOW + timedelta(days=1), NOW + timedelta(days=2)),
            NewDonation(card, ANA, "12345", "rise", PAC, "card", 2500, "USD",
                        NOW + timedelta(days=2), NOW + timedelta(days=3))])
        later = NOW + timedelta(days=2, hours=1)
        for gift, method in ((carrier, "carrier"), (card, "card")):
            await donation_store.insert_events(conn, [
                NewDonationEvent(gift, "requested", later, 1000 if gift == carrier else 2500,
                                 "USD", {"method": method}),
                NewDonationEvent(gift, "confirmation_sent", later),
                NewDonationEvent(gift, "confirmed", later)])
        billed = await outbound_store.insert_billed(conn, NewBilledMt(
            ANA, "12345", "Rise Up PAC: thank you for your $10.00 gift!", carrier, "PSMS",
            {}, later))
        assert billed is not None
        await donation_store.insert_events(conn, [
            NewDonationEvent(carrier, "billing_submitted", later, outbound_id=billed),
            NewDonationEvent(carrier, "billed", later),
            NewDonationEvent(card, "charge_requested", later),
            NewDonationEvent(card, "charged", later, external_ref="pi_test_123")])
        await outbound_store.insert_batch(conn, [NewOutbound(
            ANA, "12345", "Rise Up PAC: thank you for your $25.00 gift!", 0, False, card,
            later)])
        thanks = await conn.fetchval("SELECT max(id) FROM outbound")
        await donation_store.insert_donor_details(conn, [DonorDetails(
            ANA, PAC, "web", later, name=IDENTITY[0], street=IDENTITY[1], city="Springfield",
            region="IL", postal_code="62701", country="US", employer=IDENTITY[2],
            occupation=IDENTITY[3])])
    return {"billed": billed, "thanks": thanks}
