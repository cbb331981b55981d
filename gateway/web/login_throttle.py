"""Failed logins slow down the key that failed, never lock an account.

Keys: one e-mail from one client address (strict: `web_login_max_failures`
failures, then waits of 1 s, 2 s, 4 s ... up to `web_login_max_delay`), and
one address across all e-mails (loose: `web_login_max_failures_per_client`,
waits up to `web_login_client_max_delay`, against password spraying).

Why not a lock of the account: five bad guesses from anywhere used to shut
the real owner out, and fifty from one office NAT shut out the whole office.
Now the owner's own address has its own key, and every wait ends.

Why reserve before hashing: the reservation is one atomic statement in
PostgreSQL (gateway/store/login_throttle.py) that counts the try as a failure
up front, so concurrent guesses are serialized and at most the allowance
ever reaches argon2; every gateway process shares the rows; a good password
takes the failure back.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from aiohttp import web

from gateway.config import Settings
from gateway.store import login_throttle as store
from gateway.web.context import context_of


class LoginThrottle:
    def __init__(self, settings: Settings) -> None:
        self.account = store.Limits(free=settings.web_login_max_failures,
                                    max_delay=settings.web_login_max_delay,
                                    window=settings.web_login_window)
        self.address = store.Limits(free=settings.web_login_max_failures_per_client,
                                    max_delay=settings.web_login_client_max_delay,
                                    window=settings.web_login_window)

    async def reserve(self, request: web.Request, email: str, client: str,
                      now: datetime) -> int | None:
        """None: go ahead and check the password. Else seconds to wait (Retry-After)."""
        async with context_of(request).pool.acquire() as conn:
            until = await store.reserve(conn, email=email, client=client, now=now,
                                        account=self.account, address=self.address)
        if until is None:
            return None
        return max(1, math.ceil((until - now) / timedelta(seconds=1)))

    async def succeeded(self, request: web.Request, email: str, client: str,
                        now: datetime) -> None:
        """The password was right: this try was not a failure after all."""
        async with context_of(request).pool.acquire() as conn:
            await store.take_back(conn, email=email, client=client, now=now,
                                  address_free=self.address.free)
