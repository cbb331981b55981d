"""Running the `gateway` command as an operator does: in a subprocess, with a clean environment.

Why a subprocess: a command that opens the database calls `asyncio.run`, which
would fight pytest-asyncio's session event loop inside the test process.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# The checkout first, then whatever the caller had (an uninstalled tree still imports).
PYTHONPATH = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
CLEAN_ENV = {
    key: value
    for key, value in os.environ.items()
    if key not in {"DATABASE_URL", "GATEWAY_CONFIG"} and not key.startswith("GATEWAY_")
}


async def broadcast_cli(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`gateway broadcast ARGS` on the test's database, its output captured."""
    env = {**CLEAN_ENV, "PYTHONPATH": PYTHONPATH, "DATABASE_URL": db_url,
           "GATEWAY_KEYWORDS": str(ROOT / "keywords.yaml"), "GATEWAY_LOG_LEVEL": "warning"}
    return await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "gateway.cli", "broadcast", *args],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=60, check=False,
    )
