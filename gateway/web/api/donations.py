"""Donations for finance staff: a filtered, paged list, one donation with its ledger,
and refunds of card gifts.

Why reading is audited (`donations.viewed`): a donation row names the donor's
number, the amount and the committee, which reveals a political choice; who
listed or opened them is a row someone can query, like a contact view.
Reports, CSV exports and reconciliation are in `finance.py`. A refund is
asked of Stripe here and recorded on the ledger when Stripe's
`charge.refunded` webhook arrives (gateway/billing/refunds.py says why), so
the answer is 202: requested, not yet refunded.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from pydantic import AwareDatetime, Field

from gateway.billing.refunds import RefundRefused, plan_refund, request_refund
from gateway.billing.stripe_client import StripeFailure
from gateway.services import audit
from gateway.store import donations, lookups
from gateway.web.api.contacts import e164
from gateway.web.body import Strict
from gateway.web.errors import ApiError, bad_request, conflict, not_found
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
        await call.audit(conn, audit.DONATIONS_VIEWED, f"contact:{msisdn}" if msisdn else None,
                         view="list", results=len(rows), search=query.model_dump(
                             mode="json", exclude_none=True, exclude={"limit"}))
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
        await call.audit(conn, audit.DONATIONS_VIEWED, f"donation:{donation_id}",
                         view="donation")
    return {"donation": asdict(donation),
            "events": [asdict(e) for e in events.get(donation_id, [])]}


class RefundBody(Strict):
    amount_cents: int | None = Field(None, ge=1, description="default: all that is left")
    reason: str = Field(..., min_length=3, max_length=500)


@routes.post("/api/v1/donations/{donation_id}/refund", name="donations.refund",
             body=RefundBody, status=202,
             summary="Refund a card gift (all or part) through Stripe; the ledger records it "
                     "when Stripe confirms")
async def refund_donation(call: Call) -> dict[str, Any]:
    donation_id = call.path_int("donation_id")
    body = call.body_as(RefundBody)
    cards = call.context.cards
    if cards is None:
        raise ApiError(503, "stripe_unavailable",
                       "card payments are not configured (GATEWAY_STRIPE_SECRET_KEY)")
    async with call.pool.acquire() as conn:
        try:
            plan = await plan_refund(conn, donation_id, body.amount_cents)
        except RefundRefused as err:
            if err.code == "not_found":
                raise not_found(f"donation {donation_id}") from None
            if err.code == "amount":
                raise bad_request(str(err), field="amount_cents") from None
            raise conflict(str(err)) from None
        try:
            refund = await request_refund(cards, plan)
        except StripeFailure as err:
            await call.audit(conn, audit.REFUND_REQUESTED, f"donation:{donation_id}",
                             amount_cents=plan.amount_cents, reason=body.reason,
                             outcome="stripe_error")
            raise ApiError(502, "stripe_error", f"Stripe did not take the refund: {err}") from None
        await call.audit(conn, audit.REFUND_REQUESTED, f"donation:{donation_id}",
                         amount_cents=plan.amount_cents, reason=body.reason,
                         refund_id=refund.refund_id, outcome=refund.status)
    return {"donation_id": donation_id, "refund_id": refund.refund_id,
            "status": refund.status, "amount_cents": refund.amount_cents,
            "currency": plan.currency}
