"""`gateway run --workers 2`: a real supervisor and its two workers, against the simulator.

The simulator hands MOs to its binds in turn, so each number's texts reach
both workers. Each number texts a conversation whose every answer depends on
the one before (JOIN, Y, JOIN, HELP, STOP): answered once each and in order,
or the test fails. Then one worker is killed with SIGKILL in the middle of
such conversations: the supervisor starts it again under the same name, and
nothing is lost or sent twice. SIGTERM to the supervisor stops everything.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import signal
import socket
import subprocess
import urllib.request
from pathlib import Path

import asyncpg

from gateway.smpp.constants import CommandStatus
from gateway.smpp.simulator import SmscSimulator
from tests.support.e2e import SHORTCODE, child_pids, start_gateway_process

PROGRAM = "Rise Up Alerts: "
# (text, how its answers start): each answer depends on the texts before. No text comes
# twice: an identical text right after a kill can be taken for the SMSC delivering the
# first one again (docs/redelivery.md, "What remains possible"), which is not the point here.
CONVERSATION = [
    ("JOIN", [PROGRAM + "reply Y to confirm"]),
    ("Y", [PROGRAM + "you're in", "What's your 5-digit ZIP code?"]),
    ("join", [PROGRAM + "you're already signed up"]),
    ("HELP", [PROGRAM + "questions?"]),
    ("STOP", [PROGRAM + "you are unsubscribed"]),
]
NAMES = ("gw-w1", "gw-w2")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def get_healthz(port: int) -> dict[str, object]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as answer:
            body: dict[str, object] = json.load(answer)
    except urllib.error.HTTPError as err:  # 503 still carries the JSON
        body = json.load(err)
    return body


async def healthz(port: int, workers: list[dict[str, str]]) -> dict[str, object]:
    """Worker 1's /healthz once its `workers` is one of `workers` (told once a second)."""
    async with asyncio.timeout(60):
        while True:
            try:
                health = await asyncio.to_thread(get_healthz, port)
                if health.get("workers") in workers:
                    return health
            except urllib.error.URLError as err:  # it serves HTTP once it has started
                if not isinstance(err.reason, ConnectionRefusedError):
                    raise
            await asyncio.sleep(0.2)


def worker_pids(supervisor: subprocess.Popen[bytes]) -> dict[str, int]:
    """Instance name -> pid of the supervisor's workers (worker 2 runs with --no-web)."""
    found = {}
    for pid in child_pids(supervisor.pid):
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        found["gw-w2" if b"--no-web" in command else "gw-w1"] = pid
    return found


async def converse(smsc: SmscSimulator, number: str) -> None:
    """One number's conversation: each text waits for its answers before the next goes."""
    expected = 0
    for text, answers in CONVERSATION:
        expected += len(answers)
        assert await smsc.inject_mo(number, SHORTCODE, text) == CommandStatus.ESME_ROK
        async with asyncio.timeout(90):  # a killed worker's claims wait for its restart
            await smsc.wait_until(functools.partial(has_texts, smsc, number, expected))


def has_texts(smsc: SmscSimulator, number: str, count: int) -> bool:
    return len(smsc.texts_to(number)) >= count


def answered_in_order(smsc: SmscSimulator, numbers: list[str]) -> dict[str, list[str]]:
    """The numbers whose answers are not exactly the conversation's, with what they got.

    The turns' order is checked; within a turn of two answers it is not: two
    workers may claim and send them at the same moment (docs/multi-instance.md).
    """
    wrong = {}
    for number in numbers:
        got = smsc.texts_to(number)
        turns = []
        for _, answers in CONVERSATION:
            turns.append(sorted(start for start in answers
                                if any(text.startswith(start) for text in got[:len(answers)])))
            got = got[len(answers):]
        if got or turns != [sorted(answers) for _, answers in CONVERSATION]:
            wrong[number] = smsc.texts_to(number)
    return wrong


async def connected_instances(conn: asyncpg.Connection) -> set[str]:
    rows = await conn.fetch("SELECT DISTINCT application_name FROM pg_stat_activity "
                            "WHERE datname = current_database()")
    return {r["application_name"] for r in rows} & set(NAMES)


async def test_two_workers_answer_once_in_order_and_survive_a_kill(
    db_url: str, patient_smsc: SmscSimulator
) -> None:
    smsc = patient_smsc
    port = free_port()
    supervisor = start_gateway_process(
        db_url, smsc.port, "--workers", "2", GATEWAY_INSTANCE_NAME="gw",
        GATEWAY_HTTP_PORT=str(port), GATEWAY_INGEST_LINGER_MS="1")
    conn = await asyncpg.connect(db_url)
    try:
        async with asyncio.timeout(120):  # two processes importing at once, on a busy box
            await smsc.wait_until(lambda: smsc.bound_sessions >= 2)
        assert await connected_instances(conn) == set(NAMES)  # each worker under its name
        health = await healthz(port, [{"gw-w1": "running", "gw-w2": "running"}])
        assert health["status"] == "ok"

        first = [f"+1202555{n:04d}" for n in range(30)]
        await asyncio.gather(*(converse(smsc, number) for number in first))
        assert answered_in_order(smsc, first) == {}

        before = worker_pids(supervisor)
        second = [f"+1202556{n:04d}" for n in range(30)]
        talks = asyncio.gather(*(converse(smsc, number) for number in second))
        async with asyncio.timeout(20):
            await smsc.wait_until(lambda: len(smsc.mos) >= len(first) * len(CONVERSATION) + 40)
        os.kill(before["gw-w2"], signal.SIGKILL)
        await talks  # worker 1 may have answered everything before worker 2 is back
        async with asyncio.timeout(120):
            await smsc.wait_until(lambda: smsc.bound_sessions >= 2)
        after = worker_pids(supervisor)
        assert after["gw-w2"] != before["gw-w2"]  # started again, under its own name
        assert after["gw-w1"] == before["gw-w1"]
        assert answered_in_order(smsc, second) == {}
        assert smsc.duplicates() == {}
        health = await healthz(port, [{"gw-w1": "running", "gw-w2": "running"}])
        assert health["status"] == "ok"  # back: ready, and running for 5 s since

        supervisor.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(supervisor.wait, 40) == 0
        assert [pid for pid in after.values() if os.path.exists(f"/proc/{pid}")] == []  # noqa: ASYNC240
        async with asyncio.timeout(10):
            await smsc.wait_until(lambda: smsc.bound_sessions == 0)
        leased = await conn.fetchval("SELECT count(*) FROM outbound WHERE status = 'sending'")
        assert leased == 0
    finally:
        if supervisor.poll() is None:
            left = child_pids(supervisor.pid)
            supervisor.kill()
            supervisor.wait(timeout=20)
            for pid in left:  # a failed test leaves no worker behind
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        await conn.close()
