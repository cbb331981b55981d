"""Outgoing webhooks: how fast events are emitted and delivered to a receiver on loopback.

Emits `--events` contact.opted_in events through the store's one-statement
emit, one event per transaction as an MO's transaction does; the statement is
timed, not the commit (the MO's own): the cost the MO path pays. Then runs
`--workers` delivery tasks (gateway/hooks/sender.py, `--batch` POSTs at once
each) against an aiohttp receiver on 127.0.0.1 that answers 200 and checks
the signature of every 100th request, until every event is delivered.
Also times the emit of a type nobody wants: with the statement (the database
filters it) and with a gateway's set of wanted types (no statement).
Reports deliveries per second, end to end (fan-out, claim, signed POST,
record). Local cluster, fsync on; the receiver shares the machine. Prints
one JSON document.
Usage: python bench/bench_webhook_delivery.py [--events N] [--workers N] [--batch N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from aiohttp import web

from gateway.devdb import LocalPostgres
from gateway.hooks import signature
from gateway.hooks.sender import DeliveryConfig, WebhookSender
from gateway.logs import configure_logging
from gateway.store import webhook_events, webhook_subscriptions
from gateway.store.db import create_pool
from gateway.store.migrate import apply_migrations
from gateway.store.webhook_events import CALL_ENDED, CONTACT_OPTED_IN, NewWebhookEvent, WantedTypes

ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = ROOT / ".bench" / "webhooks"
SECRET = signature.new_secret()


class Receiver:
    def __init__(self) -> None:
        self.ids: set[str] = set()
        self.requests = 0
        self.bad_signatures = 0
        self.done = asyncio.Event()
        self.expected = 0

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.requests += 1
        if self.requests % 100 == 1:
            try:
                signature.verify(SECRET, request.headers[signature.SIGNATURE_HEADER], body,
                                 now=time.time())
            except signature.SignatureError:
                self.bad_signatures += 1
        self.ids.add(request.headers[signature.EVENT_ID_HEADER])
        if len(self.ids) >= self.expected:
            self.done.set()
        return web.Response(text="ok")


async def emit(pool: asyncpg.Pool, events: int, event_type: str = CONTACT_OPTED_IN
               ) -> dict[str, Any]:
    timings = []
    now = datetime.now(UTC)
    async with pool.acquire() as conn:
        for n in range(events):
            async with conn.transaction():  # the commit is the MO's own: not timed
                started = time.perf_counter()
                await webhook_events.emit(conn, [NewWebhookEvent(
                    event_type, {"msisdn": f"+336{n:08d}", "program": "ensemble",
                                 "shortcode": "38200"}, now, f"+336{n:08d}")])
                timings.append(time.perf_counter() - started)
    timings.sort()
    return {"events": events,
            "emit_ms_median": round(statistics.median(timings) * 1000, 3),
            "emit_ms_p95": round(timings[int(len(timings) * 0.95)] * 1000, 3)}


async def emit_unwanted(url: str, events: int) -> dict[str, Any]:
    """An event type nobody wants: the statement the database filters (a pool without the
    set, as before), then no statement (a gateway's pool, its set read)."""
    plain = await create_pool(url, min_size=1, max_size=1)
    wanted = WantedTypes()
    carrying = await create_pool(url, min_size=1, max_size=1, init=wanted.attach)
    try:
        async with carrying.acquire() as conn:
            assert await wanted.read(conn)
        return {"statement": await emit(plain, events, CALL_ENDED),
                "skipped": await emit(carrying, events, CALL_ENDED)}
    finally:
        await plain.close()
        await carrying.close()


async def deliver(pool: asyncpg.Pool, receiver: Receiver, workers: int,
                  batch: int) -> dict[str, Any]:
    senders = [WebhookSender(pool, DeliveryConfig(owner=f"bench-{n}", batch_size=batch,
                                                  poll_seconds=0.05,
                                                  allow_private_networks=True))
               for n in range(workers)]
    started = time.perf_counter()
    tasks = [asyncio.create_task(s.run()) for s in senders]
    await asyncio.wait_for(receiver.done.wait(), 600)
    seconds = time.perf_counter() - started
    for sender in senders:
        await sender.stop()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return {"workers": workers, "batch": batch, "seconds": round(seconds, 2),
            "deliveries_per_s": round(receiver.expected / seconds, 1),
            "requests": receiver.requests, "distinct_events": len(receiver.ids),
            "bad_signatures": receiver.bad_signatures}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--batch", type=int, default=50)
    args = parser.parse_args()
    configure_logging("WARNING")
    shutil.rmtree(BENCH_DIR, ignore_errors=True)
    cluster = LocalPostgres(BENCH_DIR / "pg", throwaway=False)
    url = cluster.start()
    receiver = Receiver()
    receiver.expected = args.events
    app = web.Application()
    app.router.add_post("/hooks", receiver.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        pool = await asyncpg.create_pool(url, min_size=2, max_size=4 + 2 * args.workers)
        try:
            await apply_migrations(pool)
            async with pool.acquire() as conn:
                await conn.execute("INSERT INTO webhook_subscriptions (url, event_types, secret) "
                                   "VALUES ($1, $2, $3)", f"http://127.0.0.1:{port}/hooks",
                                   [CONTACT_OPTED_IN], SECRET)
                unwanted = await webhook_events.emit(conn, [NewWebhookEvent(
                    "gift.refunded", {}, datetime.now(UTC))])
                assert unwanted == 0 and await webhook_subscriptions.list_all(conn)
            emitted = await emit(pool, args.events)
            unwanted_cost = await emit_unwanted(url, args.events)
            delivered = await deliver(pool, receiver, args.workers, args.batch)
        finally:
            await pool.close()
    finally:
        await runner.cleanup()
        cluster.stop()
        shutil.rmtree(BENCH_DIR, ignore_errors=True)
    print(json.dumps({"bench": "webhook_delivery", "emit": emitted,
                      "emit_unwanted": unwanted_cost, "deliver": delivered}, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
