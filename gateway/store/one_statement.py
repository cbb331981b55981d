"""Several owners' batch writes sent as ONE statement: one round trip instead of one each.

Why: an MO lane batch writes six tables (the MOs, their unread records, the
contacts' states, the timeline, the replies, the consent ledger). As six
statements that is six round trips, each one a wake-up of the database and
of the gateway, and on a small box those wake-ups, not the rows, were most
of the CPU per MO (docs/performance.md). PostgreSQL runs data-modifying
CTEs of one statement together (`WITH a AS (INSERT ...), b AS (INSERT ...)
SELECT ...`) in one snapshot; foreign keys are checked at the end of the
statement, so a row may point at one inserted by a sibling step.

Each step's SQL stays in the module that owns its table (tests/test_table_owners.py);
it is written with its own `$1..$n` and renumbered here. A step named
`name` can be read by later steps as a CTE of that name (its RETURNING
rows), which is how the consent ledger finds the replies' ids.

The composed text depends only on which steps are given, never on how many
rows they carry (arrays via `unnest`), so asyncpg's per-connection prepared
statement cache is hit by every batch.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

_PARAM = re.compile(r"\$(\d+)")


@dataclass(frozen=True, slots=True)
class Step:
    """One owner's write of a batch: its SQL (`$1..$n`), its arguments, its CTE name."""

    sql: str
    args: Sequence[Any]
    name: str = ""  # later steps may read its RETURNING rows by this name
    rows: int = 0  # how many rows it writes (0: the step may be left out when alone)


SELECT_NOTHING = "SELECT 1"


@functools.lru_cache(maxsize=64)
def compose(steps: tuple[tuple[str, str], ...],
            final: str = SELECT_NOTHING) -> tuple[str, tuple[int, ...]]:
    """`WITH s0 AS (...), name AS (...) SELECT 1` from (name, sql) pairs, parameters
    renumbered; and how many parameters each step takes. `final` replaces the
    `SELECT 1` (it may read the named steps, and takes no parameters)."""
    parts = []
    counts = []
    offset = 0
    for index, (name, sql) in enumerate(steps):
        count = max((int(n) for n in _PARAM.findall(sql)), default=0)
        renumbered = _PARAM.sub(functools.partial(_shifted, by=offset), sql.strip())
        parts.append(f"{name or f's{index}'} AS (\n{renumbered}\n)")
        counts.append(count)
        offset += count
    return "WITH " + ",\n".join(parts) + "\n" + final.strip(), tuple(counts)


def _shifted(match: re.Match[str], *, by: int) -> str:
    return f"${int(match.group(1)) + by}"


def statement(steps: Sequence[Step], final: str = SELECT_NOTHING) -> tuple[str, list[Any]]:
    """The one statement and its arguments for these steps."""
    sql, counts = compose(tuple((s.name, s.sql) for s in steps), final)
    args: list[Any] = []
    for step, count in zip(steps, counts, strict=True):
        if len(step.args) != count:
            raise ValueError(f"a step takes {count} parameters, was given {len(step.args)}: "
                             f"{step.sql.strip().splitlines()[0][:60]!r}")
        args.extend(step.args)
    return sql, args


async def run(conn: asyncpg.Connection, steps: Sequence[Step]) -> None:
    """Write every step in one round trip (nothing when there are no steps)."""
    if not steps:
        return
    if len(steps) == 1 and not steps[0].name:
        await conn.execute(steps[0].sql, *steps[0].args)
        return
    sql, args = statement(steps)
    await conn.execute(sql, *args)


async def fetch(conn: asyncpg.Connection, steps: Sequence[Step],
                final: str) -> list[asyncpg.Record]:
    """Every step in one round trip, and the rows of `final`, which reads the named steps."""
    sql, args = statement(steps, final)
    rows: list[asyncpg.Record] = await conn.fetch(sql, *args)
    return rows
