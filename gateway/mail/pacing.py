"""The per-domain rate limit: how many bulk messages a minute one recipient domain gets.

Why: the large mailbox providers throttle, then junk, a sender that pours
thousands of messages on them at once; a newsletter to 30,000 subscribers,
half of them at one provider, must trickle. The limit is a rate per
recipient domain (GATEWAY_MAIL_OUT_DOMAIN_RATE, with per-domain overrides),
kept by the SMPP pacer's bucket (`TokenBucket`, evenly spaced slots), one
bucket per domain and per sender process.

Only bulk mail waits. Mail to one person (an answer, an acknowledgement, a
confirmation link) goes at once, but takes a slot, so the newsletter behind
it slows down to make room. A bulk row whose slot is later is not held under
its lease: the sender queues it again for that slot (store `requeue(...,
paced=True)`), and when claimed then it is sent without asking again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from gateway.smpp.throttle import TokenBucket


class DomainPacer:
    """Per-domain slots; `per_minute` 0 means no limit for a domain."""

    def __init__(self, per_minute: int, overrides: Mapping[str, int],
                 clock: Callable[[], float]) -> None:
        self._default = per_minute
        self._overrides = {domain.lower(): rate for domain, rate in overrides.items()}
        self._clock = clock
        self._buckets: dict[str, TokenBucket] = {}

    def rate(self, domain: str) -> int:
        return self._overrides.get(domain.lower(), self._default)

    def reserve(self, domain: str) -> float:
        """Book the domain's next slot; seconds until it (0: now)."""
        domain = domain.lower()
        per_minute = self.rate(domain)
        if per_minute <= 0:
            return 0.0
        bucket = self._buckets.get(domain)
        if bucket is None:
            bucket = self._buckets[domain] = TokenBucket(per_minute / 60.0, self._clock)
        return bucket.reserve(self._clock())
