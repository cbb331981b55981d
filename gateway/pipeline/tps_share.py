"""One contracted TPS, split between the gateway instances sending to the SMSC.

The short code's TPS is a contract with the carrier, for the whole account:
two instances each pacing at the full cap would send twice too fast and be
throttled (or fined). Each instance beats once a second in `smpp_senders`
and paces at cap / live instances. An instance that dies stops counting
after `LIVE_WITHIN` seconds and the others speed up; a new one takes its
share before its first send, and the others slow down at their next beat,
so the sum can exceed the cap only by one instance's share for at most a
beat.
"""

from __future__ import annotations

import asyncpg

from gateway.config import Settings
from gateway.logs import get_logger
from gateway.smpp.client import EsmeClient
from gateway.store import senders as senders_store

log = get_logger("gateway.tps")

BEAT_SECONDS = 1.0
LIVE_WITHIN = 3.0  # seconds without a beat before an instance no longer counts


class TpsShare:
    def __init__(self, pool: asyncpg.Pool, settings: Settings, client: EsmeClient) -> None:
        self._pool = pool
        self._client = client
        self._instance = settings.instance_name
        self._total = settings.smpp_tps
        self.instances = 1

    async def beat(self) -> int:
        """Record that we send, and pace at our share of the cap; returns the instances."""
        if not self._total:
            return 1  # no cap: nothing to share
        async with self._pool.acquire() as conn:
            live = await senders_store.beat(conn, self._instance, live_within=LIVE_WITHIN)
        if live != self.instances:
            log.info("tps_share_changed", instances=live, share=round(self._total / live, 3),
                     total=self._total)
        self.instances = live
        self._client.set_tps(self._total / live)
        return live

    async def leave(self) -> None:
        """Stop counting at once, so the others take our share at their next beat."""
        if not self._total:
            return
        async with self._pool.acquire() as conn:
            await senders_store.leave(conn, self._instance)
