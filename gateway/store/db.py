"""Connection pool creation with an error an operator can act on.

asyncpg's own connection errors name neither the target nor the setting to
fix, and a DSN echoed verbatim would leak its password into logs. Here every
failure becomes one `DatabaseUnavailable` naming host:port/db and
DATABASE_URL, with the password scrubbed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any
from urllib.parse import unquote, urlsplit

import asyncpg

from gateway.config import Settings

CONNECT_TIMEOUT_S = 5.0
# Prepared statements kept per connection (asyncpg's default is 100). The gateway
# runs a few hundred distinct statements over one pool; with 100 the hot ones
# (the claim, the lane batch's inserts) were evicted by the others and prepared
# again: a Parse and a plan on the server and a type introspection here each
# time. 2,000 holds them all (docs/performance.md has the measurement).
STATEMENT_CACHE_SIZE = 2000


class DatabaseUnavailable(Exception):
    """PostgreSQL could not be reached or refused us; the message says where and what to check."""


def describe_target(url: str) -> str:
    """'host:port/db' for messages; never includes the user's password."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "localhost"
        port = parts.port or 5432
    except ValueError:
        return "<unparsable DATABASE_URL>"
    database = unquote(parts.path.lstrip("/")) or parts.username or "postgres"
    return f"{host}:{port}/{database}"


class GatewayConnection(asyncpg.Connection):  # type: ignore[misc]
    """A pool connection that can carry the gateway's shared, process-local state.

    `webhook_types`: the event types subscriptions want (store/webhook_events.py
    `WantedTypes`), set by the pool's `init`; absent on other pools.
    """

    __slots__ = ("webhook_types",)


async def create_pool(
    target: Settings | str,
    *,
    min_size: int = 1,
    max_size: int = 10,
    connect_timeout: float = CONNECT_TIMEOUT_S,
    init: Callable[[asyncpg.Connection], Awaitable[None]] | None = None,
) -> asyncpg.Pool:
    """Open a pool and prove it works (asyncpg connects `min_size` connections eagerly).

    `init` runs on each new connection (a `GatewayConnection`)."""
    url = target.database_url if isinstance(target, Settings) else target
    server_settings = (
        {"application_name": target.instance_name} if isinstance(target, Settings) else {}
    )
    password = _password_of(url)
    try:
        pool = await asyncpg.create_pool(
            dsn=url,
            min_size=min_size,
            max_size=max_size,
            timeout=connect_timeout,
            server_settings=server_settings,
            reset=_keep_session,
            connection_class=GatewayConnection,
            init=init,
            statement_cache_size=STATEMENT_CACHE_SIZE,
        )
    except (
        OSError,
        TimeoutError,
        asyncpg.PostgresError,
        asyncpg.InterfaceError,
        ValueError,
    ) as err:
        reason = _reason(err, connect_timeout)
        if password:
            reason = reason.replace(password, "<hidden>")
        raise DatabaseUnavailable(
            f"cannot connect to PostgreSQL at {describe_target(url)}: {reason}; check DATABASE_URL"
        ) from None
    assert pool is not None
    return pool


async def ping(pool: asyncpg.Pool, *, within: float = 1.0) -> bool:
    """True when the database answers a trivial query within `within` seconds."""
    try:
        async with asyncio.timeout(within):
            async with pool.acquire() as conn:
                return bool(await conn.fetchval("SELECT 1") == 1)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
        return False


def _password_of(url: str) -> str | None:
    try:
        password = urlsplit(url).password
    except ValueError:
        return None
    return unquote(password) if password else None


def _reason(err: BaseException, timeout: float) -> str:
    if isinstance(err, TimeoutError):
        return f"no answer within {timeout:g} s"
    text = str(err) or type(err).__name__
    return text.splitlines()[0]


async def _keep_session(_: asyncpg.Connection) -> None:
    """Release without asyncpg's default reset query (one round trip per release).

    Our code sets no session state (no LISTEN, session settings or session
    advisory locks held across a release); asyncpg still rolls back any open
    transaction before calling this. On the hot path every lane batch and
    every outbox batch releases a connection, so the saved round trip counts.
    """


def columns(rows: Sequence[Any], *names: str) -> list[list[Any]]:
    """Rows (dataclasses) to one list per column, for `INSERT ... SELECT FROM unnest($1, $2, ...)`.

    Why unnest arrays: a batch of any size is one statement and one round
    trip, with every value still a bound parameter.
    """
    return [[getattr(row, name) for row in rows] for name in names]


def affected(status: str) -> int:
    """The rows an INSERT, UPDATE or DELETE touched, from its command tag ("UPDATE 3")."""
    return int(status.rsplit(" ", 1)[-1])
