"""The emit costs nothing when nobody wants the event type (store/webhook_events.py
`WantedTypes`, gateway/hooks/wanted.py): no statement at all, and a subscription made on
another gateway is written for from the moment its notice reaches this one."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import asyncpg

from gateway.app import Gateway
from gateway.store import webhook_events, webhook_subscriptions
from gateway.store.webhook_events import NewWebhookEvent, WantedTypes

OPTED_IN = NewWebhookEvent("contact.opted_in", {"msisdn": "+33600000501"},
                           datetime.now(UTC), "+33600000501")


async def _until(check: object) -> None:
    async with asyncio.timeout(10):
        while not check():  # type: ignore[operator]  # noqa: ASYNC110 - the listener's task
            await asyncio.sleep(0.01)


async def _statements(conn: asyncpg.Connection, events: list[NewWebhookEvent]) -> list[str]:
    """The queries `emit` sent on `conn` (asyncpg's own type lookups aside)."""
    sent: list[str] = []
    with conn.query_logger(lambda record: sent.append(record.query)):
        await webhook_events.emit(conn, events)
        await conn.fetchval("SELECT 'done'")  # asyncpg calls loggers soon after, not at once
        await asyncio.sleep(0)
    sent.remove("SELECT 'done'")
    return [q for q in sent if "pg_catalog" not in q and "set_config('jit'" not in q
            and "current_setting('jit')" not in q]


async def _written(pool: asyncpg.Pool) -> int:
    async with pool.acquire() as conn:
        return int(await conn.fetchval("SELECT count(*) FROM webhook_events"))


async def test_nobody_subscribed_costs_no_statement(gateway: Gateway) -> None:
    wanted = gateway.webhook_types.wanted
    await _until(lambda: wanted.fresh)
    async with gateway.pool.acquire() as conn:
        assert await _statements(conn, [OPTED_IN]) == []


async def test_a_subscription_made_elsewhere_is_written_for_once_its_notice_arrives(
        gateway: Gateway, pool: asyncpg.Pool) -> None:
    wanted = gateway.webhook_types.wanted
    await _until(lambda: wanted.fresh)
    before = wanted.generation
    async with pool.acquire() as other:  # another gateway's connection: no set on it
        await webhook_subscriptions.insert(
            other, url="https://crm.example.org/hooks", description="",
            event_types=("contact.opted_in",), secret="s" * 40, created_by=None)
    await _until(lambda: wanted.generation > before)  # the notice has arrived here
    async with gateway.pool.acquire() as conn:  # stale or re-read: never skipped
        assert len(await _statements(conn, [OPTED_IN])) == 1
    assert await _written(gateway.pool) == 1
    await _until(lambda: wanted.fresh and "contact.opted_in" in wanted.types)
    async with gateway.pool.acquire() as conn:
        other_type = NewWebhookEvent("call.ended", {}, datetime.now(UTC))
        assert await _statements(conn, [other_type]) == []  # still nobody wants that one
        assert len(await _statements(conn, [OPTED_IN, other_type])) == 1
    assert await _written(gateway.pool) == 2

    async with pool.acquire() as other:  # turned off: the set empties again
        await conn_disable(other)
    await _until(lambda: wanted.fresh and not wanted.types)
    async with gateway.pool.acquire() as conn:
        assert await _statements(conn, [OPTED_IN]) == []


async def conn_disable(conn: asyncpg.Connection) -> None:
    [sub] = await webhook_subscriptions.list_all(conn)
    await webhook_subscriptions.set_enabled(conn, sub.id, enabled=False,
                                            now=datetime.now(UTC), reason="test")


async def test_a_read_overtaken_by_a_notice_is_not_trusted(pool: asyncpg.Pool) -> None:
    wanted = WantedTypes()
    async with pool.acquire() as conn:
        assert await wanted.read(conn) and wanted.fresh and wanted.may_skip(["gift.paid"])
        wanted.mark_stale()
        assert not wanted.may_skip(["gift.paid"])
        reading = asyncio.ensure_future(wanted.read(conn))
        await asyncio.sleep(0)  # the read has sent its query and waits for the answer
        wanted.mark_stale()  # a notice while the read is under way
        assert await reading is False and not wanted.fresh


async def test_a_connection_without_the_set_always_asks_the_database(
        pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        assert len(await _statements(conn, [OPTED_IN])) == 1
    assert await _written(pool) == 0  # the database's own check: nobody wants it


async def test_a_lost_listener_trusts_the_database_until_it_listens_again(
        gateway: Gateway, pool: asyncpg.Pool) -> None:
    wanted = gateway.webhook_types.wanted
    await _until(lambda: wanted.fresh)
    async with pool.acquire() as conn:  # the database drops the listening session
        cut = await conn.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = $1", f"{gateway.settings.instance_name}-webhook-types")
    assert cut == 1
    await _until(lambda: not wanted.fresh)  # a notice may be missed meanwhile
    async with gateway.pool.acquire() as conn:
        assert len(await _statements(conn, [OPTED_IN])) == 1
    await _until(lambda: wanted.fresh)  # listening again, and read again
    async with gateway.pool.acquire() as conn:
        assert await _statements(conn, [OPTED_IN]) == []
