"""A webhook receiver on 127.0.0.1 for the tests: records every POST, fails or hangs on cue.

Why a real server: the delivery task's timeouts, connection errors and
answers are HTTP's own, so the tests see what a campaign's CRM would.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from gateway.hooks.sender import WebhookSender
from tests.support.clock import ManualClock


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    answered: int  # the status the receiver answered (0: it hung)
    at: float  # when it arrived, by the receiver's clock (unix seconds)

    @property
    def event(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


@dataclass
class Receiver:
    """`fail_first`: that many POSTs get a 500 first; `hang`: POSTs wait for `release`."""

    fail_first: int = 0
    hang: bool = False
    failure_text: str = "not now"  # what a failing answer says
    clock: Callable[[], float] = time.time  # the test's, to check the signed timestamp
    received: list[Received] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    _runner: web.AppRunner | None = None
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def accepted(self) -> list[Received]:
        return [r for r in self.received if 200 <= r.answered < 300]

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        entry = Received(dict(request.headers), body, 0, self.clock())
        self.received.append(entry)
        self.arrived.set()
        if self.hang:
            await self.release.wait()
        if self.fail_first > 0:
            self.fail_first -= 1
            entry.answered = 500
            return web.Response(status=500, text=self.failure_text)
        entry.answered = 200
        return web.Response(status=200, text="ok")

    async def start(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/hooks", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        self.release.set()
        if self._runner is not None:
            await self._runner.cleanup()


def closed_port_url() -> str:
    """A loopback URL nothing listens on: every POST is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/hooks"


def verify(secret: str, header: str, body: bytes, *, now: float, tolerance: int = 300) -> int:
    """docs/webhooks.md's verification, word for word: the stdlib only."""
    pairs = [part.split("=", 1) for part in header.split(",")]
    timestamp = int(next(value for key, value in pairs if key == "t"))
    if abs(now - timestamp) > tolerance:
        raise ValueError("too old: a replay?")
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body,
                        hashlib.sha256).hexdigest()
    if not any(key == "v1" and hmac.compare_digest(expected, value) for key, value in pairs):
        raise ValueError("bad signature")
    return timestamp


async def rounds_until(work: WebhookSender, clock: ManualClock, done: Callable[[], bool],
                       *, step: float = 120.0, most: int = 40) -> None:
    for _ in range(most):
        await work.deliver_due()
        if done():
            return
        clock.advance(step)
    raise AssertionError("not done after the rounds allowed")
