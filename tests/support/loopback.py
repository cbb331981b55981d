"""A fake provider's HTTP server on 127.0.0.1: the part every fake shares.

Why a base: the Stripe fakes (and any later one) each started an aiohttp test
server on a free loopback port and exposed its URL the same way; a fix to that
(the host, the trailing slash the libraries dislike) belongs in one place.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.test_utils import TestServer


class LoopbackServer:
    """Start with the fake's routes, read `base_url`, close at the end."""

    _server: TestServer | None = None

    async def serve(self, app: web.Application) -> str:
        self._server = TestServer(app, host="127.0.0.1", port=0)
        await self._server.start_server()
        return self.base_url

    async def close(self) -> None:
        if self._server is not None:
            await self._server.close()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() the fake first"
        return str(self._server.make_url("")).rstrip("/")
