"""Submit pacing and retry delays.

Why a virtual-schedule bucket (GCRA) rather than a bucket that refills in
bursts: SMSCs count TPS over short windows and answer ESME_RTHROTTLED to a
burst even when the per-second average is fine. Spacing every submit by
1/tps keeps us under the cap at any window size. Each caller reserves the
next slot before sleeping, so waiters are served in arrival order without a
lock. The clock is injected so tests and the benchmark can control time.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable


class TokenBucket:
    """At most `rate` acquisitions per second, evenly spaced; rate 0 means no cap."""

    def __init__(self, rate: float, clock: Callable[[], float], *, burst: int = 1) -> None:
        if rate < 0 or burst < 1:
            raise ValueError("rate must be >= 0 and burst >= 1")
        self._clock = clock
        self._burst = burst
        self._next = float("-inf")
        self.set_rate(rate)

    def set_rate(self, rate: float) -> None:
        """Pace from the next reservation on; slots already handed out stand."""
        if rate < 0:
            raise ValueError("rate must be >= 0")
        self.rate = rate
        self._interval = 1.0 / rate if rate else 0.0
        self._slack = (self._burst - 1) * self._interval

    def reserve(self, now: float) -> float:
        """Claim the next slot; returns how long to wait before using it."""
        if not self.rate:
            return 0.0
        slot = max(self._next, now - self._slack)
        self._next = slot + self._interval
        return max(0.0, slot - now)

    async def acquire(self) -> None:
        delay = self.reserve(self._clock())
        if delay > 0:
            await asyncio.sleep(delay)


def backoff_delay(attempt: int, low: float, high: float, rng: random.Random) -> float:
    """Exponential backoff with full jitter, between `low` and `high` seconds.

    Full jitter spreads reconnecting gateways (or resubmits) so they do not
    hit a recovering SMSC in lock-step.
    """
    ceiling = min(high, low * 2.0 ** min(attempt, 32))
    return rng.uniform(low, max(low, ceiling))
