"""Delivery receipts in: stored in batches, applied to their MTs, then acknowledged.

A receipt is acknowledged (deliver_sm_resp) only once stored, like an MO:
a billed MT is settled by its receipt, so losing one would lose money.
An unparseable receipt is answered with a permanent error and logged: the
SMSC would otherwise redeliver the same unusable bytes forever.
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from gateway.logs import get_logger
from gateway.metrics import Metrics
from gateway.pipeline.batcher import Batcher, BatcherClosed
from gateway.pipeline.unsure_match import receipt_head
from gateway.smpp import receipts
from gateway.smpp.constants import CommandStatus as S
from gateway.smpp.pdu import Pdu
from gateway.store import outbound as outbound_store
from gateway.store import receipts as receipts_store
from gateway.store.receipts import NewReceipt

log = get_logger("gateway.receipts")

# A receipt for an id we never recorded (another system's, or a duplicate of
# an applied one) is kept this long in case its submit_sm_resp is merely late.
PENDING_RECEIPT_TTL_SECONDS = 86_400.0


class ReceiptWriter:
    def __init__(self, pool: asyncpg.Pool, metrics: Metrics) -> None:
        self._pool = pool
        self._metrics = metrics
        self._batcher: Batcher[NewReceipt, None] = Batcher(
            self._write, max_batch=500, linger=0.002, name="receipts"
        )

    def start(self) -> None:
        self._batcher.start()

    async def close(self) -> None:
        await self._batcher.close()

    async def handle_receipt(self, pdu: Pdu) -> int:
        self._metrics.dlr_received.inc()
        try:
            receipt = receipts.parse_receipt(pdu.get_int("esm_class"), pdu.short_message, pdu.tlvs)
        except receipts.ReceiptError as err:
            log.warning("receipt_unparseable", reason=str(err), status="ESME_RX_P_APPN")
            return S.ESME_RX_P_APPN
        try:
            await self._batcher.submit(NewReceipt(
                receipt.message_id, receipt.stat, receipt.err, receipt.final,
                pdu.get_str("source_addr") or None,
                receipt_head(receipt.text) if receipt.text is not None else None,
            ))
        except BatcherClosed:
            return S.ESME_RX_T_APPN
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as err:
            log.error("receipt_not_stored", error=type(err).__name__, detail=str(err))
            return S.ESME_RX_T_APPN
        return S.ESME_ROK

    async def sweep(self) -> int:
        """Apply parked receipts whose segment id has been recorded since; drop stale ones."""
        async with self._pool.acquire() as conn, conn.transaction():
            ids = await receipts_store.list_pending_matched(conn)
            changed = await outbound_store.apply_receipts(conn, ids)
            await outbound_store.delete_pending_receipts(
                conn, ids, older_than_seconds=PENDING_RECEIPT_TTL_SECONDS
            )
        return len(changed)

    async def _write(self, batch: Sequence[NewReceipt]) -> list[None]:
        async with self._pool.acquire() as conn:
            await outbound_store.record_receipts(conn, batch)
        return [None] * len(batch)
