"""A throwaway PostgreSQL cluster for one benchmark, and the report every benchmark prints.

Why one place: each benchmark starts its own cluster under `.bench/` (never
the developer's database), runs, stops it and removes its files, then
prints JSON with the date, the machine and the durability it ran with, so
that BENCHMARKS.md rows can say what they were measured on. The leading
underscore keeps `make bench` from running this file as a benchmark.
"""

from __future__ import annotations

import os
import platform
import shutil
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from gateway.devdb import LocalPostgres

ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = ROOT / ".bench"
T = TypeVar("T")


async def on_throwaway_cluster(name: str, fast: bool,
                               run: Callable[[str], Awaitable[T]]) -> T:
    """`run(url)` against a fresh cluster in `.bench/<name>`, removed afterwards.

    `fast`: fsync off (the cluster is thrown away anyway); the default keeps
    PostgreSQL's durable settings, as production runs them.
    """
    data_dir = BENCH_DIR / name
    shutil.rmtree(data_dir, ignore_errors=True)
    cluster = LocalPostgres(data_dir, throwaway=fast)
    url = cluster.start()
    try:
        return await run(url)
    finally:
        cluster.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


def machine() -> str:
    return f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}"


def report(benchmark: str, fast: bool, results: Any, **extra: Any) -> dict[str, Any]:
    """The JSON a benchmark prints: what ran, when, where, how durable, and its results."""
    return {
        "benchmark": benchmark,
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "machine": machine(),
        "durability": "fsync off (--fast)" if fast else "fsync on (PostgreSQL defaults)",
        **extra,
        "results": results,
    }
