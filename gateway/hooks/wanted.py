"""Keeps this gateway's set of wanted webhook event types current (store/webhook_events.py
`WantedTypes`): the emit on the MO path skips its statement for a type nobody wants.

Why LISTEN/NOTIFY: every change to webhook_subscriptions that can change the
set NOTIFYs on commit (migration 460), so every gateway hears of a new
subscription within the notice's latency, with no polling on the hot path.
The set goes stale the moment a notice arrives, and whenever the listening
connection is down (a notice may be missed): stale, every emit asks the
database, which is always right. It is also re-read every
GATEWAY_WEBHOOKS_SUBSCRIPTIONS_REFRESH_SECONDS, in case the database lost a
notice (it does not, but the cost is one small query a minute).

The listening connection is its own, outside the pool (as pipeline/rules_sync.py):
a pooled connection would go back to the pool still listening.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import asyncpg

from gateway.logs import get_logger
from gateway.store.webhook_events import SUBSCRIPTIONS_CHANNEL, WantedTypes

log = get_logger("gateway.hooks.wanted")

RETRY_SECONDS = 1.0


class WantedTypesListener:
    """Runs under the supervisor as `webhook-types`."""

    def __init__(self, wanted: WantedTypes, database_url: str, instance: str, *,
                 refresh_seconds: float = 60.0) -> None:
        self.wanted = wanted
        self._database_url = database_url
        self._instance = instance
        self._refresh = refresh_seconds
        self._notified = asyncio.Event()

    async def run(self) -> None:
        while True:
            self.wanted.mark_stale()
            try:
                conn = await asyncpg.connect(
                    self._database_url,
                    server_settings={"application_name": f"{self._instance}-webhook-types"})
            except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as err:
                log.warning("webhook_types_channel_unavailable", error=type(err).__name__)
                await asyncio.sleep(RETRY_SECONDS)
                continue
            try:
                await self._listen(conn)
            except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as err:
                log.warning("webhook_types_channel_lost", error=type(err).__name__)
            finally:
                self.wanted.mark_stale()
                conn.terminate()
            await asyncio.sleep(RETRY_SECONDS)

    async def _listen(self, conn: Any) -> None:
        """Read the set, then again on every notice or refresh, until `conn` is lost."""
        lost = asyncio.Event()

        def ended(_conn: Any) -> None:
            self.wanted.mark_stale()
            lost.set()

        conn.add_termination_listener(ended)
        await conn.add_listener(SUBSCRIPTIONS_CHANNEL, self._on_notice)
        while not lost.is_set():  # listening first, then reading: no change falls between
            self._notified.clear()
            before = self.wanted.types
            if not await self.wanted.read(conn):
                continue  # a notice came during the read: read again
            if self.wanted.types != before:
                log.info("webhook_types_wanted", types=sorted(self.wanted.types))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wait(lost), self._refresh)

    async def _wait(self, lost: asyncio.Event) -> None:
        notified = asyncio.ensure_future(self._notified.wait())
        ended = asyncio.ensure_future(lost.wait())
        try:
            await asyncio.wait((notified, ended), return_when=asyncio.FIRST_COMPLETED)
        finally:
            notified.cancel()
            ended.cancel()

    def _on_notice(self, _conn: Any, _pid: int, _channel: str, _payload: str) -> None:
        self.wanted.mark_stale()
        self._notified.set()
