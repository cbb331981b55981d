"""A message's status from its segments' final receipts (migration 560, `rolled_up_status`).

Why: the rule lives in one SQL function that both receipt statements call
(store/outbound.py): the receipt writer's and the sweep that applies parked
receipts. One failed part fails the message; a message is delivered only when
every part is; a part still open leaves it open.
"""

from __future__ import annotations

import asyncpg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.smpp.receipts import STATES

FAILED_PART = {"UNDELIV", "EXPIRED", "DELETED", "UNKNOWN"}


def expected(statuses: list[str]) -> str | None:
    if "REJECTD" in statuses:
        return "rejected"
    if FAILED_PART & set(statuses):
        return "undeliverable"
    if all(s == "DELIVRD" for s in statuses):
        return "delivered"
    return None


# read-only: the pool may serve every example
@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(statuses=st.lists(st.sampled_from([*STATES, "submitted"]), min_size=1, max_size=6))
async def test_the_parts_roll_up_to_the_message(pool: asyncpg.Pool, statuses: list[str]) -> None:
    assert await pool.fetchval("SELECT rolled_up_status($1::text[])", statuses) == expected(
        statuses)


async def test_one_rejected_part_outweighs_an_undelivered_one(pool: asyncpg.Pool) -> None:
    assert await pool.fetchval(
        "SELECT rolled_up_status(ARRAY['UNDELIV', 'REJECTD', 'DELIVRD'])") == "rejected"
