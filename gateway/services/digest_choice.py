"""A staff member's own choice: the e-mail digest of new questions in their themes, on or off.

Why a service of its own: the inbox page and the API both offer it, so one
function decides and audits it (`user.updated` with `digest` in the detail,
in the transaction of the change). Anyone may set it for themself; the
digest itself goes to experts only (gateway/notify/digest.py).
"""

from __future__ import annotations

from datetime import datetime

import asyncpg

from gateway.services import audit
from gateway.services.actor import Actor
from gateway.store import notifications as store


async def digest_choice(pool: asyncpg.Pool, actor: Actor) -> bool:
    """Whether the actor gets digests (on until they turn them off)."""
    async with pool.acquire() as conn:
        return await store.get_enabled(conn, actor.user_id)


async def set_digest_choice(pool: asyncpg.Pool, actor: Actor, client: str, on: bool, *,
                            now: datetime) -> bool:
    """Turn the actor's digest on or off; what it is now."""
    async with pool.acquire() as conn, conn.transaction():
        enabled = await store.set_enabled(conn, actor.user_id, on, now=now)
        await audit.record(conn, actor, audit.USER_UPDATED, f"user:{actor.user_id}",
                           client=client, digest=enabled)
    return enabled
