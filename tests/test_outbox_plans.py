"""The sending path's statements keep their plan shape, and its updates can stay HOT.

Two things a schema change or a planner's whim can undo without any test of behaviour
noticing (migration 500, docs/outbox.md):

- Plan shape. The sender's and the receipt writer's statements are prepared on
  long-lived connections; after five runs PostgreSQL may keep a generic plan, made
  without the parameters' values. Once, in ten benchmark runs, such a plan for an
  `= ANY` lookup walked a whole table. Here each statement is planned generic
  (`plan_cache_mode = force_generic_plan`) on an outbox of 30,000 sent rows, ANALYZEd,
  and every read of the outbox, its segments and its receipts must be an index probe
  with a condition: no sequential scan, no walk of an index, but of the partial
  indexes that hold only leased or unsure rows (a few, whatever the outbox's size).
- HOT. A message's receipt (submitted -> delivered) must change no column any index
  names, or every receipt writes a new entry into every index of the outbox again.
"""

from __future__ import annotations

import json
from typing import Any

import asyncpg
import pytest

from gateway.store import broadcasts as broadcasts_store
from gateway.store import outbound as outbound_store
from gateway.store import receipts as receipts_store
from gateway.store import unsure as unsure_store

SENT = 30_000
# Sent replies, each with one delivered segment and its receipt; a few still
# waiting for a receipt, a few queued, a few leased, a few unsure; a broadcast
# sent and one waiting for the morning.
SEED = f"""
INSERT INTO outbound (msisdn, shortcode, body, status, segments, submitted_at, final_at)
SELECT '+1555' || lpad(n::text, 7, '0'), '12345', 'Thanks!',
       CASE WHEN n % 100 = 0 THEN 'submitted' ELSE 'delivered' END, 1,
       now() - interval '1 hour', CASE WHEN n % 100 <> 0 THEN now() END
FROM generate_series(1, {SENT}) AS n;
INSERT INTO outbound_segments (outbound_id, seq, smsc_message_id, status)
SELECT id, 1, 'm' || id, CASE WHEN status = 'submitted' THEN 'submitted' ELSE 'DELIVRD' END
FROM outbound;
INSERT INTO delivery_receipts (smsc_message_id, stat, error_code, final)
SELECT 'm' || id, 'DELIVRD', '000', true FROM outbound WHERE status = 'delivered';
INSERT INTO outbound (msisdn, shortcode, body, priority)
SELECT '+1666' || lpad(n::text, 7, '0'), '12345', 'Hello', n % 2
FROM generate_series(1, 50) AS n;
INSERT INTO outbound (msisdn, shortcode, body, status, lease_owner, lease_until, attempts)
SELECT '+1777' || lpad(n::text, 7, '0'), '12345', 'Hello', 'sending', 'sender-a',
       now() + interval '1 minute', 1
FROM generate_series(1, 20) AS n;
INSERT INTO outbound (msisdn, shortcode, body, not_before, unsure_since)
SELECT '+1888' || lpad(n::text, 7, '0'), '12345', 'Hello', now() + interval '1 hour',
       now() - interval '1 minute'
FROM generate_series(1, 10) AS n;
INSERT INTO broadcasts (program, shortcode, template, status, created_by)
SELECT 'rise', '12345', 'News ' || n, CASE WHEN n = 1 THEN 'done' ELSE 'running' END,
       'test@example.org'
FROM generate_series(1, 2) AS n;
INSERT INTO outbound (msisdn, shortcode, body, priority, broadcast_id, status, submitted_at,
                      not_before, not_after)
SELECT '+1555' || lpad(n::text, 7, '0'), '12345', 'News', 1, b.id,
       CASE WHEN b.status = 'done' THEN 'delivered' ELSE 'queued' END,
       CASE WHEN b.status = 'done' THEN now() - interval '1 day' END,
       now() + interval '8 hours', now() + interval '20 hours'
FROM broadcasts b, generate_series(1, 5000) AS n;
INSERT INTO pending_receipts (smsc_message_id, number, text_head)
SELECT 'p' || n, '1888' || lpad(n::text, 7, '0'), 'Hello' FROM generate_series(1, 10) AS n;
ANALYZE outbound; ANALYZE outbound_segments; ANALYZE delivery_receipts;
ANALYZE pending_receipts;
"""

WATCHED = {"outbound", "outbound_segments", "delivery_receipts"}
# Partial indexes of the few rows in flight or unsure: reading all of one is a probe.
SMALL = {"outbound_lease_idx", "outbound_unsure_idx", "outbound_capped_due_idx"}
BATCH = 500  # the receipt writer's and the sender's batch size
IDS = [f"m{n}" for n in range(1, BATCH + 1)]


def nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    found = [plan]
    for child in plan.get("Plans", []):
        found += nodes(child)
    return found


def walks(plan: dict[str, Any]) -> list[str]:
    """Reads of the watched tables that are not index probes with a condition."""
    bad = []
    for node in nodes(plan):
        relation = node.get("Relation Name")
        kind = node["Node Type"]
        if relation not in WATCHED or kind == "ModifyTable":
            continue
        if kind == "Bitmap Heap Scan":
            continue  # its Bitmap Index Scan child is checked below
        if kind not in ("Index Scan", "Index Only Scan") or (
                "Index Cond" not in node and node.get("Index Name") not in SMALL):
            bad.append(f"{kind} on {relation} ({node.get('Index Name')})")
    for node in nodes(plan):
        if (node["Node Type"] == "Bitmap Index Scan" and "Index Cond" not in node
                and node.get("Index Name") not in SMALL):
            bad.append(f"Bitmap Index Scan {node.get('Index Name')} without a condition")
    return bad


def literal(value: object) -> str:
    """A value as an SQL literal for EXECUTE (which takes no bind parameters)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        inner = ",".join('"' + str(v) + '"' if isinstance(v, str) else str(v).lower()
                         for v in value)
        return "'{" + inner + "}'"
    return "'" + str(value).replace("'", "''") + "'"


async def generic_plan(conn: asyncpg.Connection, sql: str, *args: object) -> dict[str, Any]:
    await conn.execute("SET plan_cache_mode = force_generic_plan")
    await conn.execute(f"PREPARE watched AS {sql}")
    try:
        raw = await conn.fetchval(
            f"EXPLAIN (FORMAT JSON) EXECUTE watched({', '.join(map(literal, args))})")
    finally:
        await conn.execute("DEALLOCATE watched; RESET plan_cache_mode")
    plan: dict[str, Any] = json.loads(raw)[0]["Plan"]
    return plan


# rows of `outbound` read so far in this transaction, by any scan
OUTBOUND_READS = """
SELECT seq_tup_read + coalesce(idx_tup_fetch, 0) FROM pg_stat_xact_user_tables
WHERE relname = 'outbound'
"""
RECEIPT_ARGS = (IDS, ["DELIVRD"] * BATCH, ["000"] * BATCH, [True] * BATCH,
                ["15550000001"] * BATCH, ["Thanks!"] * BATCH)
OUTBOUND_IDS = list(range(1, BATCH + 1))

# (name, statement, its parameters): the lease release, the receipt writer and its
# sweep, the unsure resolver. The claim and the sender's results run in functions
# with pinned plans: tests/test_plans_outlive_growth.py.
STATEMENTS: list[tuple[str, str, tuple[object, ...]]] = [
    ("lock capped", outbound_store.LOCK_CAPPED, (BATCH, outbound_store.CAPPED_LOCK_SPACE)),
    ("release leases", outbound_store.RELEASE_LEASES,
     ("sender-a", 60.0, "queued", "cut off", 30.0, "failed", "billed", 0.0)),
    ("release others' expired", outbound_store.RELEASE_OTHERS_EXPIRED,
     ("sender-a", 60.0, "queued", "cut off", 30.0, "failed", "billed", 0.0)),
    ("release unknown claims", outbound_store.RELEASE_UNKNOWN_CLAIMS, ("sender-a", [1, 2])),
    ("record receipts", outbound_store.RECORD_RECEIPTS, RECEIPT_ARGS),
    ("apply receipts", outbound_store.APPLY_RECEIPTS, (IDS,)),
    ("roll up", outbound_store.ROLL_UP, (OUTBOUND_IDS,)),
    ("parked receipts matched", receipts_store.LIST_PENDING_MATCHED, (1000,)),
    ("list unsure", unsure_store.LIST_UNSURE, (100,)),
]


@pytest.fixture
async def seeded(pool: asyncpg.Pool) -> asyncpg.Pool:
    async with pool.acquire() as conn:
        await conn.execute(SEED)
    return pool


@pytest.mark.parametrize(("name", "sql", "args"), STATEMENTS, ids=[s[0] for s in STATEMENTS])
async def test_the_sending_path_probes_by_index_in_a_generic_plan(
    seeded: asyncpg.Pool, name: str, sql: str, args: tuple[object, ...]
) -> None:
    async with seeded.acquire() as conn:
        plan = await generic_plan(conn, sql, *args)
    assert walks(plan) == [], name


async def test_a_claim_reads_the_queued_rows_not_the_sent_ones(seeded: asyncpg.Pool) -> None:
    """The claim (a function whose plan is pinned: docs/performance.md) finds the 50
    queued rows through the due index and locks each by id: it reads a few rows per row
    claimed, not the 30,000 sent ones."""
    async with seeded.acquire() as conn, conn.transaction():
        before = await conn.fetchval(OUTBOUND_READS)
        claimed, _ = await outbound_store.claim(conn, limit=BATCH, owner="sender-a",
                                                lease_seconds=60.0)
        read = await conn.fetchval(OUTBOUND_READS) - before
    assert len(claimed) == 50
    assert read <= 5 * 50, f"{read} rows of the outbox read to claim 50"


async def test_quiet_hours_read_the_waiting_rows_only(seeded: asyncpg.Pool) -> None:
    """The broadcasts whose window closed unsent: found among the waiting rows (the due
    index, not every row the outbox ever sent); they have no index of their own."""
    async with seeded.acquire() as conn:
        plan = await generic_plan(conn, broadcasts_store.EXPIRED_ZONE_KEYS, None)
    used = {(n["Node Type"], n.get("Index Name")) for n in nodes(plan)
            if n.get("Relation Name") == "outbound" or n.get("Index Name")}
    assert ("Bitmap Index Scan", "outbound_due_idx") in used or (
        "Index Scan", "outbound_due_idx") in used, used
    assert not [n for n in nodes(plan)
                if n["Node Type"] == "Seq Scan" and n.get("Relation Name") == "outbound"]


INDEXED_COLUMNS = """
SELECT DISTINCT a.attname
FROM pg_index i
JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = i.indexrelid
                AND d.refobjid = i.indrelid AND d.refobjsubid > 0
JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = d.refobjsubid
WHERE i.indrelid = $1::regclass
UNION
SELECT a.attname
FROM pg_index i
JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey::int2[])
WHERE i.indrelid = $1::regclass
"""


async def test_a_receipt_changes_no_indexed_column(db_url: str) -> None:
    """What the receipt hot path writes on a message (store/outbound.py RECORD_RECEIPTS
    and ROLL_UP) is named by no index, key or predicate, so that update can be HOT."""
    conn = await asyncpg.connect(db_url)
    try:
        outbound = {r[0] for r in await conn.fetch(INDEXED_COLUMNS, "outbound")}
    finally:
        await conn.close()
    assert "indexed_status" in outbound and "priority" in outbound  # the query sees them
    assert not outbound & {"status", "final_at"}, outbound


async def test_indexed_status_follows_status(db_url: str) -> None:
    conn = await asyncpg.connect(db_url)
    try:
        await conn.execute(SEED)
        rows = await conn.fetch(
            "SELECT DISTINCT status, indexed_status FROM outbound ORDER BY status")
        for status in ("failed", "suppressed", "rejected", "cancelled", "undeliverable"):
            await conn.execute("UPDATE outbound SET status = $1 WHERE id = 1", status)
            rows += await conn.fetch(
                "SELECT status, indexed_status FROM outbound WHERE id = 1")
    finally:
        await conn.close()
    assert {r["status"]: r["indexed_status"] for r in rows} == {
        "queued": "queued", "sending": "sending", "failed": "failed",
        "submitted": None, "delivered": None, "undeliverable": None, "rejected": None,
        "suppressed": None, "cancelled": None,
    }


async def test_a_receipt_is_a_hot_update(db_url: str) -> None:
    """On a page with room, a receipt writes no index entry: neither the message's
    update nor its segment's (migration 570 dropped the open segments' index, whose
    predicate named the segment's status)."""
    conn = await asyncpg.connect(db_url)
    try:
        # one transaction: pg_stat_xact_user_tables counts what it did
        tx = conn.transaction()
        await tx.start()
        await conn.execute(
            "INSERT INTO outbound (msisdn, shortcode, body, status, segments, submitted_at)"
            " VALUES ('+15550000001', '12345', 'Thanks!', 'submitted', 1, now())")
        await conn.execute(
            "INSERT INTO outbound_segments (outbound_id, seq, smsc_message_id)"
            " SELECT id, 1, 'hot-1' FROM outbound")
        changed = await outbound_store.record_receipts(
            conn, [receipts_store.NewReceipt("hot-1", "DELIVRD", "000", True)])
        assert [status for _, status in changed] == ["delivered"]
        hot = await conn.fetch(
            "SELECT relname, n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables"
            " WHERE relname IN ('outbound', 'outbound_segments') ORDER BY relname")
        await tx.rollback()
    finally:
        await conn.close()
    assert [(r["relname"], r["n_tup_upd"], r["n_tup_hot_upd"]) for r in hot] == [
        ("outbound", 1, 1), ("outbound_segments", 1, 1)]
