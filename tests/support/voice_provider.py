"""The voice provider's side for tests: its media server (recordings behind the account's
HTTP basic credentials, failing on demand) and a recording's bytes.

A real HTTP server (aiohttp) on loopback, shared by the question tests and the inbox
tests, so the download queue is exercised against a socket, not a stub.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.support.voice import ACCOUNT, TOKEN

FR_CALLER = "+33612345678"
WAV = b"RIFF" + (36 + 800).to_bytes(4, "little") + b"WAVEfmt " + bytes(24) + b"data" + \
    (800).to_bytes(4, "little") + bytes(800)


@dataclass
class FakeProvider:
    """The provider's media server: GET /Recordings/<sid> with the account's credentials."""

    audio: bytes = WAV
    failures: int = 0  # answer 500 this many times first
    requests: list[str] = field(default_factory=list)
    server: TestServer | None = None
    user: str = ACCOUNT  # the HTTP basic credentials its media wants
    password: str = TOKEN

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/Recordings/{sid}", self._recording)
        self.server = TestServer(app)
        await self.server.start_server()

    def url(self, sid: str) -> str:
        assert self.server is not None
        return str(self.server.make_url(f"/Recordings/{sid}"))

    async def _recording(self, request: web.Request) -> web.Response:
        login = f"{self.user}:{self.password}"
        expected = "Basic " + base64.b64encode(login.encode()).decode()
        self.requests.append(request.match_info["sid"])
        if request.headers.get("Authorization") != expected:
            return web.Response(status=401)
        if self.failures:
            self.failures -= 1
            return web.Response(status=500, text="try later")
        return web.Response(body=self.audio, content_type="audio/x-wav")
