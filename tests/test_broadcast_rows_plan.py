"""Materializing a broadcast reads each of its steps once, whatever the planner believes.

The statement that writes a batch of a broadcast's rows (store/outbound.py
`INSERT_BROADCAST_ROWS`) is a chain of CTEs. PostgreSQL estimates a CTE
built from parameters at one row, and a join it plans on that belief (a
nested loop) scans one CTE again for every row of the other: the join that
found which inserted rows carry links read 10,000 x 10,000 rows per batch,
11 s of PostgreSQL per batch, which made a 30,000-recipient broadcast send
at a quarter of its former rate. This runs a real materialization with
PostgreSQL's `auto_explain` reporting each statement's executed plan to the
test, and fails if any CTE of the batch statement was scanned more than once.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from gateway.broadcast import control, service
from gateway.broadcast.policy import QuietHoursPolicy
from gateway.engine import load_rules
from tests.support import executed_plans
from tests.support.broadcasts import CODE, SUBSCRIBED_SEED, afternoon_zone
from tests.support.executed_plans import ExecutedPlans, cte_rescans

ROOT = Path(__file__).resolve().parents[1]
RECIPIENTS = 1500
BATCH = 500


async def test_a_batch_of_broadcast_rows_scans_each_step_once(db_url: str) -> None:
    conn = await asyncpg.connect(db_url)
    executed = ExecutedPlans()
    try:
        await conn.execute(SUBSCRIBED_SEED, CODE, afternoon_zone(datetime.now(UTC)), RECIPIENTS)
        broadcast_id = await service.create(
            conn, rules=load_rules(ROOT / "keywords.yaml"), program="rise", shortcode=CODE,
            where="", text="Rise Up: rally Saturday.", created_by="organizer@example.org",
            now=datetime.now(UTC))
        await control.start(conn, broadcast_id)
        await conn.execute(executed_plans.settings(analyze=True))
        conn.add_log_listener(executed.keep)
        result = await service.materialize(
            conn, broadcast_id, policy=QuietHoursPolicy(),
            variables={"program": "rise", "shortcode": CODE},
            clock=lambda: datetime.now(UTC), batch_size=BATCH)
        conn.remove_log_listener(executed.keep)
    finally:
        await conn.close()
    assert result.inserted == RECIPIENTS
    batches = [p for p in executed.of("WITH planned AS")
               if "INSERT INTO outbound" in p["Query Text"]]
    assert len(batches) >= RECIPIENTS // BATCH
    for plan in batches:
        assert cte_rescans(plan["Plan"]) == [], "a CTE of the batch was scanned once per row"
