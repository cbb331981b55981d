"""The engine's donation events as ledger rows, written in the MO's transaction.

Why here and not in the engine: the engine speaks in conversation events
(`donation_requested`, `donation_confirmed`...); the ledger wants rows with
foreign keys (the MO, the MT that carried the request). This module is the
translation, plus the reads the engine needs from outside (`read_outside`,
once per batch): the saved card's last four digits, so `GIVE 25` can offer
"card ending 4242", and the number's donations held for donor details with
the facts still missing, so the SMS details dialog (engine/donor_details.py)
knows what to ask. The facts it collects are stored, and the holds they
complete released, here too (`billing.details.receive_donor_details`), in
the MO's transaction.

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

from gateway.billing.details import receive_donor_details
from gateway.billing.policy import DETAILS_HOLD, missing_details
from gateway.engine import Rules
from gateway.engine.donor_details import hold_state
from gateway.engine.types import Event
from gateway.store import billing as billing_store
from gateway.store import donations as donation_store
from gateway.store.donations import DonorDetails, NewDonation, NewDonationEvent

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
    details: list[DonorDetails] = field(default_factory=list)  # facts from the SMS dialog

    def add(self, mo_id: int, msisdn: str, shortcode: str, at: datetime,
            events: Iterable[Event]) -> None:
        for event in events:
            if event.name == "donor_details_given":
                refs = event.data.get("donation_refs") or [None]
                values = {k: str(v) for k, v in dict(event.data["values"]).items()}
                self.details.append(DonorDetails(
                    msisdn, str(event.data["committee"]), "sms", at,
                    donation_id=None if refs[0] is None else int(refs[0]), **values))
                continue
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
            # kept on the ledger: reports group by it, and an erasure empties the MO
            extra["keyword"] = data.get("keyword")
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
    """Rows, then events, then donor details; call after the replies are inserted
    (events point at them)."""
    for details in batch.details:  # one fact at a time, each merged over what is on file
        await receive_donor_details(conn, details, now=details.received_at)
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


@dataclass(frozen=True, slots=True)
class Outside:
    """What the engine reads about a batch's contacts from outside their state."""

    cards: Mapping[str, str] = field(default_factory=dict)  # msisdn -> last4
    holds: Mapping[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    asked: bool = False  # holds were looked up (the rules have donations)

    def apply(self, key: tuple[str, str], data: Mapping[str, Any]) -> Mapping[str, Any]:
        """The stored state as the engine must see it: the card, the details hold."""
        if data.get("card") or key[0] in self.cards:
            data = with_card(data, self.cards.get(key[0]))
        hold = self.holds.get(key)
        if hold is not None:
            data = {**data, "details": hold_state(
                hold["refs"], hold["program"], hold["missing"], hold["expires"],
                data.get("details"))}
        elif data.get("details") is not None and self.asked:
            data = {k: v for k, v in data.items() if k != "details"}
        return data


async def read_outside(conn: asyncpg.Connection, rules: Rules,
                       keys: Sequence[tuple[str, str]]) -> Outside:
    """Saved cards and details holds for these (msisdn, shortcode) pairs: two or three
    statements per batch, none when the rules take no donations."""
    if not rules.donations:
        return Outside()
    cards: dict[str, str] = {}
    if any("card" in d.methods for d in rules.donations.values()):
        cards = await billing_store.saved_last4(conn, sorted({k[0] for k in keys}))
    held = await donation_store.held_for_details(conn, keys)
    if not held:
        return Outside(cards, {}, True)
    on_file = await donation_store.list_donor_details(
        conn, sorted({(d.msisdn, d.committee) for d, _ in held}))
    holds: dict[tuple[str, str], dict[str, Any]] = {}
    for d, needed in held:  # oldest first: a number's dialog answers its oldest committee
        key = (d.msisdn, d.shortcode)
        details = on_file.get((d.msisdn, d.committee))
        missing = missing_details(needed, details.facts() if details else {})
        hold = holds.get(key)
        if not missing or (hold is not None and hold["committee"] != d.committee):
            continue
        expires = (d.last_event_at or d.requested_at) + DETAILS_HOLD
        if hold is None:
            holds[key] = {"refs": [d.id], "program": d.program, "committee": d.committee,
                          "missing": set(missing), "expires": expires.isoformat()}
        else:
            hold["refs"].append(d.id)
            hold["missing"] |= missing
            hold["expires"] = max(hold["expires"], expires.isoformat())
    return Outside(cards, holds, True)
