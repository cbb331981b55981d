"""One contracted TPS shared by the gateway instances sending to one SMSC account."""

from __future__ import annotations

import asyncpg

from gateway.config import Settings
from gateway.smpp.simulator import SmscSimulator
from gateway.smpp.throttle import TokenBucket
from gateway.store import senders as senders_store
from tests.support.e2e import gateway_settings, running_gateway, stop_gateway, wait_for


async def test_two_instances_each_pace_at_half_the_cap_and_one_alone_at_all_of_it(
    settings: Settings, smsc: SmscSimulator,
) -> None:
    first = await running_gateway(
        gateway_settings(settings, smsc, smpp_tps=100.0, instance_name="gw-a"), smsc)
    assert first.client.tps == 100.0  # alone: the whole cap
    second = await running_gateway(
        gateway_settings(settings, smsc, smpp_tps=100.0, instance_name="gw-b"), smsc)
    try:
        assert second.client.tps == 50.0  # took its share before its first send

        async def first_slowed() -> bool:
            return first.client.tps == 50.0

        await wait_for(first_slowed, within=10)
    finally:
        await stop_gateway(second)

    async def first_alone_again() -> bool:
        return first.client.tps == 100.0

    try:
        await wait_for(first_alone_again, within=10)  # the leaver deleted its beat
    finally:
        await stop_gateway(first)


async def test_an_instance_that_stopped_beating_no_longer_counts(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO smpp_senders VALUES ('dead', now() - interval '10 seconds'),"
            " ('alive', now())")
        assert await senders_store.beat(conn, "me", live_within=3.0) == 2
        assert await senders_store.beat(conn, "me", live_within=30.0) == 3
        await senders_store.leave(conn, "alive")
        assert await senders_store.beat(conn, "me", live_within=3.0) == 1


def test_a_new_rate_paces_the_next_reservations_and_keeps_the_given_ones() -> None:
    bucket = TokenBucket(10.0, clock=lambda: 0.0)
    assert [bucket.reserve(0.0) for _ in range(3)] == [0.0, 0.1, 0.2]
    bucket.set_rate(5.0)
    assert [round(bucket.reserve(0.0), 6) for _ in range(2)] == [0.3, 0.5]
    bucket.set_rate(0.0)
    assert bucket.reserve(0.0) == 0.0
