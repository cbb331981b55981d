"""The functions that pin the hot path's plans plan their statement once per connection.

A PL/pgSQL function's statement is cached like a prepared statement: after
five calls PostgreSQL keeps the generic plan only if it does not look
dearer than the custom plans it made for the actual arguments; otherwise it
plans again on every call. With a few thousand contacts analyzed, the
lane's batch read did exactly that, at about 200 us of PostgreSQL's CPU a
call (docs/performance.md, "Planned once per connection"). Migration 540
sets `plan_cache_mode = force_generic_plan` on every function whose plan
migrations 530-533 pin, but the claim; these tests fail when one lacks it,
and show the lane read's ninth call running the plan made without its
arguments.
"""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime, timedelta

import asyncpg

from gateway.store import lane_reads
from tests.support import executed_plans
from tests.support.executed_plans import ExecutedPlans

# The functions whose SET clauses pin their plans to index probes (migrations 530-533, 560, 561).
PINNED = {"lane_read", "send_gate_check", "claim_outbound", "mark_submitted_rows",
          "requeue_rows", "fail_rows", "suppress_rows", "record_receipt_rows",
          "outbound_by_ids", "gift_events_by_ids"}
# ...all of which keep one plan, except the claim, which keeps PostgreSQL's choice: its
# generic plan took 180 ms a claim with a broadcast queued (6.5 ms planned for the
# call), and planning every claim cost more when sending slowly (migration 540).
PLANNER_CHOOSES = {"claim_outbound"}

CONTACTS = """
INSERT INTO contacts (msisdn, shortcode, state)
SELECT '+1555' || lpad(n::text, 7, '0'), '12345', '{}'::jsonb FROM generate_series(1, 5000) n;
ANALYZE contacts; ANALYZE saved_cards; ANALYZE donations; ANALYZE inbound_unacked;
"""

async def test_every_function_with_a_pinned_plan_plans_once(db_url: str) -> None:
    conn = await asyncpg.connect(db_url)
    try:
        rows = await conn.fetch(
            "SELECT proname, proconfig FROM pg_proc"
            " WHERE 'enable_seqscan=off' = ANY (proconfig) ORDER BY proname")
    finally:
        await conn.close()
    assert {r["proname"] for r in rows} == PINNED
    modes = {r["proname"]: [c for c in r["proconfig"] if c.startswith("plan_cache_mode=")]
             for r in rows}
    assert modes == {name: [] if name in PLANNER_CHOOSES
                     else ["plan_cache_mode=force_generic_plan"] for name in PINNED}


async def test_the_lane_read_runs_one_plan_whatever_the_arguments(db_url: str) -> None:
    conn = await asyncpg.connect(db_url)
    executed = ExecutedPlans()
    since = datetime.now(UTC) - timedelta(minutes=5)
    asked: list[bytes] = []
    try:
        await conn.execute(CONTACTS)
        await conn.execute(executed_plans.settings(nested=True))
        conn.add_log_listener(executed.keep)
        for call in range(9):
            number = f"+1555{100 + call:07d}"
            asked.append(os.urandom(16))
            read = await lane_reads.read_batch(
                conn, [(number, "12345")], cards=True, holds=True,
                digests=[asked[-1]], since=since)
            assert list(read.states) == [(number, "12345")]
        conn.remove_log_listener(executed.keep)
    finally:
        await conn.close()
    inner = executed.of("unnest(msisdns, shortcodes)")
    assert len(inner) == 9
    # A plan made for the call's own arguments names them; the generic plan does not.
    last = json.dumps(inner[-1]["Plan"])
    assert asked[-1].hex() not in last
    assert re.search(r"digest = ANY \(\$\d+\)", last), last
