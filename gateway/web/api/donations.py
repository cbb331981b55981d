"""Donations for finance staff: a filtered, paged list, and one donation with its ledger.

Reports, CSV exports and reconciliation come with the finance module; an
export must record `audit.EXPORT_DOWNLOADED` when it is served.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from pydantic import AwareDatetime, Field

from gateway.store import donations, lookups
from gateway.web.api.contacts import e164
from gateway.web.body import Strict
from gateway.web.errors import not_found
from gateway.web.registry import Call, RouteTable

routes = RouteTable("donations")


class DonationQuery(Strict):
    status: str | None = Field(None, max_length=32, pattern=r"^[a-z_]+$")
    committee: str | None = Field(None, max_length=200)
    msisdn: str | None = Field(None, max_length=32)
    requested_from: AwareDatetime | None = None
    requested_to: AwareDatetime | None = None
    before_id: int | None = Field(None, ge=1)
    limit: int = Field(100, ge=1, le=1000)


@routes.get("/api/v1/donations", name="donations.list", query=DonationQuery,
            summary="Donations, newest first, by status, committee, number or request time")
async def list_donations(call: Call) -> dict[str, Any]:
    query = call.query_as(DonationQuery)
    msisdn = e164(call, query.msisdn, field="msisdn") if query.msisdn else None
    async with call.pool.acquire() as conn:
        rows = [dict(r) for r in await lookups.list_donations(
            conn, status=query.status, committee=query.committee, msisdn=msisdn,
            requested_from=query.requested_from, requested_to=query.requested_to,
            before_id=query.before_id, limit=query.limit)]
    return {"donations": rows,
            "next_before_id": rows[-1]["id"] if len(rows) == query.limit else None}


@routes.get("/api/v1/donations/{donation_id}", name="donations.get",
            summary="One donation and every event of its ledger, oldest first")
async def get_donation(call: Call) -> dict[str, Any]:
    donation_id = call.path_int("donation_id")
    async with call.pool.acquire() as conn:
        donation = await donations.get_donation(conn, donation_id)
        events = await donations.list_events(conn, [donation_id])
    if donation is None:
        raise not_found(f"donation {donation_id}")
    return {"donation": asdict(donation),
            "events": [asdict(e) for e in events.get(donation_id, [])]}
