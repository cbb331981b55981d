"""Billed MTs settled from their delivery receipts: billed, failed, or left for finance.

Why from the rolled-up outbound row and not from each receipt: the receipt
path (store/outbound.py) already closes segments and rolls them up to the
message in one statement; a billed MT is settled once its message is final,
so one set-based query per tick finds every donation to settle, whatever
order receipts and submit responses arrived in.

- delivered (every segment DELIVRD, final) -> `billed`;
- undeliverable / rejected -> `failed`, with the aggregator's reason when the
  receipt's error code is a billing error (no credit, barred...). Never
  retried: the outbox does not resend a final row, and a new gift needs a
  new YES;
- the SMSC refused the submit_sm for good -> `failed` (nothing was billed);
- the send was cut off (`billed_unknown`) -> left in billing_submitted: it
  may or may not have been billed, and only the aggregator's settlement
  lines can say. Finance reconciles; nothing is resent.
An intermediate receipt never changes a segment, so it never settles.
"""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg

from gateway.billing.aggregators import AggregatorProfile, ReceiptOutcome, classify_receipt
from gateway.store import billing as billing_store
from gateway.store import donations as donation_store
from gateway.store.billing import FinalBilledMt
from gateway.store.donations import NewDonationEvent


def outcome_of(profile: AggregatorProfile, mt: FinalBilledMt) -> ReceiptOutcome:
    if mt.outbound_status == "failed":  # refused at submit_sm: nothing was billed
        return ReceiptOutcome("failed", f"submit_refused:{mt.last_error or ''}")
    found = classify_receipt(profile, stat=mt.stat or "UNKNOWN", err=mt.error_code or "000",
                             final=True)
    assert found is not None  # final=True always classifies
    return found


async def settle_billed(conn: asyncpg.Connection, profile: AggregatorProfile, *,
                        limit: int) -> int:
    """Record billed/failed for every billed MT now final; returns how many were recorded."""
    due = await billing_store.final_billed_mts(conn, limit=limit)
    if not due:
        return 0
    events = []
    for mt in due:
        outcome = outcome_of(profile, mt)
        billed = outcome.kind == "billed"
        events.append(NewDonationEvent(
            mt.donation_id, outcome.kind, mt.final_at or datetime.now(UTC),
            mt.amount_cents if billed else None, mt.currency if billed else None,
            data={"reason": outcome.reason, "billing_error": outcome.billing_error,
                  "stat": mt.stat, "err": mt.error_code},
            outbound_id=mt.outbound_id, external_ref=mt.smsc_message_id))
    return len(await donation_store.insert_events(conn, events))
