"""The login throttle's rows (migration 080): reserve an attempt, take a failure back. SQL only.

Why one statement per reservation: "is a try allowed now" and "count this
try" must not be two steps, or thirty concurrent guesses all pass the check
before any is counted. `INSERT ... ON CONFLICT DO UPDATE ... WHERE` locks the
key's row, re-reads it after any concurrent writer committed, and counts the
try only when its wait is over; no row back means refused. The address row
and the account row are reserved in one transaction (always in that order,
so two logins never wait on each other crosswise); a refusal by either rolls
both back, so a refused try is never counted.

A granted try is counted as a failure at once (the password has not been
checked yet); `take_back` undoes that after a good password. A try within
the free allowance is granted by the count alone, not by the clock: two
requests (or two gateway processes) read "now" a moment apart, and the one
with the earlier "now" must not be refused a wait nobody imposed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

ACCOUNT = "account"
ADDRESS = "address"

# $1 scope, $2 email, $3 client, $4 now, $5 free failures, $6 max delay (s), $7 idle window (s)
RESERVE = """
INSERT INTO login_throttle AS t (scope, email, client, failures, next_allowed_at)
VALUES ($1, $2, $3, 1, $4::timestamptz + login_delay(1, $5, $6))
ON CONFLICT (scope, email, client) DO UPDATE SET
    failures = CASE WHEN t.next_allowed_at < $4::timestamptz - make_interval(secs => $7)
                    THEN 1 ELSE t.failures + 1 END,
    next_allowed_at = greatest(t.next_allowed_at, $4::timestamptz + login_delay(
        CASE WHEN t.next_allowed_at < $4::timestamptz - make_interval(secs => $7)
             THEN 1 ELSE t.failures + 1 END, $5, $6))
WHERE t.next_allowed_at <= $4::timestamptz OR t.failures < $5
RETURNING failures
"""

NEXT_ALLOWED = """
SELECT next_allowed_at FROM login_throttle WHERE scope = $1 AND email = $2 AND client = $3
"""

FORGET_ACCOUNT = "DELETE FROM login_throttle WHERE scope = 'account' AND email = $1 AND client = $2"

# One failure fewer for the address; below its free count, no wait left either.
TAKE_BACK_ADDRESS = """
UPDATE login_throttle SET
    failures = greatest(failures - 1, 0),
    next_allowed_at = CASE WHEN failures - 1 < $2 THEN least(next_allowed_at, $3::timestamptz)
                           ELSE next_allowed_at END
WHERE scope = 'address' AND email = '' AND client = $1
"""

DELETE_IDLE = "DELETE FROM login_throttle WHERE next_allowed_at < $1"


@dataclass(frozen=True, slots=True)
class Limits:
    free: int  # failures before the first wait
    max_delay: float  # seconds; the doubling wait stops growing here
    window: float  # seconds idle after the last wait that forget the failures


class _Refused(Exception):
    def __init__(self, until: datetime) -> None:
        self.until = until


async def reserve(
    conn: asyncpg.Connection, *, email: str, client: str, now: datetime,
    account: Limits, address: Limits,
) -> datetime | None:
    """Count one try for the address and for (email, address): None when granted,
    else the time the refusing row allows a try again (and nothing was counted)."""
    try:
        async with conn.transaction():
            for scope, key, limits in ((ADDRESS, "", address), (ACCOUNT, email, account)):
                granted = await conn.fetchval(RESERVE, scope, key, client, now, limits.free,
                                              limits.max_delay, limits.window)
                if granted is None:
                    until: datetime | None = await conn.fetchval(NEXT_ALLOWED, scope, key,
                                                                 client)
                    raise _Refused(until or now)  # None: purged meanwhile
    except _Refused as refused:
        return refused.until
    return None


async def take_back(conn: asyncpg.Connection, *, email: str, client: str, now: datetime,
                    address_free: int) -> None:
    """A good password: the account's failures from this address are forgotten, and
    the try no longer counts against the address."""
    async with conn.transaction():
        await conn.execute(TAKE_BACK_ADDRESS, client, address_free, now)
        await conn.execute(FORGET_ACCOUNT, email, client)


async def delete_idle(conn: asyncpg.Connection, before: datetime) -> int:
    """Rows whose last wait ended before `before` would start afresh anyway: drop them."""
    result: str = await conn.execute(DELETE_IDLE, before)
    return int(result.split()[-1])
