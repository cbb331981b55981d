"""The gateway's one notion of "now": a function that returns an aware UTC datetime.

Why a type and not `datetime.now(UTC)` at each use: what the gateway decides
depends on time (a YES after the confirmation window, a dialog left silent,
quiet hours, session expiry), and a test must be able to say what time it is
instead of sleeping until it is. `Gateway` takes one clock and hands the same
one to ingest (an MO's received_at, which the engine decides on), billing,
the broadcast ticker and the web layer; tests drive it with
tests/support/clock.py's `ManualClock`. The engine reads no clock at all:
time arrives as an argument.

PostgreSQL keeps its own `now()` for what it schedules (the outbox's
not_before, leases), so a clock must never run ahead of the database's: a
reply stamped in the future would wait for it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The wall clock: what every part uses unless a test hands it another."""
    return datetime.now(UTC)
