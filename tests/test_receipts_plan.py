"""A batch of receipts is joined to its segments and messages once, whatever its size.

The receipt writer's statement (migration 560, `record_receipt_rows`) is planned once
per connection for a batch the planner believes is a few rows. Joined by nested
loops, a broadcast's batch of 500 receipts compared every receipt with every segment
and message, which halved the broadcast benchmark's rate; its joins are hash joins.
PostgreSQL's `auto_explain` reports the executed plan of the statement inside the
function to the test, which fails if any of the statement's CTEs was read more than once.
"""

from __future__ import annotations

import asyncpg

from gateway.store import outbound
from gateway.store.receipts import NewReceipt
from tests.support import executed_plans
from tests.support.executed_plans import ExecutedPlans, cte_rescans


async def test_a_broadcasts_batch_of_receipts_reads_each_batch_once(db_url: str) -> None:
    """500 receipts in one statement, as a broadcast's arrive: every join of the
    statement (inside `record_receipt_rows`) reads the batch once, not once per row.

    The planner believes a batch is a few rows; with nested loops it compared every
    receipt with every segment, which halved the broadcast benchmark's rate."""
    conn = await asyncpg.connect(db_url)
    executed = ExecutedPlans()
    try:
        ids = [r[0] for r in await conn.fetch(
            "INSERT INTO outbound (msisdn, shortcode, body, status, lease_owner, lease_until,"
            " attempts) SELECT '+1555' || lpad(n::text, 7, '0'), '12345', 'Rally!', 'sending',"
            " 'test', now() + interval '1 hour', 1 FROM generate_series(1, 500) n RETURNING id")]
        await outbound.mark_submitted(conn, [(i, [f"b{i}"]) for i in ids])
        await conn.execute(executed_plans.settings(analyze=True, nested=True))
        conn.add_log_listener(executed.keep)
        changed = await outbound.record_receipts(
            conn, [NewReceipt(f"b{i}", "DELIVRD", "000", final=True) for i in ids])
        conn.remove_log_listener(executed.keep)
    finally:
        await conn.close()
    assert len(changed) == 500
    plans = executed.of("INSERT INTO delivery_receipts")
    assert plans, "the receipt statement's plan was not reported"
    for plan in plans:
        assert cte_rescans(plan["Plan"]) == [], "a join read a batch once per row"
