"""The engine's donation events as ledger rows, written in the MO's transaction.

Why here and not in the engine: the engine speaks in conversation events
(`donation_requested`, `donation_confirmed`...); the ledger wants rows with
foreign keys (the MO, the MT that carried the request). This module is the
translation, plus the one read the engine needs from outside: the saved
card's last four digits, so `GIVE 25` can offer "card ending 4242".

Set-based like the rest of decide.py: one statement for the donation rows,
one for their events, per batch; decision order is kept (the store inserts
events in the order given, per donation).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

import asyncpg

from gateway.engine.types import Event
from gateway.store import billing as billing_store
from gateway.store import donations as donation_store
from gateway.store.donations import NewDonation, NewDonationEvent

# engine event -> ledger kind
KINDS: Final = {
    "donation_requested": "requested",
    "donation_confirmation_sent": "confirmation_sent",
    "donation_confirmed": "confirmed",
    "donation_expired": "expired",
    "donation_cancelled": "cancelled",
}


@dataclass(slots=True)
class LedgerBatch:
    """What one batch of decisions adds to the donation ledger, in decision order."""

    donations: list[NewDonation] = field(default_factory=list)
    events: list[NewDonationEvent] = field(default_factory=list)

    def add(self, mo_id: int, msisdn: str, shortcode: str, at: datetime,
            events: Iterable[Event]) -> None:
        for event in events:
            kind = KINDS.get(event.name)
            if kind is None:
                continue
            data = event.data
            ref = int(data["donation_ref"])
            if kind == "requested":
                self.donations.append(NewDonation(
                    id=ref, msisdn=msisdn, shortcode=str(data.get("shortcode") or shortcode),
                    program=str(data["program"]), committee=str(data["committee"]),
                    method=str(data["method"]), amount_cents=int(data["amount_cents"]),
                    currency=str(data["currency"]), requested_at=at,
                    expires_at=datetime.fromisoformat(str(data["expires_at"]))))
            self.events.append(_event(kind, ref, mo_id, at, data))


def _event(kind: str, ref: int, mo_id: int, at: datetime, data: Mapping[str, Any]
           ) -> NewDonationEvent:
    if kind in ("requested", "confirmed"):
        extra = {"method": data["method"]}
        if kind == "requested":
            extra["flow"] = data.get("flow")
        return NewDonationEvent(ref, kind, at, int(data["amount_cents"]), str(data["currency"]),
                                data=extra, inbound_id=mo_id)
    if kind == "confirmation_sent":
        index = data.get("reply_index")
        return NewDonationEvent(ref, kind, at, inbound_id=mo_id,
                                reply_index=None if index is None else int(index))
    if kind == "expired":
        # the deadline, not the late YES: the request died when its window closed
        deadline = datetime.fromisoformat(str(data["expired_at"]))
        return NewDonationEvent(ref, kind, min(deadline, at), data={"by": "late_yes"},
                                inbound_id=mo_id)
    return NewDonationEvent(ref, kind, at, data={"reason": data.get("reason")},
                            inbound_id=mo_id)


async def write(conn: asyncpg.Connection, batch: LedgerBatch) -> None:
    """Rows, then events; call after the replies are inserted (events point at them)."""
    if not batch.events:
        return
    await donation_store.insert_donations(conn, batch.donations)
    new = {d.id for d in batch.donations}
    others = {e.donation_id for e in batch.events} - new
    events: Sequence[NewDonationEvent] = batch.events
    if others:
        # A request older than the ledger (or lost with a rolled-back batch) has no row:
        # its events have nothing to attach to and must not fail the MO's transaction.
        known = new | await billing_store.existing_donations(conn, sorted(others))
        events = [e for e in batch.events if e.donation_id in known]
    await donation_store.insert_events(conn, events)


def with_card(data: Mapping[str, Any], last4: str | None) -> dict[str, Any]:
    """A contact's state data with the saved card as the engine reads it (or without)."""
    updated = {k: v for k, v in data.items() if k != "card"}
    if last4:
        updated["card"] = {"last4": last4}
    return updated
