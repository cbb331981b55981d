"""Interop: a third-party SMSC (node-smpp's server, tests/interop/smsc.js) drives the gateway.

Why: every other end-to-end test talks to our own simulator, which shares
our codec's reading of SMPP 3.4. Here the peer's PDUs come from an
independent implementation: bind_transceiver with the configured credentials,
an MO "JOIN" as deliver_sm, our reply as submit_sm, its message id, and a
delivery receipt (TLVs, appendix-B text, or both) that must settle the row.

Skipped when node or tests/interop/node_modules is missing (`make interop-deps`
installs it), so the suite still runs offline.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from structlog.testing import capture_logs

from gateway.app import Gateway, open_gateway
from gateway.config import Settings, load_settings
from gateway.smpp.client import EsmeClient
from gateway.smpp.constants import CommandStatus
from gateway.smpp.pdu import Pdu

INTEROP = Path(__file__).resolve().parent / "interop"
SCRIPT = INTEROP / "smsc.js"
# what smsc.js sends and accepts
MO_FROM, SHORTCODE, MO_TEXT = "15555550123", "12345", "JOIN"
SYSTEM_ID, PASSWORD = "gateway", "secret"


def why_no_node_smsc() -> str | None:
    if shutil.which("node") is None:
        return "node is not installed: the third-party SMSC (node-smpp) cannot run"
    if not (INTEROP / "node_modules" / "smpp" / "package.json").is_file():
        return (
            "tests/interop/node_modules is absent: run `make interop-deps` "
            "(npm ci --prefix tests/interop) to install node-smpp"
        )
    return None


# Decided at collection, so a skipped test does not start PostgreSQL first.
pytestmark = pytest.mark.skipif(why_no_node_smsc() is not None, reason=why_no_node_smsc() or "")


class NodeSmsc:
    """The node process and the JSON events it prints, one per line."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.events: list[dict[str, Any]] = []
        self.stderr = b""
        self._changed = asyncio.Condition()
        self.port = 0

    async def read_events(self) -> None:
        assert self.process.stdout is not None
        async for line in self.process.stdout:
            event = json.loads(line)
            async with self._changed:
                self.events.append(event)
                self._changed.notify_all()
        async with self._changed:
            self._changed.notify_all()

    def named(self, name: str) -> list[dict[str, Any]]:
        return [event for event in self.events if event["event"] == name]

    async def wait_for(self, name: str, count: int = 1, *, within: float = 10.0) -> None:
        """Until `count` events called `name` were printed; fails early if node exits."""
        async with asyncio.timeout(within), self._changed:
            while len(self.named(name)) < count:
                if self.process.stdout is not None and self.process.stdout.at_eof():
                    raise AssertionError(f"node SMSC exited (stderr at teardown): {self.events}")
                await self._changed.wait()


async def start_node_smsc(receipt_style: str = "both") -> tuple[NodeSmsc, asyncio.Task[None]]:
    node = shutil.which("node")
    assert node is not None
    process = await asyncio.create_subprocess_exec(
        node, str(SCRIPT), "0", receipt_style,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    smsc = NodeSmsc(process)
    reader = asyncio.create_task(smsc.read_events())
    try:
        await smsc.wait_for("listening")
    except BaseException:
        await stop_node_smsc(smsc, reader)
        raise
    smsc.port = smsc.named("listening")[0]["port"]
    return smsc, reader


async def stop_node_smsc(smsc: NodeSmsc, reader: asyncio.Task[None]) -> None:
    with contextlib.suppress(ProcessLookupError):
        smsc.process.terminate()
    assert smsc.process.stderr is not None
    smsc.stderr = await smsc.process.stderr.read()
    await smsc.process.wait()
    await reader


@pytest.fixture
def receipt_style() -> str:
    return "both"


@pytest.fixture
async def node_smsc(receipt_style: str) -> AsyncIterator[NodeSmsc]:
    smsc, reader = await start_node_smsc(receipt_style)
    try:
        yield smsc
    finally:
        await stop_node_smsc(smsc, reader)
        assert not smsc.named("session_error"), smsc.events
        assert not smsc.stderr, smsc.stderr.decode(errors="replace")


def interop_settings(base: Settings, port: int, **changes: Any) -> Settings:
    return base.model_copy(
        update={
            "smpp_port": port,
            "smpp_system_id": SYSTEM_ID,
            "smpp_password": SecretStr(PASSWORD),
            "smpp_bind_mode": "transceiver",
            "smpp_reconnect_min": 0.05,
            "smpp_reconnect_max": 0.2,
            "smpp_bind_refused_delay": 0.05,
            "ingest_linger_ms": 1.0,
            **changes,
        }
    )


@pytest.fixture
async def gateway(settings: Settings, node_smsc: NodeSmsc) -> AsyncIterator[Gateway]:
    gw = await open_gateway(interop_settings(settings, node_smsc.port), migrate=False)
    await gw.start()
    try:
        yield gw
    finally:
        await gw.stop()
        await gw.pool.close()


async def wait_for(predicate: Callable[[], Awaitable[bool]], *, within: float = 10.0) -> None:
    async with asyncio.timeout(within):
        while not await predicate():  # noqa: ASYNC110 - the condition lives in PostgreSQL
            await asyncio.sleep(0.02)


@pytest.mark.parametrize("receipt_style", ["both", "tlv", "text"])
async def test_join_round_trip_with_node_smpp(gateway: Gateway, node_smsc: NodeSmsc) -> None:
    assert await gateway.client.wait_bound(timeout=10)
    await node_smsc.wait_for("bound")
    assert node_smsc.named("bound") == [
        {"event": "bound", "command": "bind_transceiver", "system_id": SYSTEM_ID}
    ]

    # deliver_sm in: acknowledged only after commit, so the row is there now
    await node_smsc.wait_for("mo_acked")
    assert node_smsc.named("mo_acked")[0]["command_status"] == CommandStatus.ESME_ROK
    async with gateway.pool.acquire() as conn:
        inbound = await conn.fetch("SELECT id, msisdn, shortcode, body FROM inbound")
    assert [dict(row) | {"id": 0} for row in inbound] == [
        {"id": 0, "msisdn": f"+{MO_FROM}", "shortcode": SHORTCODE, "body": MO_TEXT}
    ]

    # submit_sm out: the reply, as the third party decoded it
    await node_smsc.wait_for("submit")
    async with gateway.pool.acquire() as conn:
        outbound = await conn.fetch(
            "SELECT id, msisdn, shortcode, body, in_reply_to FROM outbound ORDER BY id"
        )
    assert outbound, "JOIN was stored but no reply was queued"
    await node_smsc.wait_for("submit", len(outbound))
    submits = node_smsc.named("submit")
    assert len(submits) == len(outbound)  # one single-part reply per row, none sent twice
    for row, submit in zip(outbound, submits, strict=True):
        assert row["msisdn"] == f"+{MO_FROM}" and row["in_reply_to"] == inbound[0]["id"]
        assert submit["source"] == SHORTCODE and submit["destination"] == MO_FROM
        assert (submit["dest_addr_ton"], submit["dest_addr_npi"]) == (1, 1)
        assert submit["registered_delivery"] & 0x01, "no delivery receipt requested"
        assert submit["udh"] == []
        assert submit["text"] == row["body"]

    # submit_sm_resp's message id recorded; the receipt settles the row
    await node_smsc.wait_for("receipt_acked", len(outbound))
    receipt_acks = node_smsc.named("receipt_acked")
    assert {ack["command_status"] for ack in receipt_acks} == {CommandStatus.ESME_ROK}
    assert {ack["message_id"] for ack in receipt_acks} == {s["message_id"] for s in submits}
    ids = [row["id"] for row in outbound]

    async def all_delivered() -> bool:
        async with gateway.pool.acquire() as conn:
            statuses = await conn.fetch(
                "SELECT status FROM outbound WHERE id = ANY($1::bigint[])", ids
            )
        return {row["status"] for row in statuses} == {"delivered"}

    await wait_for(all_delivered)
    async with gateway.pool.acquire() as conn:
        segments = await conn.fetch(
            "SELECT outbound_id, smsc_message_id, status FROM outbound_segments "
            "ORDER BY outbound_id, seq"
        )
        receipts = await conn.fetch(
            "SELECT smsc_message_id, stat, final FROM delivery_receipts ORDER BY id"
        )
    assert [dict(row) for row in segments] == [
        {"outbound_id": row["id"], "smsc_message_id": submit["message_id"], "status": "DELIVRD"}
        for row, submit in zip(outbound, submits, strict=True)
    ]
    assert sorted((r["smsc_message_id"], r["stat"], r["final"]) for r in receipts) == sorted(
        (submit["message_id"], "DELIVRD", True) for submit in submits
    )

async def refuse_mo(pdu: Pdu) -> int:
    """Not stored: node-smpp does not redeliver, and these tests have no database."""
    return CommandStatus.ESME_RX_T_APPN


async def test_keepalive_against_node_smpp_keeps_one_bind(node_smsc: NodeSmsc) -> None:
    settings = interop_settings(
        load_settings({"DATABASE_URL": "postgresql://unused"}), node_smsc.port,
        smpp_enquire_link_interval=0.1,
    )
    client = EsmeClient(settings, on_deliver=refuse_mo)
    runner = asyncio.create_task(client.run())
    try:
        await node_smsc.wait_for("enquire_link", 3)
        assert client.bound
    finally:
        await client.stop()
        await runner
    assert client.connects == 1
    assert len(node_smsc.named("bound")) == 1
    assert node_smsc.named("mo_acked") == [
        {"event": "mo_acked", "command_status": CommandStatus.ESME_RX_T_APPN}
    ]


async def test_bad_password_is_refused_logged_clearly_and_retried(node_smsc: NodeSmsc) -> None:
    settings = interop_settings(
        load_settings({"DATABASE_URL": "postgresql://unused"}), node_smsc.port,
        smpp_password=SecretStr("wrong-pw"),
    )
    client = EsmeClient(settings, on_deliver=refuse_mo)
    with capture_logs() as logs:
        runner = asyncio.create_task(client.run())
        try:
            await node_smsc.wait_for("bind_refused", 3)
            assert not client.bound
        finally:
            await client.stop()
            await runner
    assert client.connects >= 3
    assert not node_smsc.named("bound") and not node_smsc.named("mo_acked")
    refused = node_smsc.named("bind_refused")
    assert {(r["command"], r["system_id"]) for r in refused} == {("bind_transceiver", SYSTEM_ID)}
    assert {r["command_status"] for r in refused} == {CommandStatus.ESME_RINVPASWD}
    lines = [entry for entry in logs if entry["event"] == "smpp_bind_refused"]
    assert len(lines) >= 2
    assert lines[0]["log_level"] == "error"
    assert lines[0]["status"] == "ESME_RINVPASWD"
    assert lines[0]["reason"] == (
        f"bind refused: invalid password for system_id {SYSTEM_ID}; check GATEWAY_SMPP_PASSWORD"
    )
    assert all("wrong-pw" not in str(value) for entry in logs for value in entry.values())
