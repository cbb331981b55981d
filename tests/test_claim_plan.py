"""The sender's claim keeps an index plan right after a broadcast is materialized.

The claim is a prepared statement on the sender's long-lived connections.
PostgreSQL caches its generic plan; inserting rows invalidates no plan, so a
plan made while the outbox was empty (scan every queued row, then match each
against the candidates) outlived a materialization of thousands of rows:
seconds per claim. This checks what the claim reads, not its timing: the rows
of `outbound` a claim of 500 touches (counted by PostgreSQL for this
transaction) must be a few per row claimed, not the whole queue. An index
scan that walks the queue is as bad as a sequential one, which is why the
count, not the plan's node types, is checked.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from gateway.broadcast import control, service
from gateway.broadcast.policy import QuietHoursPolicy
from gateway.engine import load_rules
from gateway.store import outbound as outbound_store
from tests.support.broadcasts import CODE, SUBSCRIBED_SEED, afternoon_zone

ROOT = Path(__file__).resolve().parents[1]
RECIPIENTS = 5000
# EXECUTE takes no bind parameters: the priorities as an array literal
PRIORITIES = ",".join(map(str, outbound_store.PRIORITIES))
EXECUTE_CLAIM = f"EXECUTE claim(500, 'sender', 60, '{{{PRIORITIES}}}', '{{}}')"


# rows of `outbound` read so far in this transaction, by any scan
OUTBOUND_READS = """
SELECT seq_tup_read + coalesce(idx_tup_fetch, 0) FROM pg_stat_xact_user_tables
WHERE relname = 'outbound'
"""


async def test_the_claim_probes_by_index_right_after_materialization(db_url: str) -> None:
    conn = await asyncpg.connect(db_url)
    try:
        # as in production between autovacuum runs: no ANALYZE but ours
        await conn.execute("ALTER TABLE outbound SET (autovacuum_enabled = false)")
        await conn.execute(SUBSCRIBED_SEED, CODE, afternoon_zone(datetime.now(UTC)), RECIPIENTS)
        await conn.execute("ANALYZE contacts")
        # The sender's statement, its generic plan cached while the outbox is empty
        # (forced here; PostgreSQL picks it by itself after five executions).
        await conn.execute("SET plan_cache_mode = force_generic_plan")
        await conn.execute(
            "PREPARE claim(int, text, float8, int2[], text[]) AS " + outbound_store.CLAIM)
        assert len(await conn.fetch(EXECUTE_CLAIM)) == 0

        broadcast_id = await service.create(
            conn, rules=load_rules(ROOT / "keywords.yaml"), program="rise", shortcode=CODE,
            where="", text="Rise Up: rally Saturday.", created_by="organizer@example.org",
            now=datetime.now(UTC))
        await control.start(conn, broadcast_id)
        result = await service.materialize(
            conn, broadcast_id, policy=QuietHoursPolicy(),
            variables={"program": "rise", "shortcode": CODE},
            clock=lambda: datetime.now(UTC), batch_size=1000)
        assert result.inserted == RECIPIENTS

        async with conn.transaction():
            before = await conn.fetchval(OUTBOUND_READS)
            claimed = await conn.fetch(EXECUTE_CLAIM)
            read = await conn.fetchval(OUTBOUND_READS) - before
        assert len(claimed) == 500
        assert read <= 5 * 500, f"the claim read {read} rows of a {RECIPIENTS}-row queue"
    finally:
        await conn.close()

