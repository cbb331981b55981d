"""The texts of an A/B-tested broadcast (migration 451): the one writer of broadcast_variants."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

INSERT = """
INSERT INTO broadcast_variants (broadcast_id, variant, template)
SELECT $1, v.n, v.template FROM unnest($2::text[]) WITH ORDINALITY AS v(template, n)
"""

LIST = "SELECT variant, template FROM broadcast_variants WHERE broadcast_id = $1 ORDER BY 1"


async def insert(conn: asyncpg.Connection, broadcast_id: int, templates: Sequence[str]) -> None:
    """Variants 1..n, in the order given."""
    await conn.execute(INSERT, broadcast_id, list(templates))


async def texts_of(conn: asyncpg.Connection, broadcast_id: int) -> dict[int, str]:
    return {r["variant"]: r["template"] for r in await conn.fetch(LIST, broadcast_id)}
