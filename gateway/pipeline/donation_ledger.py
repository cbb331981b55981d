"""The engine's donation events as ledger rows, written in the MO's transaction.

Why here and not in the engine: the engine speaks in conversation events
(`DonationRequested`, `DonationConfirmed`...); the ledger wants rows with
foreign keys (the MO, the MT that carried the request). This module is the
translation (one handler per event kind, registered in pipeline/event_handlers.py),
plus the reads the engine needs from outside (`read_outside`, once per batch):
the saved card's last four digits, so `GIVE 25` can offer
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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from gateway.billing.details import receive_donor_details
from gateway.billing.policy import DETAILS_HOLD, missing_details
from gateway.engine import Rules
from gateway.engine.donor_details import hold_state
from gateway.engine.events import (
    DonationCancelled,
    DonationConfirmationSent,
    DonationConfirmed,
    DonationExpired,
    DonationRequested,
    DonorDetailsGiven,
)
from gateway.pipeline.batch_writes import BatchWrites, Origin
from gateway.store import billing as billing_store
from gateway.store import donations as donation_store
from gateway.store.donations import DonorDetails, NewDonation, NewDonationEvent
from gateway.store.lane_reads import BatchRead

# The handlers below are registered in pipeline/event_handlers.py, one per event kind;
# each only appends its rows to the batch. `at` is the MO's time, as for every row.


def requested(event: DonationRequested, origin: Origin, writes: BatchWrites) -> None:
    """A donation row (its id is the requesting MO's) and its first ledger event."""
    at = origin.received_at
    writes.donations.append(NewDonation(
        id=event.donation_ref, msisdn=origin.msisdn, shortcode=event.shortcode,
        program=event.program, committee=event.committee, method=event.method,
        amount_cents=event.amount_cents, currency=event.currency, requested_at=at,
        expires_at=event.expires_at))
    # the keyword is kept on the ledger: reports group by it, and an erasure empties the MO
    writes.donation_events.append(NewDonationEvent(
        event.donation_ref, "requested", at, event.amount_cents, event.currency,
        data={"method": event.method, "flow": event.flow, "keyword": event.keyword},
        inbound_id=origin.mo_id))


def confirmation_sent(event: DonationConfirmationSent, origin: Origin,
                      writes: BatchWrites) -> None:
    writes.donation_events.append(NewDonationEvent(
        event.donation_ref, "confirmation_sent", origin.received_at, inbound_id=origin.mo_id,
        reply_index=event.reply_index))


def confirmed(event: DonationConfirmed, origin: Origin, writes: BatchWrites) -> None:
    writes.donation_events.append(NewDonationEvent(
        event.donation_ref, "confirmed", origin.received_at, event.amount_cents,
        event.currency, data={"method": event.method}, inbound_id=origin.mo_id))


def expired(event: DonationExpired, origin: Origin, writes: BatchWrites) -> None:
    # the deadline, not the late YES: the request died when its window closed
    writes.donation_events.append(NewDonationEvent(
        event.donation_ref, "expired", min(event.expired_at, origin.received_at),
        data={"by": "late_yes"}, inbound_id=origin.mo_id))


def cancelled(event: DonationCancelled, origin: Origin, writes: BatchWrites) -> None:
    writes.donation_events.append(NewDonationEvent(
        event.donation_ref, "cancelled", origin.received_at, data={"reason": event.reason},
        inbound_id=origin.mo_id))


def details_given(event: DonorDetailsGiven, origin: Origin, writes: BatchWrites) -> None:
    """A fact from the SMS details dialog, stored (and holds released) by `write`."""
    refs = event.donation_refs
    writes.donor_details.append(DonorDetails(
        origin.msisdn, event.committee, "sms", origin.received_at,
        donation_id=refs[0] if refs else None, **event.values))


async def write(conn: asyncpg.Connection, writes: BatchWrites) -> None:
    """Donor details, then donation rows, then their events; call after the replies are
    inserted (events point at them)."""
    for details in writes.donor_details:  # one fact at a time, each merged over what is on file
        await receive_donor_details(conn, details, now=details.received_at)
    if not writes.donation_events:
        return
    await donation_store.insert_donations(conn, writes.donations)
    new = {d.id for d in writes.donations}
    others = {e.donation_id for e in writes.donation_events} - new
    events: Sequence[NewDonationEvent] = writes.donation_events
    if others:
        # A request older than the ledger (or lost with a rolled-back batch) has no row:
        # its events have nothing to attach to and must not fail the MO's transaction.
        known = new | await billing_store.existing_donations(conn, sorted(others))
        events = [e for e in writes.donation_events if e.donation_id in known]
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


def reads(rules: Rules) -> tuple[bool, bool]:
    """What the batch's one read (store/lane_reads.py) must look up for these rules:
    (saved cards, details holds); neither when the rules take no donations."""
    if not rules.donations:
        return False, False
    return any("card" in d.methods for d in rules.donations.values()), True


async def read_outside(conn: asyncpg.Connection, rules: Rules, found: BatchRead) -> Outside:
    """Saved cards and details holds of the batch's keys, from the batch's one read; the
    holds' donations and the donor details on file only for the keys with a hold (rare)."""
    if not rules.donations:
        return Outside()
    cards = found.cards
    held = await donation_store.held_for_details(conn, found.held) if found.held else []
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
