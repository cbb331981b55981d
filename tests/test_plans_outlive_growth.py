"""The hot path's lookups probe indexes even with a plan made while the tables were tiny.

PostgreSQL plans a prepared statement once ("generic plan", after five
executions) and keeps that plan until the table is analyzed again. A new
campaign's first rally is exactly the bad case: the plans are made while
`contacts` holds a few dozen rows, autovacuum analyzes it at most once a
minute, and meanwhile thousands of supporters join. A plan that chose to
read the tiny table whole (a hash join over a sequential scan) then reads it
whole for every batch as it grows: the benchmark saw 14 million rows read
for 20,000 MOs in one run out of three.

These tests make that happen on purpose: analyze the tables while they hold
30 contacts, run each statement often enough for its plan to be cached, let
`contacts` grow to 20,000 rows without a new ANALYZE, then count, in the
same transaction, how each table was read (`pg_stat_xact_user_tables`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from gateway.store import lane_reads, number_locks, outbound, webhook_events
from gateway.store.db import columns
from gateway.store.receipts import NewReceipt

SHORTCODE = "12345"

SMALL = """
INSERT INTO contacts (msisdn, shortcode, state)
SELECT '+1555' || lpad(n::text, 7, '0'), '12345', '{}'::jsonb FROM generate_series(1, 30) n;
ANALYZE contacts; ANALYZE saved_cards; ANALYZE donations; ANALYZE inbound_unacked;
"""

GROWN = """
INSERT INTO contacts (msisdn, shortcode, state)
SELECT '+1555' || lpad(n::text, 7, '0'), '12345', '{}'::jsonb FROM generate_series(31, 20000) n
"""

READS = """
SELECT relname, seq_scan, coalesce(idx_scan, 0) AS idx_scan FROM pg_stat_xact_user_tables
WHERE relname = ANY($1::text[])
"""


def numbers(first: int, count: int) -> list[str]:
    return [f"+1555{n:07d}" for n in range(first, first + count)]


@pytest.fixture
async def conn(db_url: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(db_url)
    try:
        await connection.execute(SMALL)
        yield connection
    finally:
        await connection.close()


async def table_reads(conn: asyncpg.Connection, tables: list[str]) -> dict[str, tuple[int, int]]:
    """(sequential scans, index scans) per table not yet flushed to the statistics."""
    return {r["relname"]: (r["seq_scan"], r["idx_scan"])
            for r in await conn.fetch(READS, tables)}


def delta(before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]]
          ) -> dict[str, tuple[int, int]]:
    """How each table was read between the two counts."""
    return {t: (after[t][0] - before.get(t, (0, 0))[0], after[t][1] - before.get(t, (0, 0))[1])
            for t in after}


async def test_the_lane_read_probes_contacts_after_they_grew(conn: asyncpg.Connection) -> None:
    for round_ in range(8):  # past the five custom plans: the cached plan is made now
        keys = [(n, SHORTCODE) for n in numbers(1 + round_, 12)]
        await lane_reads.read_batch(conn, keys, cards=True, holds=True)
    await conn.execute(GROWN)
    tables = ["contacts", "saved_cards", "donations"]
    async with conn.transaction():
        before = await table_reads(conn, tables)
        keys = [(n, SHORTCODE) for n in numbers(15_000, 12)]
        found = await lane_reads.read_batch(conn, keys, cards=True, holds=True)
        reads = delta(before, await table_reads(conn, tables))
    assert len(found.states) == 12
    assert all(seq == 0 for seq, _ in reads.values()), f"read whole: {reads}"
    assert reads["contacts"][1] > 0, reads


async def test_the_send_gate_probes_contacts_after_they_grew(
    conn: asyncpg.Connection
) -> None:
    async def check(first: int) -> set[str]:
        pairs = [(n, SHORTCODE) for n in numbers(first, 12)]
        locked, _ = await number_locks.gate_check(conn, Counter(), pairs)
        await number_locks.release_all(conn)
        return locked

    for round_ in range(8):
        await check(1 + round_)
    await conn.execute(GROWN)
    async with conn.transaction():
        before = await table_reads(conn, ["contacts"])
        locked = await check(15_000)
        reads = delta(before, await table_reads(conn, ["contacts"]))
    assert len(locked) == 12
    assert reads["contacts"][0] == 0, f"read whole: {reads}"


async def test_the_lane_read_finds_unread_records_by_digest(conn: asyncpg.Connection) -> None:
    """The unread records in flight (redeliveries) are probed by digest, never walked."""
    since = datetime.now(UTC) - timedelta(minutes=5)
    for round_ in range(8):
        await lane_reads.read_batch(conn, [], cards=False, holds=False,
                                    digests=[bytes([round_]) * 32], since=since)
    await conn.execute("""
        INSERT INTO inbound_unacked (id, digest, received_at)
        SELECT n, sha256(n::text::bytea), now() FROM generate_series(1, 5000) n""")
    wanted = await conn.fetchval("SELECT sha256('4321'::bytea)")
    async with conn.transaction():
        before = await table_reads(conn, ["inbound_unacked"])
        found = await lane_reads.read_batch(conn, [], cards=False, holds=False,
                                            digests=[wanted], since=since)
        reads = delta(before, await table_reads(conn, ["inbound_unacked"]))
    assert [u.id for u in found.unacked] == [4321]
    assert reads["inbound_unacked"][0] == 0, f"read whole: {reads}"


QUEUE = """
INSERT INTO outbound (msisdn, shortcode, body, priority, compliance, not_before)
SELECT '+1555' || lpad(n::text, 7, '0'), '12345', 'Thanks!', 0, false, now() - interval '1 minute'
FROM generate_series($1::int, $2::int) n
"""

OUTBOUND_READS = """
SELECT seq_tup_read + coalesce(idx_tup_fetch, 0) FROM pg_stat_xact_user_tables
WHERE relname = 'outbound'
"""


async def test_a_claim_reads_its_batch_not_the_whole_queue(conn: asyncpg.Connection) -> None:
    """A backlog of 20,000 queued replies: a claim of 50 reads about 50 rows, not 20,000."""
    await conn.execute(QUEUE, 1, 30)
    await conn.execute("ANALYZE outbound")
    for _ in range(8):
        await outbound.claim(conn, limit=3, owner="test", lease_seconds=30)
    await conn.execute(QUEUE, 31, 20_030)
    async with conn.transaction():
        before = await conn.fetchval(OUTBOUND_READS)
        claimed, _ = await outbound.claim(conn, limit=50, owner="test", lease_seconds=30)
        read = await conn.fetchval(OUTBOUND_READS) - before
    assert len(claimed) == 50
    assert read < 1_000, f"{read} outbound rows read to claim 50"


SENDING = """
INSERT INTO outbound (msisdn, shortcode, body, status, lease_owner, lease_until, attempts)
SELECT '+1555' || lpad(n::text, 7, '0'), '12345', 'Thanks!', 'sending', 'test',
       now() + interval '1 hour', 1
FROM generate_series($1::int, $2::int) n
"""

ROWS_READ = """
SELECT relname, seq_tup_read + coalesce(idx_tup_fetch, 0) AS read FROM pg_stat_xact_user_tables
WHERE relname = ANY($1::text[])
"""


async def rows_read(conn: asyncpg.Connection,
                    tables: tuple[str, ...] = ("outbound", "outbound_segments")) -> Counter[str]:
    """Rows read from these tables in this transaction, whether scanned or fetched by index."""
    return Counter({r["relname"]: r["read"] for r in await conn.fetch(ROWS_READ, list(tables))})


async def test_submit_sm_resps_are_recorded_by_key_after_the_outbox_grew(
    conn: asyncpg.Connection
) -> None:
    """50 submit_sm_resps on an outbox of 20,000 rows whose plan was made when it held
    40: a few rows read per message, not the outbox."""
    await conn.execute(SENDING, 1, 40)
    await conn.execute("ANALYZE outbound; ANALYZE outbound_segments")
    early = [r[0] for r in await conn.fetch("SELECT id FROM outbound ORDER BY id")]
    for round_ in range(8):
        ids = early[round_ * 4:round_ * 4 + 4]
        await outbound.mark_submitted(conn, [(i, [f"m{i}"]) for i in ids])
    await conn.execute(SENDING, 41, 20_040)
    ids = [r[0] for r in await conn.fetch(
        "SELECT id FROM outbound WHERE status = 'sending' ORDER BY id LIMIT 50")]
    async with conn.transaction():
        before = await rows_read(conn)
        await outbound.mark_submitted(conn, [(i, [f"m{i}"]) for i in ids])
        read = await rows_read(conn) - before
    submitted = await conn.fetchval(
        "SELECT count(*) FROM outbound WHERE id = ANY($1::bigint[]) AND status = 'submitted'",
        ids)
    assert submitted == 50
    assert sum(read.values()) <= 5 * 50, f"submit_sm_resps read {dict(read)}"


async def test_requeued_failed_and_suppressed_sends_are_found_by_key_after_the_outbox_grew(
    conn: asyncpg.Connection
) -> None:
    """The fault paths (an SMSC refusing, a send cut off, a STOP just before the send) on
    an outbox of 20,000 rows whose plans were made when it held 40."""
    await conn.execute(SENDING, 1, 40)
    await conn.execute("ANALYZE outbound")
    early = [r[0] for r in await conn.fetch("SELECT id FROM outbound ORDER BY id")]
    for round_ in range(8):
        first, second, third = early[round_ * 3:round_ * 3 + 3]
        await outbound.requeue(conn, [(first, 1.0, "refused", False)], lease_seconds=60)
        await outbound.mark_failed(conn, [(second, "refused", False)], lease_seconds=60)
        await outbound.mark_suppressed(conn, [third])
    await conn.execute(SENDING, 41, 20_040)
    ids = [r[0] for r in await conn.fetch(
        "SELECT id FROM outbound WHERE status = 'sending' ORDER BY id LIMIT 150")]
    results: dict[str, Callable[[], Awaitable[None]]] = {
        "queued": lambda: outbound.requeue(
            conn, [(i, 1.0, "refused", True) for i in ids[:50]], lease_seconds=60),
        "failed": lambda: outbound.mark_failed(
            conn, [(i, "refused", False) for i in ids[50:100]], lease_seconds=60),
        "suppressed": lambda: outbound.mark_suppressed(conn, ids[100:]),
    }
    for status, record in results.items():
        async with conn.transaction():
            before = await rows_read(conn)
            await record()
            read = await rows_read(conn) - before
        assert sum(read.values()) <= 5 * 50, f"{status}: {dict(read)} read for 50 rows"
    counts = dict(await conn.fetch(
        "SELECT status, count(*) FROM outbound WHERE id = ANY($1::bigint[]) GROUP BY status",
        ids))
    assert counts == {"queued": 50, "failed": 50, "suppressed": 50}
    assert await conn.fetchval(
        "SELECT count(*) FROM outbound WHERE id = ANY($1::bigint[]) AND unsure_since IS NOT NULL",
        ids[:50]) == 50


SEGMENTS_SUBMITTED = """
INSERT INTO outbound_segments (outbound_id, seq, smsc_message_id)
SELECT id, 1, 'm' || id FROM outbound WHERE id > $1
"""


def delivered(ids: list[int]) -> list[NewReceipt]:
    return [NewReceipt(f"m{i}", "DELIVRD", "000", final=True) for i in ids]


async def test_receipts_find_their_segments_by_key_after_the_outbox_grew(
    conn: asyncpg.Connection
) -> None:
    """50 receipts when 20,000 segments were submitted since the plan was made (with 40),
    and 19,000 of them delivered since: a few rows read per receipt, not every open
    segment. (Segments are found by the index of every segment's SMSC message id, so a
    plan that reads that index whole reads the campaign's whole past.)
    The statement alone: the webhook events `record_receipts` adds are emitted only when
    a subscription wants them."""
    await conn.execute(SENDING, 1, 40)
    early = [r[0] for r in await conn.fetch("SELECT id FROM outbound ORDER BY id")]
    await outbound.mark_submitted(conn, [(i, [f"m{i}"]) for i in early])
    for round_ in range(9):  # 4 of the 40 segments left open when the tables are analyzed
        await outbound.record_receipts(conn, delivered(early[round_ * 4:round_ * 4 + 4]))
    await conn.execute("ANALYZE outbound; ANALYZE outbound_segments; "
                       "ANALYZE delivery_receipts; ANALYZE pending_receipts")
    en_route = [NewReceipt(f"m{i}", "ENROUTE", "000", final=False) for i in early[36:]]
    for _ in range(8):  # the plan made now is the one kept
        await outbound.record_receipts(conn, en_route)
    await conn.execute(SENDING, 41, 20_040)
    await conn.execute("UPDATE outbound SET status = 'submitted', segments = 1 "
                       "WHERE status = 'sending'")
    await conn.execute(SEGMENTS_SUBMITTED, early[-1])
    await conn.execute("UPDATE outbound_segments SET status = 'DELIVRD' WHERE outbound_id IN "
                       "(SELECT id FROM outbound WHERE id > $1 ORDER BY id LIMIT 19000)",
                       early[-1])
    ids = [r[0] for r in await conn.fetch(
        "SELECT outbound_id FROM outbound_segments WHERE status = 'submitted' "
        "AND outbound_id > $1 ORDER BY outbound_id LIMIT 50", early[-1])]
    receipts = delivered(ids)
    async with conn.transaction():
        before = await rows_read(conn)
        changed = await conn.fetch(outbound.RECORD_RECEIPTS, *columns(
            receipts, "smsc_message_id", "stat", "error_code", "final", "number", "text_head"))
        read = await rows_read(conn) - before
    assert sorted((r["id"], r["status"]) for r in changed) == [(i, "delivered") for i in ids]
    assert sum(read.values()) <= 5 * 50, f"50 receipts read {dict(read)}"


SUBSCRIBED = """
INSERT INTO webhook_subscriptions (url, event_types, secret)
VALUES ('https://crm.example/hook', ARRAY[$1], repeat('s', 32))
"""


async def test_message_events_find_their_messages_by_key_after_the_outbox_grew(
    conn: asyncpg.Connection
) -> None:
    """message.delivered for 50 messages, subscribed to, on an outbox of 20,000 rows whose
    plan was made when it held 40."""
    await conn.execute(SUBSCRIBED, "message.delivered")
    await conn.execute(SENDING, 1, 40)
    await conn.execute("UPDATE outbound SET status = 'delivered', final_at = now()")
    await conn.execute("ANALYZE outbound; ANALYZE webhook_subscriptions")
    early = [r[0] for r in await conn.fetch("SELECT id FROM outbound ORDER BY id")]
    for round_ in range(8):
        await webhook_events.emit_messages(conn, early[round_ * 4:round_ * 4 + 4])
    await conn.execute(SENDING, 41, 20_040)
    ids = [r[0] for r in await conn.fetch(
        "UPDATE outbound SET status = 'delivered', final_at = now() WHERE id IN "
        "(SELECT id FROM outbound WHERE status = 'sending' ORDER BY id LIMIT 50) RETURNING id")]
    async with conn.transaction():
        before = await rows_read(conn)
        emitted = await webhook_events.emit_messages(conn, ids)
        read = await rows_read(conn) - before
    assert emitted == 50
    assert sum(read.values()) <= 5 * 50, f"50 message events read {dict(read)}"


GIFTS = """
WITH asked AS (
    INSERT INTO inbound (id, msisdn, shortcode, body, received_at)
    SELECT n, '+1555' || lpad(n::text, 7, '0'), '12345', 'GIVE 10', now()
    FROM generate_series($1::int, $2::int) n
)
INSERT INTO donations (id, msisdn, shortcode, program, committee, method, amount_cents,
                       currency, requested_at, expires_at)
SELECT n, '+1555' || lpad(n::text, 7, '0'), '12345', 'rise', 'Rise Up PAC', 'carrier', 1000,
       'USD', now(), now() + interval '1 day'
FROM generate_series($1::int, $2::int) n
"""
LEDGER = ("donations", "donation_events")
GIFT_EVENTS = """
INSERT INTO donation_events (donation_id, kind, occurred_at)
SELECT n, $3, now() FROM generate_series($1::int, $2::int) n
RETURNING id
"""


async def test_gift_events_find_their_gifts_by_key_after_the_ledger_grew(
    conn: asyncpg.Connection
) -> None:
    """gift.confirmed for 50 gifts, subscribed to, when 10,000 gifts were asked for since
    the plan was made (with 40)."""
    await conn.execute(SUBSCRIBED, "gift.confirmed")
    await conn.execute(GIFTS, 1, 40)
    early = [r[0] for r in await conn.fetch(GIFT_EVENTS, 1, 40, "confirmed")]
    await conn.execute("ANALYZE donations; ANALYZE donation_events; "
                       "ANALYZE webhook_subscriptions")
    for round_ in range(8):  # the plan made now is the one kept
        await webhook_events.emit_donation_events(conn, early[round_ * 4:round_ * 4 + 4])
    await conn.execute(GIFTS, 41, 10_040)
    await conn.execute(GIFT_EVENTS, 41, 10_040, "requested")
    async with conn.transaction():
        ids = [r[0] for r in await conn.fetch(GIFT_EVENTS, 5_001, 5_050, "confirmed")]
        before = await rows_read(conn, LEDGER)
        emitted = await webhook_events.emit_donation_events(conn, ids)
        read = await rows_read(conn, LEDGER) - before
    assert emitted == 50
    assert sum(read.values()) <= 5 * 50, f"50 gift events read {dict(read)}"
