"""Heartbeats of the gateway instances sending to the SMSC (migration 017).

One statement per beat: record ours, count the live ones. The count is all
an instance needs to take its share of the contracted TPS.
"""

from __future__ import annotations

import asyncpg

# Our beat and the live count in one round trip. The CTE's row is not visible
# to the SELECT (one snapshot), so ours is counted by the `+ 1`.
BEAT = """
WITH beat AS (
    INSERT INTO smpp_senders (instance, seen_at) VALUES ($1, now())
    ON CONFLICT (instance) DO UPDATE SET seen_at = now()
)
SELECT count(*) + 1 FROM smpp_senders
WHERE instance <> $1 AND seen_at > now() - make_interval(secs => $2)
"""

LEAVE = "DELETE FROM smpp_senders WHERE instance = $1"


async def beat(conn: asyncpg.Connection, instance: str, *, live_within: float) -> int:
    """Record that `instance` sends; return how many instances send (ours included)."""
    live: int = await conn.fetchval(BEAT, instance, live_within)
    return live


async def leave(conn: asyncpg.Connection, instance: str) -> None:
    await conn.execute(LEAVE, instance)
