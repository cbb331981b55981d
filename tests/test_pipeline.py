"""End to end over real TCP and a real PostgreSQL: simulator → gateway → database → simulator."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import aiohttp
import asyncpg

from gateway.app import Gateway, open_gateway
from gateway.config import Settings
from gateway.metrics import Metrics
from gateway.pipeline.receipts import ReceiptWriter
from gateway.smpp.constants import CommandStatus
from gateway.smpp.simulator import Faults, SmscSimulator
from gateway.store import outbound as outbound_store
from gateway.store.outbound import NewOutbound
from gateway.store.receipts import NewReceipt
from tests.support.e2e import SHORTCODE, gateway_settings, wait_for


async def test_join_is_stored_and_answered(gateway: Gateway, smsc: SmscSimulator) -> None:
    status = await smsc.inject_mo("+15555550123", SHORTCODE, "JOIN")
    assert status == CommandStatus.ESME_ROK
    # the ack came after commit: the row is there the moment the status is known
    async with gateway.pool.acquire() as conn:
        row = await conn.fetchrow("SELECT msisdn, shortcode, body FROM inbound")
    assert dict(row) == {"msisdn": "+15555550123", "shortcode": SHORTCODE, "body": "JOIN"}
    async with asyncio.timeout(10):
        await smsc.wait_for_submits(1)
    reply = smsc.submitted[0]
    assert reply.destination == "15555550123"
    assert reply.source == SHORTCODE
    assert reply.text


async def test_thousand_mos_thousand_rows_thousand_replies(
    gateway: Gateway, smsc: SmscSimulator
) -> None:
    numbers = [f"+1555{n:07d}" for n in range(1000)]
    stats = await smsc.inject_load(1000, numbers, window=100, texts=["JOIN"])
    assert stats.acked == 1000, stats.statuses
    async with gateway.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM inbound") == 1000
        assert await conn.fetchval("SELECT count(DISTINCT msisdn) FROM inbound") == 1000
    async with asyncio.timeout(30):
        await smsc.wait_for_submits(1000)
    counts = smsc.destination_counts()
    assert len(counts) == 1000 and set(counts.values()) == {1}

    async def all_delivered() -> bool:
        async with gateway.pool.acquire() as conn:
            n: int = await conn.fetchval("SELECT count(*) FROM outbound WHERE status = 'delivered'")
        return n == 1000

    await wait_for(all_delivered)


async def test_one_number_is_decided_in_arrival_order(
    gateway: Gateway, smsc: SmscSimulator
) -> None:
    texts = [f"hello {n}" for n in range(40)]
    for text in texts:  # sequential sends: arrival order is known
        assert await smsc.inject_mo("+15555550999", SHORTCODE, text) == CommandStatus.ESME_ROK
    async with gateway.pool.acquire() as conn:
        rows = await conn.fetch("SELECT body FROM inbound ORDER BY id")
    assert [r["body"] for r in rows] == texts


async def test_long_ucs2_mo_in_reverse_order_is_reassembled(
    gateway: Gateway, smsc: SmscSimulator
) -> None:
    text = ("Bonjour, je voudrais adhérer à la campagne de ma région 🇫🇷 — merci ! " * 4).strip()
    status = await smsc.inject_mo("+33612345678", SHORTCODE, text, reverse_parts=True)
    assert status == CommandStatus.ESME_ROK
    async with gateway.pool.acquire() as conn:
        rows = await conn.fetch("SELECT body, parts, data_coding FROM inbound")
        leftover = await conn.fetchval("SELECT count(*) FROM inbound_parts")
    assert len(rows) == 1
    assert rows[0]["body"] == text
    assert rows[0]["parts"] >= 3 and rows[0]["data_coding"] == 8
    assert leftover == 0


async def test_receipt_before_submit_resp_is_not_lost(pool: asyncpg.Pool) -> None:
    now = datetime.now(UTC)
    async with pool.acquire() as conn:
        await outbound_store.insert_batch(
            conn, [NewOutbound("+15555550100", SHORTCODE, "hi", 0, False, None, now)]
        )
        claimed, _ = await outbound_store.claim(conn, limit=10, owner="t", lease_seconds=30)
        # the receipt lands first: nothing to apply it to yet, so it is parked...
        receipt = NewReceipt("abc123", "DELIVRD", "000", True)
        assert await outbound_store.record_receipts(conn, [receipt]) == []
        # ...then the submit_sm_resp records the id, and the sweep applies the receipt
        await outbound_store.mark_submitted(conn, [(claimed[0].id, ["abc123"])])
    writer = ReceiptWriter(pool, Metrics())
    assert await writer.sweep() == 1
    async with pool.acquire() as conn:
        assert await outbound_store.count_by_status(conn) == {"delivered": 1}
        assert await conn.fetchval("SELECT count(*) FROM pending_receipts") == 0
    assert await writer.sweep() == 0


async def test_receipts_settle_only_when_final_and_roll_up_segments(pool: asyncpg.Pool) -> None:
    now = datetime.now(UTC)
    async with pool.acquire() as conn:
        await outbound_store.insert_batch(
            conn,
            [NewOutbound("+15555550101", SHORTCODE, "long", 0, False, None, now),
             NewOutbound("+15555550102", SHORTCODE, "short", 0, False, None, now)],
        )
        claimed, _ = await outbound_store.claim(conn, limit=10, owner="t", lease_seconds=30)
        long_id, short_id = sorted(m.id for m in claimed)
        await outbound_store.mark_submitted(conn, [(long_id, ["L1", "L2"]), (short_id, ["S1"])])
        intermediate = NewReceipt("S1", "ENROUTE", "000", False)
        assert await outbound_store.record_receipts(conn, [intermediate]) == []
        first_part = NewReceipt("L1", "DELIVRD", "000", True)
        failed = NewReceipt("S1", "UNDELIV", "034", True)
        assert await outbound_store.record_receipts(conn, [first_part, failed]) == [
            (short_id, "undeliverable")
        ]
        # the message is delivered only when its last segment is
        second_part = NewReceipt("L2", "DELIVRD", "000", True)
        assert await outbound_store.record_receipts(conn, [second_part]) == [(long_id, "delivered")]


async def test_smsc_drop_mid_stream_drains_outbox_without_duplicates(
    settings: Settings, smsc: SmscSimulator, pool: asyncpg.Pool
) -> None:
    now = datetime.now(UTC)
    numbers = [f"+1555200{n:04d}" for n in range(300)]
    async with pool.acquire() as conn:
        await outbound_store.insert_batch(
            conn,
            [NewOutbound(n, SHORTCODE, f"update for {n}", 1, False, None, now) for n in numbers],
        )
    smsc.faults = Faults(drop_after_pdus=120, drop_times=2)
    gw = await open_gateway(gateway_settings(settings, smsc), migrate=False)
    await gw.start()
    try:
        async with asyncio.timeout(30):
            await smsc.wait_until(lambda: len(smsc.destination_counts()) == 300)

        async def drained() -> bool:
            async with pool.acquire() as conn:
                counts = await outbound_store.count_by_status(conn)
            return counts.get("queued", 0) == 0 and counts.get("sending", 0) == 0

        await wait_for(drained)
    finally:
        await gw.stop()
        await gw.pool.close()
    assert smsc.drops >= 1
    assert smsc.duplicates() == {}
    assert set(smsc.destination_counts().values()) == {1}


async def test_opted_out_number_is_suppressed_at_send_time(
    gateway: Gateway, smsc: SmscSimulator
) -> None:
    assert await smsc.inject_mo("+15555550177", SHORTCODE, "STOP") == CommandStatus.ESME_ROK
    async with asyncio.timeout(10):
        await smsc.wait_for_submits(1)  # the one opt-out confirmation
    async with gateway.pool.acquire() as conn:
        await outbound_store.insert_batch(
            conn,
            [NewOutbound("+15555550177", SHORTCODE, "campaign news", 1, False, None,
                         datetime.now(UTC))],
        )
    gateway.outbox.wake()

    async def suppressed() -> bool:
        async with gateway.pool.acquire() as conn:
            counts = await outbound_store.count_by_status(conn)
        return counts.get("suppressed", 0) == 1

    await wait_for(suppressed)
    assert len(smsc.texts_to("+15555550177")) == 1


async def test_health_and_metrics_report_the_live_pipeline(
    gateway: Gateway, smsc: SmscSimulator
) -> None:
    assert await smsc.inject_mo("+15555550142", SHORTCODE, "JOIN") == CommandStatus.ESME_ROK
    async with asyncio.timeout(10):
        await smsc.wait_for_submits(1)
    base = f"http://127.0.0.1:{gateway.http_port}"
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}/healthz") as resp:
            assert resp.status == 200
            assert (await resp.json())["smpp"] == "bound"
        async with http.get(f"{base}/metrics") as resp:
            body = await resp.text()
    assert "gateway_mo_committed_total 1.0" in body
    assert "gateway_smpp_bound 1.0" in body
    assert "gateway_mo_to_mt_seconds_count 1.0" in body


async def test_one_timeline_per_contact(gateway: Gateway, smsc: SmscSimulator) -> None:
    from gateway.store.timeline import full_timeline

    number = "+15555550155"
    for text in ("JOIN", "Y"):
        assert await smsc.inject_mo(number, SHORTCODE, text) == CommandStatus.ESME_ROK
    async with asyncio.timeout(10):
        await smsc.wait_until(lambda: len(smsc.texts_to(number)) >= 3)

    async def mts_delivered() -> bool:
        async with gateway.pool.acquire() as conn:
            rows = await full_timeline(conn, number, SHORTCODE)
        return all(r["status"] == "delivered" for r in rows if r["kind"] == "mt")

    await wait_for(mts_delivered)
    async with gateway.pool.acquire() as conn:
        rows = await full_timeline(conn, number, SHORTCODE)
        assert await full_timeline(conn, "+15555550156", SHORTCODE) == []
    kinds = [r["kind"] for r in rows]
    assert [r["body"] for r in rows if r["kind"] == "mo"] == ["JOIN", "Y"]
    assert kinds.count("mt") >= 3 and "event" in kinds
    assert kinds[0] == "mo"  # the JOIN comes before what it caused
    assert "opt_in_confirmed" in [r["body"] for r in rows if r["kind"] == "event"]


async def test_an_mo_the_engine_cannot_decide_is_kept_and_does_not_block_others(
    gateway: Gateway, smsc: SmscSimulator
) -> None:
    """A contact row whose state the engine cannot read (say, an old layout) makes
    decide() raise. That MO is still stored and acknowledged (never redelivered
    forever), marked on the timeline, and the MOs batched with it are answered."""
    broken, fine = "+15555550160", "+15555550161"
    async with gateway.pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO contacts (msisdn, shortcode, state) VALUES ($1, $2, $3::jsonb)",
            broken, SHORTCODE, '{"subs": "not a mapping"}',
        )
    statuses = await asyncio.gather(
        smsc.inject_mo(broken, SHORTCODE, "JOIN"), smsc.inject_mo(fine, SHORTCODE, "JOIN")
    )
    assert list(statuses) == [CommandStatus.ESME_ROK, CommandStatus.ESME_ROK]
    async with asyncio.timeout(10):
        await smsc.wait_until(lambda: len(smsc.texts_to(fine)) == 1)
    async with gateway.pool.acquire() as conn:
        bodies = await conn.fetch("SELECT msisdn, body FROM inbound ORDER BY id")
        events = await conn.fetch(
            "SELECT name FROM contact_events WHERE msisdn = $1", broken
        )
    assert sorted((r["msisdn"], r["body"]) for r in bodies) == [(broken, "JOIN"), (fine, "JOIN")]
    assert [r["name"] for r in events] == ["decision_failed"]
    assert smsc.texts_to(broken) == []
