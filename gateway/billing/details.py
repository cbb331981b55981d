"""Donor details arriving for donations held by the billing service (compliance rule 18).

Why a function of its own and not part of the web form: details come from
several places (the web form behind the details link, the SMS dialog, staff
typing in what a donor mailed), and each must release exactly the held gifts
whose needed facts are now complete, in the same transaction that stores them.
A partial answer (the SMS dialog stores one fact at a time) keeps what is on
file: the new row is the newest details merged over the previous ones.
Releasing only records `details_received` (the donation is `confirmed`
again); the billing service's next tick checks the limits again and
charges, so there is still one place that charges.

A hold whose facts are still incomplete (name and address given, employer
missing over $200) stays held and expires like an unconfirmed request.
Released, a gift that was confirmed by YES is `confirmed` again; a Checkout
gift (held before its page was offered) is `requested` again, and the next
tick sends its link.

Links: each hold gets its own random token (`new_details_link`); only its
SHA-256 is stored, with the hold's expiry. The form (web/donor_details.py)
finds the hold by the hash and calls `receive_donor_details`.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import fields, replace
from datetime import datetime

import asyncpg

from gateway.billing.policy import DETAILS_HOLD, DonationPolicy, details_link, missing_details
from gateway.logs import get_logger
from gateway.store import donations as donation_store
from gateway.store.donations import DonationRow, DonorDetails, NewDonationEvent

log = get_logger("gateway.billing.details")


async def receive_donor_details(conn: asyncpg.Connection, details: DonorDetails, *,
                                now: datetime) -> list[int]:
    """Store the donor's details; return the ids of the held donations released.

    Call inside a transaction: the details and the releases commit together.
    """
    if not conn.is_in_transaction():
        raise RuntimeError("receive_donor_details stores and releases together: call it "
                           "inside `async with conn.transaction():`")
    await donation_store.lock_donor(conn, details.msisdn, details.committee)
    on_file = (await donation_store.list_donor_details(
        conn, [(details.msisdn, details.committee)])).get((details.msisdn, details.committee))
    details = merged(details, on_file)
    await donation_store.insert_donor_details(conn, [details])
    facts = details.facts()
    released = [
        donation for donation, needed in await donation_store.lock_held_for_details(
            conn, details.msisdn, details.committee)
        if not missing_details(needed, facts)
    ]
    recorded = await donation_store.insert_events(conn, [
        NewDonationEvent(d.id, "details_received", now, data={"source": details.source})
        for d in released])
    ids = [e.donation_id for e in recorded]
    if ids:
        log.info("donations_released_with_details", donation_ids=ids, msisdn=details.msisdn)
    return ids


_FACTS = tuple(f.name for f in fields(DonorDetails)
               if f.name not in ("msisdn", "committee", "source", "received_at", "donation_id"))


def merged(new: DonorDetails, on_file: DonorDetails | None) -> DonorDetails:
    """`new` with the blanks filled from what is on file (an address stays whole)."""
    if on_file is None:
        return new
    address = ("street", "city", "region", "postal_code", "country")
    gives_address = any(getattr(new, name) for name in address)
    kept = {name: getattr(on_file, name) for name in _FACTS
            if not (getattr(new, name) or "").strip()
            and not (gives_address and name in address)}
    return replace(new, **kept)


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


async def new_details_link(conn: asyncpg.Connection, d: DonationRow, policy: DonationPolicy,
                           needed: frozenset[str], *, now: datetime,
                           base_url: str | None = None) -> str:
    """A fresh link to the details form for this hold, valid as long as the hold."""
    token = secrets.token_urlsafe(24)
    await donation_store.insert_detail_link(
        conn, token_sha256=token_hash(token), donation_id=d.id, msisdn=d.msisdn,
        committee=d.committee, needed=sorted(needed), created_at=now,
        expires_at=now + DETAILS_HOLD)
    return details_link(policy, token, base_url)
