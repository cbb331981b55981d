"""A clock the test moves: a `gateway.clock.Clock` that stands still until told.

Why: a test that waits for time to pass (a confirmation window, a login
throttle's delay) with a real sleep is slow and, on a busy machine, wrong:
the sleep may be too short, or a wait meant to be running may already have
run out. Handed to the gateway (`running_gateway(..., clock=)`) or to the web
layer (`start_web_api(..., clock=)`), it makes "later" a statement, not a
wait.

A gateway's clock must not run ahead of PostgreSQL's `now()` (gateway/clock.py):
to test "a day later" end to end, start the clock a day in the past and move it
to the present.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class ManualClock:
    """Returns `now`; `advance` and `set` move it, never backwards."""

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now if now is not None else datetime.now(UTC)
        if self.now.utcoffset() is None:
            raise ValueError("the clock tells aware time (UTC), like gateway.clock.utc_now")

    def __call__(self) -> datetime:
        return self.now

    def advance(self, by: timedelta | float) -> datetime:
        """Move on by `by` (a timedelta, or seconds); returns the new now."""
        step = by if isinstance(by, timedelta) else timedelta(seconds=by)
        if step < timedelta(0):
            raise ValueError("time does not go backwards")
        self.now += step
        return self.now

    def set(self, to: datetime) -> None:
        """Jump to `to` (not earlier than now): e.g. from a day ago to the present."""
        if to < self.now:
            raise ValueError(f"time does not go backwards: {to} is before {self.now}")
        self.now = to

    def timestamp(self) -> float:
        """Now as unix seconds (the fake Stripe's and the webhook checks' kind of clock)."""
        return self.now.timestamp()
