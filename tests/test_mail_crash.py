"""The listener killed with SIGKILL mid-session: nothing acknowledged is lost, nothing doubled.

A real process (the listener alone on the test's database) is killed at the
worst moments: right after it said 250, in the middle of a message's data,
and between the data's end and its answer. A sender that got no 250 sends
again (as every MTA does); the retry must not make a second row.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO

import asyncpg
import pytest

ROOT = Path(__file__).resolve().parents[1]
CONTACT = "contact@campagne.example"

LISTENER = """
import asyncio, sys
from gateway.mail.listener import SmtpListener, listener_config
from gateway.store.db import create_pool

async def main() -> None:
    pool = await create_pool(sys.argv[1])
    listener = SmtpListener(pool, listener_config(
        host="127.0.0.1", port=0, hostname="mx.test", contact_addresses=[sys.argv[2]],
        max_message_bytes=25_000_000, max_attachment_bytes=10_000_000))
    task = asyncio.create_task(listener.run())
    await listener.started.wait()
    print("PORT", listener.port, flush=True)
    await task

asyncio.run(main())
"""


class Listener:
    """The listener in a child process of its own, so it can be SIGKILLed."""

    def __init__(self, db_url: str) -> None:
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        self.proc = subprocess.Popen(
            [sys.executable, "-c", LISTENER, db_url, CONTACT], stdout=subprocess.PIPE,
            cwd=ROOT, env=env)
        assert self.proc.stdout is not None
        try:
            self.port = self._port(self.proc.stdout)
        except BaseException:
            self.kill()
            raise

    @staticmethod
    def _port(out: IO[bytes]) -> int:
        for line in out:  # its log lines come first
            if line.startswith(b"PORT "):
                return int(line.split()[1])
        raise AssertionError("the listener process ended before listening")

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


@pytest.fixture
async def spawn(db_url: str) -> AsyncIterator[list[Listener]]:
    started: list[Listener] = []
    yield started
    for listener in started:
        if listener.proc.poll() is None:
            listener.kill()


class Session:
    """A hand-driven SMTP session, to stop exactly where the test says."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int) -> Session:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        session = cls(reader, writer)
        assert (await session.reply()).startswith("220")
        for command in ("EHLO client.test", "MAIL FROM:<a@example.org>", f"RCPT TO:<{CONTACT}>",
                        "DATA"):
            answer = await session.say(command)
            assert answer[:1] in ("2", "3"), (command, answer)
        return session

    async def reply(self) -> str:
        while True:
            line = (await asyncio.wait_for(self.reader.readline(), 30)).decode()
            if len(line) < 4 or line[3] != "-":
                return line

    async def say(self, command: str) -> str:
        self.writer.write(command.encode() + b"\r\n")
        await self.writer.drain()
        return await self.reply()

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def rest(self) -> bytes:
        """Whatever the listener still said before it died (a reset counts as nothing)."""
        try:
            return await asyncio.wait_for(self.reader.read(), 30)
        except ConnectionResetError:
            return b""

    def close(self) -> None:
        self.writer.close()


def message(n: int) -> bytes:
    return (f"From: a@example.org\r\nTo: {CONTACT}\r\nMessage-ID: <crash-{n}@example.org>\r\n"
            f"Subject: message {n}\r\n\r\n").encode() + (b"x" * 998 + b"\r\n") * 200


async def stored(db_url: str) -> list[str]:
    conn = await asyncpg.connect(db_url)
    try:
        return [r["subject"] for r in await conn.fetch(
            "SELECT subject FROM mail_inbound ORDER BY id")]
    finally:
        await conn.close()


async def test_kill_9_right_after_250_keeps_the_message(
        db_url: str, spawn: list[Listener]) -> None:
    spawn.append(listener := Listener(db_url))
    session = await Session.open(listener.port)
    await session.send(message(1) + b".\r\n")
    answer = await session.reply()
    listener.kill()  # the instant the 250 arrived
    session.close()
    assert answer.startswith("250 ")
    assert await stored(db_url) == ["message 1"]


async def test_kill_9_mid_data_stores_nothing_and_the_sender_sees_no_250(
        db_url: str, spawn: list[Listener]) -> None:
    spawn.append(listener := Listener(db_url))
    session = await Session.open(listener.port)
    data = message(2)
    await session.send(data[: len(data) // 2])
    await asyncio.sleep(0.2)  # the listener has read part of it
    listener.kill()
    assert await session.rest() == b""  # hung up, no answer
    session.close()
    assert await stored(db_url) == []


async def test_kill_9_before_the_answer_then_a_retry_stores_the_message_once(
        db_url: str, spawn: list[Listener]) -> None:
    """Killed between the end of data and its answer: stored or not, never twice."""
    for delay in (0.0, 0.05, 0.3):
        spawn.append(listener := Listener(db_url))
        session = await Session.open(listener.port)
        await session.send(message(3) + b".\r\n")
        await asyncio.sleep(delay)
        listener.kill()
        got = await session.rest()
        session.close()
        if got.startswith(b"250 "):
            continue  # it was acknowledged: the sender will not retry
        # no 250: the sender retries, against a fresh listener
        spawn.append(again := Listener(db_url))
        retry = await Session.open(again.port)
        await retry.send(message(3) + b".\r\n")
        assert (await retry.reply()).startswith("250 ")
        retry.close()
        again.kill()
    assert await stored(db_url) == ["message 3"]
