"""Broadcast guarantees end to end: real PostgreSQL, the SMSC simulator, a real gateway.

Counted at the simulator (submit_sm accepted per number), never in our own tables.

Quiet hours are kept out of the way honestly rather than switched off: every
contact lives in a fixed-offset zone (Etc/GMT-X) chosen at test time so that
it is early afternoon there now; the gateway's ordinary policy and clock then
allow sending for several hours.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from gateway.app import Gateway
from gateway.broadcast import control, service
from gateway.broadcast.policy import QuietHoursPolicy
from gateway.config import Settings
from gateway.engine import load_rules
from gateway.smpp.simulator import Faults, SmscSimulator
from gateway.store import broadcasts as broadcast_store
from tests.support.broadcasts import afternoon_zone
from tests.support.e2e import (
    SHORTCODE,
    Phone,
    gateway_settings,
    running_gateway,
    start_gateway_process,
    stop_gateway,
    wait_for,
)

ROOT = Path(__file__).resolve().parents[1]
COUNT = 300
NUMBERS = [f"+1212555{n:04d}" for n in range(COUNT)]
OPTED_OUT = "+12125559998"
WINDOW = 10  # submits outstanding at the SMSC at most
TEXT = "Hi {first_name|friend}, Rise Up rallies Saturday at noon."


async def seed(conn: asyncpg.Connection, numbers: list[str]) -> None:
    zone = afternoon_zone(datetime.now(UTC))
    subscribed = json.dumps({"v": 1, "subs": {"rise": {"status": "subscribed"}},
                             "profile": {"first_name": "Sam"}})
    opted_out = json.dumps({"v": 1, "subs": {"rise": {"status": "opted_out"}}, "profile": {}})
    await conn.executemany(
        """INSERT INTO contacts (msisdn, shortcode, opted_out, state, zip, region, country,
                                 timezones, geo_source)
           VALUES ($1, $2, $3, $4::jsonb, '10001', 'NY', 'US', $5, 'zip')""",
        [(m, SHORTCODE, False, subscribed, [zone]) for m in numbers]
        + [(OPTED_OUT, SHORTCODE, True, opted_out, [zone])],
    )


async def new_broadcast(conn: asyncpg.Connection) -> int:
    return await service.create(
        conn, rules=load_rules(ROOT / "keywords.yaml"), program="rise", shortcode=SHORTCODE,
        where="", text=TEXT, created_by="e2e", now=datetime.now(UTC),
    )


def per_number(smsc: SmscSimulator) -> Counter[str]:
    return Counter("+" + d.lstrip("+") for d in smsc.destination_counts().elements())


async def broadcast_status(pool: asyncpg.Pool, broadcast_id: int) -> str | None:
    async with pool.acquire() as conn:
        return await broadcast_store.get_status(conn, broadcast_id)


async def send_to_all(pool: asyncpg.Pool, smsc: SmscSimulator) -> int:
    async with pool.acquire() as conn:
        await seed(conn, NUMBERS)
        broadcast_id = await new_broadcast(conn)
        await control.start(conn, broadcast_id)

    async def finished() -> bool:
        return await broadcast_status(pool, broadcast_id) == "done"

    await wait_for(finished, within=60)
    return broadcast_id


async def test_every_eligible_recipient_gets_exactly_one_copy(
    pool: asyncpg.Pool, smsc: SmscSimulator, gateway: Gateway
) -> None:
    broadcast_id = await send_to_all(pool, smsc)
    counts = per_number(smsc)
    assert set(counts) == set(NUMBERS)  # nobody missing, the opted-out number not there
    assert set(counts.values()) == {1} and smsc.duplicates() == {}
    assert smsc.texts_to(NUMBERS[0]) == ["Hi Sam, Rise Up rallies Saturday at noon."]
    async with pool.acquire() as conn:
        progress = await broadcast_store.get_progress(conn, broadcast_id)
    assert progress is not None
    assert (progress["recipients"], progress["sent"], progress["queued"]) == (COUNT, COUNT, 0)


async def test_smsc_disconnect_mid_broadcast_resumes_without_duplicates(
    pool: asyncpg.Pool, smsc: SmscSimulator, gateway: Gateway
) -> None:
    drops_before = smsc.drops
    smsc.faults = Faults(drop_after_pdus=60, drop_times=drops_before + 3)
    await send_to_all(pool, smsc)
    assert smsc.drops - drops_before >= 2  # the binds really were cut mid-broadcast
    counts = per_number(smsc)
    assert set(counts) == set(NUMBERS)
    assert smsc.duplicates() == {}, "a message cut off by the disconnect was sent twice"


async def test_stop_while_queued_means_the_broadcast_never_reaches_them(
    pool: asyncpg.Pool, smsc: SmscSimulator, gateway: Gateway
) -> None:
    gateway.broadcasts.policy = QuietHoursPolicy()
    quitter = Phone(smsc, NUMBERS[7])
    async with pool.acquire() as conn:
        await seed(conn, NUMBERS[:20])
        broadcast_id = await new_broadcast(conn)
        made = await service.materialize(
            conn, broadcast_id, policy=QuietHoursPolicy(), variables={"program": "rise"},
            clock=lambda: datetime.now(UTC),
        )
    assert made.recipients == 20  # queued for them all, the quitter included
    confirmation = await quitter.text("STOP", expect=1)
    assert "opted out" in confirmation[0].lower() or "unsubscribed" in confirmation[0].lower()
    async with pool.acquire() as conn:
        await control.start(conn, broadcast_id)

    async def finished() -> bool:
        return await broadcast_status(pool, broadcast_id) == "done"

    await wait_for(finished, within=60)
    counts = per_number(smsc)
    assert quitter.received == confirmation  # nothing after STOP
    assert {n for n in NUMBERS[:20] if n != quitter.msisdn} <= set(counts)
    async with pool.acquire() as conn:
        progress = await broadcast_store.get_progress(conn, broadcast_id)
    assert progress is not None and (progress["suppressed"], progress["sent"]) == (1, 19)


def start_sending_gateway(db_url: str, smsc_port: int) -> subprocess.Popen[bytes]:
    return start_gateway_process(
        db_url, smsc_port,
        GATEWAY_SMPP_TPS="200",  # ~1.5 s for the broadcast: room to kill it midway
        GATEWAY_SMPP_WINDOW=str(WINDOW),
    )


async def test_kill_9_mid_broadcast_then_restart_sends_each_recipient_exactly_one_copy(
    db_url: str, pool: asyncpg.Pool, patient_smsc: SmscSimulator
) -> None:
    """kill -9 mid-broadcast, restart: every eligible recipient gets exactly one copy.

    The rows the dead process had leased ('sending') may or may not have
    reached the SMSC: some submit_sm were taken whose resp the process never
    read. The restarted gateway holds them as unsure; the SMSC delivers the
    receipts of the copies it took after the rebind, and those settle their
    rows instead of a second send. Counted at the simulator.
    """
    smsc = patient_smsc
    async with pool.acquire() as conn:
        await seed(conn, NUMBERS)
        broadcast_id = await new_broadcast(conn)
        await control.start(conn, broadcast_id)
    process = start_sending_gateway(db_url, smsc.port)
    try:
        async with asyncio.timeout(60):
            await smsc.wait_until(lambda: len(smsc.submitted) >= COUNT // 3)
        process.send_signal(signal.SIGKILL)
        await asyncio.to_thread(process.wait, 10)
        sent_before_kill = len(smsc.submitted)
        async with pool.acquire() as conn:
            in_flight = await conn.fetchval(
                "SELECT count(*) FROM outbound WHERE broadcast_id = $1 AND status = 'sending'",
                broadcast_id,
            )
            recorded = await conn.fetchval(
                "SELECT count(*) FROM outbound WHERE broadcast_id = $1 AND status <> 'queued' "
                "AND status <> 'sending'", broadcast_id)
        assert sent_before_kill < COUNT  # the kill really was mid-broadcast

        process = start_sending_gateway(db_url, smsc.port)

        async def finished() -> bool:
            return await broadcast_status(pool, broadcast_id) == "done"

        await wait_for(finished, within=90)
    finally:
        process.kill()
        await asyncio.to_thread(process.wait, 10)
    counts = per_number(smsc)
    assert set(counts) == set(NUMBERS), "a recipient was lost"
    assert smsc.duplicates() == {}, "a recipient got two copies"
    taken_unheard = sent_before_kill - recorded  # taken by the SMSC, resp never recorded
    async with pool.acquire() as conn:
        settled = await conn.fetchval(
            "SELECT count(*) FROM outbound WHERE broadcast_id = $1 AND last_error LIKE 'settled%'",
            broadcast_id)
    assert settled == taken_unheard, (settled, taken_unheard)
    print(f"kill -9: {sent_before_kill} sent before the kill, {in_flight} leased, "
          f"{taken_unheard} taken but unheard, settled by their receipts")


async def test_a_lost_submit_resp_is_settled_by_its_receipt_not_sent_again(
    pool: asyncpg.Pool, smsc: SmscSimulator, settings: Settings
) -> None:
    """The SMSC takes a message but its resp never comes: the receipt settles it.

    Without the receipt match, each such row would be sent again when its
    submit_sm times out, and its recipient would get two copies.
    """
    smsc.faults = Faults(lost_resp_every=25)
    gw = await running_gateway(gateway_settings(settings, smsc, smpp_submit_timeout=0.5), smsc)
    try:
        await send_to_all(pool, smsc)

        async def all_delivered() -> bool:  # the parked receipts applied to the settled rows
            async with pool.acquire() as conn:
                delivered: int = await conn.fetchval(
                    "SELECT count(*) FROM outbound WHERE status = 'delivered'")
            return delivered == COUNT

        await wait_for(all_delivered, within=30)
    finally:
        await stop_gateway(gw)
    assert smsc.lost_resps >= COUNT // 25 - 1
    assert smsc.duplicates() == {}
    assert set(per_number(smsc).values()) == {1}
    async with pool.acquire() as conn:
        settled = await conn.fetchval(
            "SELECT count(*) FROM outbound WHERE last_error LIKE 'settled%'")
    assert settled == smsc.lost_resps


async def test_a_reply_does_not_queue_behind_a_broadcast_held_back_by_the_tps_cap(
    pool: asyncpg.Pool, smsc: SmscSimulator, settings: Settings
) -> None:
    """Under a TPS cap, broadcast rows wait their turn; a reply must not wait behind them.

    Counted, not timed: how many broadcast messages were submitted between the
    moment the answer entered the outbox and the moment it was submitted
    (both stamped by PostgreSQL's clock, so a slow MO transaction on a busy
    machine does not count against the sender). The sender may hold a
    fraction of a second of broadcast traffic, never seconds of it.
    """
    tps = 100
    gw = await running_gateway(gateway_settings(settings, smsc, smpp_tps=float(tps)), smsc)
    try:
        async with pool.acquire() as conn:
            await seed(conn, NUMBERS)
            await control.start(conn, await new_broadcast(conn))
        await smsc.wait_until(lambda: len(smsc.submitted) >= 50)  # the cap is the bottleneck
        supporter = Phone(smsc, "+12125559990")  # not a recipient
        [answer] = await supporter.text("HELP", expect=1)
        async with pool.acquire() as conn:
            ahead = await conn.fetchval(
                "SELECT count(*) FROM outbound b, outbound r WHERE r.msisdn = $1"
                " AND b.msisdn <> $1 AND b.submitted_at > r.created_at"
                " AND b.submitted_at < r.submitted_at", supporter.msisdn)
    finally:
        await stop_gateway(gw)
    assert answer
    print(f"{ahead} broadcast messages went between the answer's queuing and its submission")
    assert ahead <= tps // 4, f"the reply waited behind {ahead} broadcast messages"
