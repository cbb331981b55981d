"""Shared pieces of the end-to-end tests: a simulator, a running gateway, a phone.

Why a module rather than copies in each test file: every end-to-end test
starts the same two real peers (our SMSC simulator on TCP and a gateway on
the test's own database), and waits for rows that another task commits.
The `smsc` and `gateway` fixtures themselves are in conftest.py.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import yaml

from gateway.app import Gateway, open_gateway
from gateway.clock import Clock, utc_now
from gateway.config import Settings
from gateway.smpp.constants import CommandStatus
from gateway.smpp.simulator import SmscSimulator

ROOT = Path(__file__).resolve().parents[2]
SHORTCODE = "12345"


def gateway_settings(settings: Settings, smsc: SmscSimulator, **changes: object) -> Settings:
    """Test settings pointed at the simulator, with fast reconnects and short lingers."""
    return settings.model_copy(
        update={
            "smpp_port": smsc.port,
            "smpp_reconnect_min": 0.05,
            "smpp_reconnect_max": 0.2,
            "smpp_enquire_link_interval": 5.0,
            "ingest_linger_ms": 1.0,
            **changes,
        }
    )


async def running_gateway(settings: Settings, smsc: SmscSimulator, *,
                          clock: Clock = utc_now) -> Gateway:
    """A started gateway, bound to `smsc`; `clock`: its "now" (tests/support/clock.py)."""
    gw = await open_gateway(settings, migrate=False, clock=clock)
    await gw.start()
    assert await gw.client.wait_bound(timeout=10)
    await smsc.wait_for_receiver()
    return gw


async def stop_gateway(gw: Gateway) -> None:
    await gw.stop()
    await gw.pool.close()


async def wait_for(predicate: Callable[[], Awaitable[bool]], *, within: float = 20.0) -> None:
    """Poll until the predicate holds (rows change in another task's commits)."""
    async with asyncio.timeout(within):
        while not await predicate():  # noqa: ASYNC110 - the condition lives in PostgreSQL
            await asyncio.sleep(0.02)


async def outbox_drained(pool: asyncpg.Pool, *, within: float = 20.0) -> None:
    """Wait until no outbound row is queued or being sent: all there is has gone out.

    The check for "nothing more is sent": every reply is written in its MO's
    transaction, so once the MOs are acknowledged and no row is left waiting,
    what the SMSC has received is all it ever will (a row that failed for good
    is never claimed again). A wait of a few hundred milliseconds proved less
    and cost more.
    """

    async def drained() -> bool:
        async with pool.acquire() as conn:
            left: int = await conn.fetchval(
                "SELECT count(*) FROM outbound WHERE status IN ('queued', 'sending')")
        return left == 0

    await wait_for(drained, within=within)


def keywords_file(directory: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    """The shipped keywords.yaml with one change, written where the test can reload it."""
    doc = yaml.safe_load((ROOT / "keywords.yaml").read_text(encoding="utf-8"))
    change(doc)
    path = directory / "keywords.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


class Phone:
    """One supporter's handset: text the short code, read what came back."""

    def __init__(self, smsc: SmscSimulator, msisdn: str) -> None:
        self.smsc = smsc
        self.msisdn = msisdn

    @property
    def received(self) -> list[str]:
        return self.smsc.texts_to(self.msisdn)

    async def text(self, body: str, *, expect: int) -> list[str]:
        """Send `body`; wait for `expect` more MTs and return them (in the order received)."""
        before = len(self.received)
        status = await self.smsc.inject_mo(self.msisdn, SHORTCODE, body)
        assert status == CommandStatus.ESME_ROK
        async with asyncio.timeout(10):
            await self.smsc.wait_until(lambda: len(self.received) >= before + expect)
        return self.received[before:]


def child_pids(pid: int) -> list[int]:
    """The live processes whose parent is `pid` (Linux /proc), e.g. a supervisor's workers."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            children.append(int(stat.parent.name))
    return sorted(children)


def start_gateway_process(
    db_url: str, smsc_port: int, *run_args: str, **settings: str
) -> subprocess.Popen[bytes]:
    """A real `gateway run` process (for SIGKILL tests), on the test's database.

    `run_args` are more options of `gateway run` (e.g. "--workers", "2");
    `settings` are extra environment variables, e.g. GATEWAY_SMPP_TPS="200".
    """
    env = os.environ | {
        "DATABASE_URL": db_url,
        "GATEWAY_SMPP_PORT": str(smsc_port),
        "GATEWAY_HTTP_PORT": "0",
        "GATEWAY_KEYWORDS": str(ROOT / "keywords.yaml"),
        "GATEWAY_SMPP_RECONNECT_MIN": "0.05",
        "GATEWAY_SMPP_RECONNECT_MAX": "0.2",
        "GATEWAY_LOG_LEVEL": "warning",
        "GATEWAY_UNSURE_SEND_HOLD": "5",  # long enough for the receipts that follow a rebind
        **settings,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "run", "--no-migrate", *run_args],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
