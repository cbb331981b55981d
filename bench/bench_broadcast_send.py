"""Broadcast sending rate: a real `gateway run` process drains a broadcast to the simulator.

Measures MT/s submitted (counted at the simulator, which answers every
submit_sm and sends a receipt for each) with no TPS cap and with a cap, and
the gateway's peak RSS. Contacts are seeded with set-based SQL in a local
cluster (fsync on); their time zone is chosen so that it is mid-afternoon
there now, so quiet hours defer nothing.
Prints one JSON document. Usage: python bench/bench_broadcast_send.py [--count N] [--cap TPS]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from gateway.broadcast import control, service
from gateway.devdb import LocalPostgres
from gateway.engine import load_rules
from gateway.logs import configure_logging
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
FROM generate_series($3::int, $3::int + $4::int - 1) AS n
"""


def afternoon_zone(now: datetime) -> str:
    offset = 14 - now.hour
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_cpu_seconds(data_dir: Path) -> float:
    """CPU of the postmaster and its live children (backends, WAL writer, checkpointer)."""
    postmaster = int((data_dir / "postmaster.pid").read_text().split()[0])
    total = cpu_seconds(postmaster)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == postmaster:
                total += cpu_seconds(int(stat.parent.name))
        except (OSError, ValueError):
            continue
    return total


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):  # peak resident set size
            return int(line.split()[1]) / 1024
    return 0.0


async def phase(url: str, sim: SmscSimulator, pg_dir: Path, *, count: int, first: int,
                tps: float, window: int) -> dict[str, Any]:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(SEED, SHORTCODE, afternoon_zone(datetime.now(UTC)), first, count)
        broadcast_id = await service.create(
            conn, rules=load_rules(ROOT / "keywords.yaml"), program="rise",
            shortcode=SHORTCODE, where="", text="Rise Up: rally Saturday at noon.",
            created_by="bench", now=datetime.now(UTC))
    finally:
        await conn.close()
    env = os.environ | {
        "DATABASE_URL": url, "GATEWAY_SMPP_PORT": str(sim.port), "GATEWAY_HTTP_PORT": "0",
        "GATEWAY_KEYWORDS": str(ROOT / "keywords.yaml"), "GATEWAY_LOG_LEVEL": "warning",
        "GATEWAY_SMPP_WINDOW": str(window), "GATEWAY_SMPP_TPS": str(tps),
    }
    log_path = BENCH_DIR / "gateway-send.log"  # warnings and errors, for a failed run
    with log_path.open("wb") as log_file:
        gateway = subprocess.Popen(  # noqa: ASYNC220 - started once, before timing
            [sys.executable, "-m", "gateway.cli", "run", "--no-migrate"], env=env, cwd=ROOT,
            stdout=subprocess.DEVNULL, stderr=log_file,
        )
    try:
        async with asyncio.timeout(60):
            await sim.wait_for_receiver()
        before = len(sim.submitted)
        conn = await asyncpg.connect(url)
        try:
            await control.start(conn, broadcast_id)
        finally:
            await conn.close()
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(600):
            await sim.wait_until(lambda: len(sim.submitted) - before >= count // 10)
            started = loop.time()  # steady state: materialization under way, window full
            base = len(sim.submitted)
            cpu = (cpu_seconds(gateway.pid), time.process_time(), postgres_cpu_seconds(pg_dir))
            await sim.wait_until(lambda: len(sim.submitted) - before >= count * 9 // 10)
            elapsed = loop.time() - started  # the middle 80%: no start-up, no tail
            sent = len(sim.submitted) - base
            cpu = (cpu_seconds(gateway.pid) - cpu[0], time.process_time() - cpu[1],
                   postgres_cpu_seconds(pg_dir) - cpu[2])
            await sim.wait_until(lambda: len(sim.submitted) - before >= count)
        peak = rss_mb(gateway.pid)
    finally:
        gateway.send_signal(signal.SIGTERM)
        await asyncio.to_thread(gateway.wait, 30)
    return {"recipients": count, "window": window, "tps_cap": tps or None,
            "mt_per_s": round(sent / elapsed, 1),
            "within_cap_pct": round(100 * (sent / elapsed) / tps, 1) if tps else None,
            "gateway_peak_rss_mb": round(peak, 1),
            # CPU seconds per 1,000 MT over the same window; the simulator is this process
            "cpu_s_per_1000_mt": {name: round(used / sent * 1000, 3) for name, used in
                                  zip(("gateway", "simulator", "postgres"), cpu, strict=True)},
            "cores_busy": round(sum(cpu) / elapsed, 2)}


async def main(args: argparse.Namespace) -> dict[str, Any]:
    configure_logging("warning")
    shutil.rmtree(BENCH_DIR / "pg-send", ignore_errors=True)
    cluster = LocalPostgres(BENCH_DIR / "pg-send", throwaway=False)
    url = cluster.start()
    gc.set_threshold(10_000, 20, 20)  # the simulator's process, tuned like the gateway's
    sim = SmscSimulator(credentials={"gateway": "secret"}, receipt_delay=0.5,
                        answer_chunk=args.answer_chunk)
    await sim.start()
    try:
        conn = await asyncpg.connect(url)
        try:
            await apply_migrations(conn)
        finally:
            await conn.close()
        pg_dir = cluster.data_dir
        uncapped = await phase(url, sim, pg_dir, count=args.count, first=0, tps=0, window=100)
        results = [uncapped]
        if args.cap:
            results.append(await phase(url, sim, pg_dir, count=int(args.cap * 10),
                                       first=args.count, tps=args.cap, window=100))
    finally:
        await sim.stop()
        cluster.stop()
    return {"benchmark": "broadcast_send", "date": datetime.now(UTC).strftime("%Y-%m-%d"),
            "machine": f"{platform.machine()} {os.cpu_count()} cores, Python "
                       f"{platform.python_version()}",
            "results": results}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=30_000, help="recipients, uncapped phase")
    parser.add_argument("--answer-chunk", type=int, default=16,
                        help="the simulator writes its answers after every N PDUs of a read")
    parser.add_argument("--cap", type=float, default=500.0,
                        help="TPS cap of the second phase (0: skip it)")
    print(json.dumps(asyncio.run(main(parser.parse_args())), indent=2))
