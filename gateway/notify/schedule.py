"""When experts' digests are due: a grid of local times that starts each day at one hour.

Why slots rather than "every N minutes since the last one": a slot is a name
every gateway computes alike from the clock, so two gateways (or one after a
restart) agree on which digest is the current one, and the per-user row
records the slot it covered (store/notifications.py). A gateway that was down
sends one digest at its first tick, covering everything since the last.

The grid: from `hour`:00 local time (the organization's time zone), every
`every_minutes`, which must divide a day, so each day has the same times
(1440: once a day at `hour`; 60: every hour on the hour). Times are wall-clock
times: 08:00 stays 08:00 across a daylight-saving change; on the night the
clocks go back, a repeated hour's slot is not sent twice.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

MINUTES_PER_DAY: Final = 1440


def current_slot(now: datetime, *, every_minutes: int, hour: int, zone: ZoneInfo) -> datetime:
    """The latest slot at or before `now` (aware), in UTC.

    `every_minutes` divides a day (GATEWAY_NOTIFY_DIGEST_MINUTES is checked so).
    """
    if every_minutes <= 0 or MINUTES_PER_DAY % every_minutes:
        raise ValueError(f"every_minutes={every_minutes} does not divide a day")
    local = now.astimezone(zone)
    anchor = datetime.combine(local.date(), time(hour), tzinfo=zone)
    step = timedelta(minutes=every_minutes)
    # Same tzinfo on both sides: Python subtracts wall-clock times, which is the grid.
    steps = (local.replace(fold=0) - anchor) // step
    return (anchor + steps * step).astimezone(UTC)
