"""Reply latency while a broadcast starts: a real `gateway run`, replies racing a fresh broadcast.

The gateway runs for a while with a trickle of MOs (so its sender's claim
statement is prepared and its plan cached while the outbox is small, as in
production), then a broadcast to `--count` contacts starts under a TPS cap.
During the next `--seconds`, fresh numbers text JOIN at `--rate` per second;
each reply must overtake the broadcast (replies go first). Reported:
MO→MT latency of those replies, and the broadcast's MT/s second by second
from its start (materialization included). Autovacuum keeps its defaults,
so whatever statistics the outbox has come from the gateway or from it.
Prints one JSON document.
Usage: python bench/bench_reply_during_broadcast.py [--count N] [--cap TPS] [--seconds S]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from gateway.broadcast import control, service
from gateway.devdb import LocalPostgres
from gateway.engine import load_rules
from gateway.logs import configure_logging
from gateway.smpp.chat import number_key
from gateway.smpp.simulator import SmscSimulator
from gateway.store.migrate import apply_migrations

ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = ROOT / ".bench"
SHORTCODE = "12345"
SEED = """
INSERT INTO contacts (msisdn, shortcode, state, zip, region, country, timezones, geo_source)
SELECT '+1555' || lpad(n::text, 7, '0'), $1,
       '{"v": 1, "subs": {"rise": {"status": "subscribed"}}, "profile": {}}'::jsonb,
       '10001', 'NY', 'US', ARRAY[$2], 'zip'
FROM generate_series(1, $3::int) AS n
"""
WARM_UP_S = 10.0


def afternoon_zone(now: datetime) -> str:
    offset = 14 - now.hour
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3) if ordered else 0.0


async def trickle(sim: SmscSimulator, numbers: list[str], rate: float,
                  sent_at: dict[str, float]) -> None:
    """One JOIN per number, `rate` a second, without waiting for the answers."""
    loop = asyncio.get_running_loop()
    tasks = []
    for number in numbers:
        sent_at[number_key(number)] = loop.time()
        tasks.append(asyncio.create_task(sim.inject_mo(number, SHORTCODE, "JOIN")))
        await asyncio.sleep(1 / rate)
    await asyncio.gather(*tasks)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    configure_logging("warning")
    shutil.rmtree(BENCH_DIR / "pg-replies", ignore_errors=True)
    cluster = LocalPostgres(BENCH_DIR / "pg-replies", throwaway=False)
    url = cluster.start()
    sim = SmscSimulator(credentials={"gateway": "secret"}, receipt_delay=0.5)
    await sim.start()
    gateway: subprocess.Popen[bytes] | None = None
    try:
        conn = await asyncpg.connect(url)
        try:
            await apply_migrations(conn)
            await conn.execute(SEED, SHORTCODE, afternoon_zone(datetime.now(UTC)), args.count)
            await conn.execute("ANALYZE contacts")
            broadcast_id = await service.create(
                conn, rules=load_rules(ROOT / "keywords.yaml"), program="rise",
                shortcode=SHORTCODE, where="", text="Rise Up: rally Saturday at noon.",
                created_by="bench", now=datetime.now(UTC))
        finally:
            await conn.close()
        env = os.environ | {
            "DATABASE_URL": url, "GATEWAY_SMPP_PORT": str(sim.port), "GATEWAY_HTTP_PORT": "0",
            "GATEWAY_KEYWORDS": str(ROOT / "keywords.yaml"), "GATEWAY_LOG_LEVEL": "warning",
            "GATEWAY_SMPP_TPS": str(args.cap),
        }
        with (BENCH_DIR / "gateway-replies.log").open("wb") as log_file:
            gateway = subprocess.Popen(  # noqa: ASYNC220 - started once, before timing
                [sys.executable, "-m", "gateway.cli", "run", "--no-migrate"], env=env,
                cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log_file)
        async with asyncio.timeout(60):
            await sim.wait_for_receiver()
        loop = asyncio.get_running_loop()
        sent_at: dict[str, float] = {}
        warm = [f"+1666{n:07d}" for n in range(int(WARM_UP_S * 20))]
        await trickle(sim, warm, 20, sent_at)  # claims prepared on a small outbox
        await asyncio.sleep(1)
        conn = await asyncpg.connect(url)
        try:
            started = loop.time()
            await control.start(conn, broadcast_id)
        finally:
            await conn.close()
        probes = [f"+1777{n:07d}" for n in range(int(args.seconds * args.rate))]
        probe_keys = {number_key(n) for n in probes}
        await trickle(sim, probes, args.rate, sent_at)
        async with asyncio.timeout(120):  # the last probes' replies
            await sim.wait_until(lambda: probe_keys <= {number_key(r.destination)
                                                        for r in sim.submitted})
        replies = {number_key(r.destination): r.accepted_at for r in sim.submitted
                   if number_key(r.destination) in probe_keys}
        latencies = [replies[k] - sent_at[k] for k in probe_keys]
        per_second = Counter(int(r.accepted_at - started) for r in sim.submitted
                             if r.accepted_at >= started and number_key(r.destination)[:4]
                             == "1555")
        seconds = int(args.seconds)
        return {
            "benchmark": "reply_during_broadcast",
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M"),
            "machine": f"{platform.machine()} {os.cpu_count()} cores, Python "
                       f"{platform.python_version()}",
            "recipients": args.count, "tps_cap": args.cap, "probes": len(probes),
            "reply_latency_s": {"p50": quantile(latencies, 0.5),
                                "p95": quantile(latencies, 0.95),
                                "max": round(max(latencies), 3)},
            "broadcast_mt_per_s": [per_second.get(s, 0) for s in range(seconds)],
        }
    finally:
        if gateway is not None:
            gateway.send_signal(signal.SIGTERM)
            await asyncio.to_thread(gateway.wait, 30)
        await sim.stop()
        cluster.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=100_000, help="broadcast recipients")
    parser.add_argument("--cap", type=float, default=500.0, help="TPS cap")
    parser.add_argument("--seconds", type=float, default=40.0, help="probing window")
    parser.add_argument("--rate", type=float, default=5.0, help="probe MOs per second")
    print(json.dumps(asyncio.run(run(parser.parse_args())), indent=2))
