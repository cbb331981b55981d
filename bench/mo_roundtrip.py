"""MO round trip: simulator → gateway (a real `gateway run` process) → PostgreSQL → simulator.

Measures what the gateway-core issue asks for, with every MO durably
committed (the benchmark cluster keeps fsync on):
- MO/s acknowledged and MO/s answered at full speed,
- MO→MT latency p50/p95/p99 at full speed and at a fixed 1,000 MO/s,
- gateway, simulator and PostgreSQL CPU seconds per 1,000 MOs, counted until the
  replies' receipts are applied (the simulator sends them half a second after
  each reply), so each phase pays for its own receipts and only for those,
- the WAL PostgreSQL wrote per MO, a count of the rows and index entries
  written that does not drift with the machine's speed,
- the same for returning supporters: the full-speed phase's numbers text Y
  to confirm their opt-in, so each MO changes a contact that exists (the
  JOINs only ever create one), at full speed.

The simulator runs in this process, the gateway in its own, PostgreSQL in
its own: three processes sharing the machine's cores, as on a small box.
With `--workers N` the gateway is `gateway run --workers N`: its CPU is the
supervisor's and its N workers' summed, and the simulator hands MOs to the N
binds in turn. Prints one JSON document.
Usage: python bench/mo_roundtrip.py [--count N] [--rate R] [--workers N]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
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

from gateway.devdb import LocalPostgres
from gateway.logs import configure_logging
from gateway.smpp.simulator import SmscSimulator

ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = ROOT / ".bench"


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def tree_cpu_seconds(parent: int) -> float:
    """CPU of a process and its live children (PostgreSQL's backends, a supervisor's workers)."""
    total = cpu_seconds(parent)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == parent:
                total += cpu_seconds(int(stat.parent.name))
        except (OSError, IndexError):
            continue
    return total


def postgres_cpu_seconds(data_dir: Path) -> float:
    """CPU of the postmaster and its live children (backends, WAL writer, checkpointer)."""
    return tree_cpu_seconds(int((data_dir / "postmaster.pid").read_text().split()[0]))


def quantiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"p50_ms": 0.0, "p95_ms": 0.0, "p99_ms": 0.0}
    ordered = sorted(values)

    def q(p: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000, 2)

    return {"p50_ms": q(0.50), "p95_ms": q(0.95), "p99_ms": q(0.99)}


async def wal_position(probe: asyncpg.Connection) -> int:
    """PostgreSQL's WAL write position, in bytes (`probe`: one connection for the run, so
    that no connection's start is counted in a phase's CPU)."""
    position: int = await probe.fetchval(
        "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint")
    return position


async def run_phase(
    sim: SmscSimulator, gateway_pid: int, pg_dir: Path, probe: asyncpg.Connection, *,
    label: str, count: int,
    first_number: int, rate: float | None, window: int, text: str = "JOIN",
    replies_per_mo: int = 1,
) -> dict[str, Any]:
    numbers = [f"+1555{first_number + n:07d}" for n in range(count)]
    replies_before = len(sim.submitted)
    latencies_before = len(sim.reply_latencies)
    cpu_before = tree_cpu_seconds(gateway_pid)
    sim_cpu_before = time.process_time()
    pg_cpu_before = postgres_cpu_seconds(pg_dir)
    wal_before = await wal_position(probe)
    loop = asyncio.get_running_loop()
    started = loop.time()
    stats = await sim.inject_load(count, numbers, rate=rate, window=window, texts=[text])
    acked_at = loop.time()
    async with asyncio.timeout(120):
        await sim.wait_until(
            lambda: len(sim.submitted) - replies_before >= count * replies_per_mo)
    answered_at = loop.time()
    # The CPU is read once the replies' receipts are applied too (the gateway answers a
    # receipt after committing it): that work is part of an MO's cost, and left running
    # it would be counted in the next phase and delay its MOs.
    async with asyncio.timeout(120):
        await sim.wait_until(lambda: sim.receipts_pending == 0)
    settled_at = loop.time()
    cpu = tree_cpu_seconds(gateway_pid) - cpu_before
    sim_cpu = time.process_time() - sim_cpu_before
    pg_cpu = postgres_cpu_seconds(pg_dir) - pg_cpu_before
    wal = await wal_position(probe) - wal_before
    latencies = sim.reply_latencies[latencies_before:]
    return {
        "phase": label,
        "text": text,
        "mos": count,
        "acked": stats.acked,
        "window": window,
        "target_rate": rate,
        "mo_per_s_acked": round(stats.acked / (acked_at - started), 1),
        "mo_per_s_answered": round(count / (answered_at - started), 1),
        "mo_to_mt_latency": quantiles(latencies),
        "ack_latency": quantiles(stats.ack_latencies),
        "gateway_cpu_s_per_1000_mo": round(cpu / count * 1000, 3),
        "simulator_cpu_s_per_1000_mo": round(sim_cpu / count * 1000, 3),
        "postgres_cpu_s_per_1000_mo": round(pg_cpu / count * 1000, 3),
        # every row version and index entry written, and the pages written whole after a
        # checkpoint: a count of the database's work that does not drift with the machine
        "postgres_wal_bytes_per_mo": round(wal / count),
        "wall_s": round(answered_at - started, 2),
        "wall_s_to_last_receipt": round(settled_at - started, 2),
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    configure_logging("warning")  # stdout carries the JSON result only
    shutil.rmtree(BENCH_DIR / "pg", ignore_errors=True)
    cluster = LocalPostgres(BENCH_DIR / "pg", throwaway=False)  # fsync stays on
    url = cluster.start()
    sim = SmscSimulator(credentials={"gateway": "secret"}, receipt_delay=0.5)
    await sim.start()
    env = os.environ | {
        "DATABASE_URL": url,
        "GATEWAY_SMPP_PORT": str(sim.port),
        "GATEWAY_HTTP_PORT": "0",
        "GATEWAY_KEYWORDS": str(ROOT / "keywords.yaml"),
        "GATEWAY_SMPP_WINDOW": str(args.window),
        "GATEWAY_LOG_LEVEL": os.environ.get("BENCH_GATEWAY_LOG_LEVEL", "warning"),
    }
    show_logs = bool(os.environ.get("BENCH_GATEWAY_LOG_LEVEL"))
    gateway = subprocess.Popen(  # noqa: ASYNC220 - started once, before timing
        [sys.executable, "-m", "gateway.cli", "run", "--workers", str(args.workers)],
        env=env, cwd=ROOT,
        stdout=subprocess.DEVNULL, stderr=None if show_logs else subprocess.DEVNULL,
    )
    try:
        async with asyncio.timeout(120):
            await sim.wait_until(lambda: sim.bound_sessions >= args.workers)
        probe = await asyncpg.connect(url)
        phase = functools.partial(run_phase, sim, gateway.pid, cluster.data_dir, probe,
                                  window=args.window)
        await phase(label="warm-up", count=500, first_number=0, rate=None)
        full = await phase(label="full speed", count=args.count, first_number=1_000_000,
                           rate=None)
        fixed = await phase(label=f"fixed {args.rate:g} MO/s", count=int(args.rate * args.seconds),
                            first_number=2_000_000, rate=args.rate)
        # The full-speed phase's supporters confirm their opt-in: each Y changes a contact
        # that exists (and gets the confirmation and the profile dialog's first question).
        returning = await phase(label="returning supporters", count=min(args.returning, args.count),
                                first_number=1_000_000, rate=None, text="Y", replies_per_mo=2)
        await probe.close()
    finally:
        gateway.send_signal(signal.SIGTERM)
        try:
            gateway.wait(timeout=30)
        except subprocess.TimeoutExpired:
            gateway.kill()
        await sim.stop()
        cluster.stop()
    return {
        "benchmark": "mo_roundtrip",
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "machine": (
            f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}"
        ),
        "durability": "every MO committed (fsync on) before deliver_sm_resp",
        "workers": args.workers,
        "results": [full, fixed, returning],
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=20_000, help="MOs in the full-speed phase")
    parser.add_argument("--rate", type=float, default=1000.0, help="MO/s in the fixed-rate phase")
    parser.add_argument("--seconds", type=float, default=15.0, help="length of the fixed phase")
    parser.add_argument("--returning", type=int, default=10_000,
                        help="MOs of the returning phase (at most --count): Y from the "
                             "full-speed phase's numbers")
    parser.add_argument("--window", type=int, default=100, help="SMPP window, both directions")
    parser.add_argument("--workers", type=int, default=1,
                        help="gateway worker processes (gateway run --workers N)")
    started = time.monotonic()
    result = asyncio.run(main(parser.parse_args()))
    result["wall_s"] = round(time.monotonic() - started, 1)
    print(json.dumps(result, indent=2))
