"""Keyword reloads reach every instance: a reload announced on one is done on all.

Why: `POST /api/v1/keywords/reload` (or SIGHUP) is served by one process,
but every instance decides MOs; left alone, the others would go on with the
old rules until restarted. Each instance listens on a database channel
(store/reloads.py) and, told that another reloaded, re-reads its own
keywords file through the same `reload` that refuses a bad file and keeps
the rules in force, so a bad file still changes nothing anywhere.

A notification sent while the listening connection was down is lost, so
after every reconnect the instance reloads once anyway: a reload of an
unchanged file is harmless. The listening connection is its own, outside
the pool: a pooled connection would go back to the pool still listening.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import asyncpg

from gateway.logs import get_logger
from gateway.store import reloads

log = get_logger("gateway.rules_sync")

RETRY_SECONDS = 1.0


class RulesSync:
    def __init__(self, pool: asyncpg.Pool, database_url: str, instance: str,
                 reload: Callable[[], bool]) -> None:
        self._pool = pool
        self._database_url = database_url
        self._instance = instance
        self._reload = reload
        self.listening = asyncio.Event()  # set while the channel is listened to

    async def announce(self) -> None:
        """This instance reloaded: tell the others."""
        async with self._pool.acquire() as conn:
            await reloads.announce(conn, self._instance)

    async def run(self) -> None:
        connected_before = False
        while True:
            try:
                conn = await asyncpg.connect(
                    self._database_url,
                    server_settings={"application_name": f"{self._instance}-keywords"})
            except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as err:
                log.warning("keywords_channel_unavailable", error=type(err).__name__)
                await asyncio.sleep(RETRY_SECONDS)
                continue
            try:
                await self._listen(conn, missed=connected_before)
                connected_before = True
            except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as err:
                log.warning("keywords_channel_lost", error=type(err).__name__)
            finally:
                self.listening.clear()
                conn.terminate()  # nothing to flush: it only listens
            await asyncio.sleep(RETRY_SECONDS)

    async def _listen(self, conn: Any, *, missed: bool) -> None:
        """Listen on `conn` until it is lost."""
        lost = asyncio.Event()
        conn.add_termination_listener(lambda _conn: lost.set())
        await reloads.listen(conn, self._notified)
        if missed:  # what was announced while we were away
            self._reload()
        self.listening.set()
        await lost.wait()

    def _notified(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        if payload == self._instance:
            return  # our own announcement: already reloaded
        log.info("keywords_reload_announced", by=payload)
        self._reload()
