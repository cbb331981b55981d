"""The keyword-reload channel: PostgreSQL LISTEN/NOTIFY between gateway instances.

Why the database: every instance already holds connections to it, and a
NOTIFY is delivered to every listening session once the sending
transaction commits; no broker to run. The payload is the announcing
instance's name, so it does not reload twice.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import asyncpg

CHANNEL = "gateway_keywords_reload"

Listener = Callable[[Any, int, str, str], None]


async def announce(conn: asyncpg.Connection, instance: str) -> None:
    """Tell every instance (on commit, if inside a transaction) to re-read keywords.yaml."""
    await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, instance)


async def listen(conn: asyncpg.Connection, callback: Listener) -> None:
    await conn.add_listener(CHANNEL, callback)
