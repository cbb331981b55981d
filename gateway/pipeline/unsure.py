"""Settle unsure sends from their receipts, so a cut-off send is not sent twice.

Runs every second next to the receipt sweep. Each run also releases the
expired leases of other gateway instances (a dead instance's rows would
otherwise wait for some instance to restart), which turns them unsure too.
The matching is pure (unsure_match.py); this module only reads and writes.
"""

from __future__ import annotations

import asyncpg

from gateway import smstext
from gateway.config import Settings
from gateway.logs import get_logger
from gateway.phone import smpp_address
from gateway.pipeline.unsure_match import ParkedReceipt, UnsureSend, settle
from gateway.store import outbound as outbound_store
from gateway.store import unsure as unsure_store

log = get_logger("gateway.unsure")

BATCH = 1000


class UnsureResolver:
    def __init__(self, pool: asyncpg.Pool, settings: Settings, *, lease_seconds: float) -> None:
        self._pool = pool
        self._owner = settings.instance_name
        self._hold = settings.unsure_send_hold
        self._lease_seconds = lease_seconds

    async def sweep(self) -> int:
        """One pass; returns how many unsure rows receipts proved taken."""
        async with self._pool.acquire() as conn:
            released = await outbound_store.release_leases(
                conn, self._owner, lease_seconds=self._lease_seconds, hold_seconds=self._hold,
                others_expired_only=True,
            )
            if released:
                log.warning("outbox_expired_leases_released", count=released)
            rows = await unsure_store.list_unsure(conn, BATCH)
            if not rows:
                return 0
            sends = [
                UnsureSend(outbound_id, smpp_address(msisdn), smstext.part_texts(body), since)
                for outbound_id, msisdn, body, since in rows
            ]
            parked = [
                ParkedReceipt(message_id, number, head, received_at)
                for message_id, number, head, received_at in await unsure_store.list_parked(
                    conn, sorted({s.msisdn for s in sends}))
            ]
            proven = settle(sends, parked)
            settled = await outbound_store.settle_unsure(
                conn, [(s.outbound_id, s.message_ids) for s in proven])
        if settled:
            log.info("unsure_sends_settled_by_receipts", count=len(settled),
                     waiting=len(rows) - len(settled))
        return len(settled)
