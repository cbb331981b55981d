"""Donor details arriving for donations held by the billing service (COMPLIANCE item 18).

Why a function of its own and not part of the web form: details come from
several places (issue 7's web form, staff typing in what a donor mailed, one
day an SMS dialog), and each must release exactly the held gifts whose
needed facts are now complete, in the same transaction that stores them.
Releasing only records `details_received` (the donation is `confirmed`
again); the billing service's next tick checks the limits again and
charges, so there is still one place that charges.

A hold whose facts are still incomplete (name and address given, employer
missing over $200) stays held and expires like an unconfirmed request.
"""

from __future__ import annotations

from datetime import datetime

import asyncpg

from gateway.billing.policy import missing_details
from gateway.logs import get_logger
from gateway.store import donations as donation_store
from gateway.store.donations import DonorDetails, NewDonationEvent

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
