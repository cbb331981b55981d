"""When a broadcast's held messages will go: per recipient group, the next allowed time.

"Deferred 4,000" tells an organizer nothing about whether the text lands
tonight or tomorrow. Held rows (waiting, and outside their quiet-hours
window) are grouped the way the sender times them: by the zones they may
be in and the rule set protecting them (`Scheduler.place`, the same code
materialization uses), and each group's release is `next_allowed` from the
quiet-hours module at `now`, the time the sender's own re-timing would
give. No rule is restated here.

A group's release can still slip for the few capped recipients (FL, OK,
MD: 3 messages per subject per 24 h), whose cap is enforced at send time.
Cost: one scan of the broadcast's waiting rows joined to their contacts
(0.7 s for 200,000 held rows on a 2-core machine), so it is read on a page
load or a CLI refresh, not by the once-a-second progress poll.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from gateway.broadcast.policy import QuietHoursPolicy
from gateway.broadcast.quiet_hours import (
    EVERY_DAY,
    MONDAY_TO_SATURDAY,
    NoAllowedTime,
    QuietRules,
    next_allowed,
)
from gateway.broadcast.schedule import Placement, Scheduler
from gateway.store import broadcasts as store

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True, slots=True)
class HeldGroup:
    zones: tuple[str, ...]  # every zone its recipients may be in
    window: str  # the rule protecting them, as local hours: "08:00-20:00, Mon-Sat"
    waiting: int  # held rows
    release_at: datetime | None  # None: no allowed minute within the horizon (a config error)


def window_text(rules: QuietRules) -> str:
    """`08:00-21:00`, `08:00-20:00 Mon-Sat, not on FR holidays`, `..., at most 3 per 24 h`."""
    text = f"{rules.start:%H:%M}-{rules.end:%H:%M}"
    if rules.weekdays == MONDAY_TO_SATURDAY:
        text += " Mon-Sat"
    elif rules.weekdays != EVERY_DAY:
        text += " " + ",".join(_DAYS[d] for d in sorted(rules.weekdays))
    if rules.zone:
        text += f" {rules.zone} time"
    if rules.holidays_country:
        text += f", not on {rules.holidays_country} holidays"
    if rules.max_per_subject is not None:
        hours = rules.subject_period.total_seconds() / 3600
        text += f", at most {rules.max_per_subject} per {hours:g} h"
    return text


async def held_groups(
    conn: asyncpg.Connection,
    broadcast_id: int,
    *,
    now: datetime,
    policy: QuietHoursPolicy | None = None,
    program_country: str | None = "US",
) -> list[HeldGroup]:
    """The broadcast's held rows per recipient group, soonest release first.

    `policy` and `program_country` must be the ones the gateway's broadcast
    tick uses (its defaults are these defaults).
    """
    scheduler = Scheduler(policy or QuietHoursPolicy(), program_country=program_country,
                          start=now)
    counts: dict[Placement, int] = {}
    for key, waiting in await store.held_zone_keys(conn, broadcast_id, now):
        placement = scheduler.place(key, now)
        counts[placement] = counts.get(placement, 0) + waiting
    groups = [
        HeldGroup(placement.zones, window_text(placement.rules), waiting,
                  _release(now, placement))
        for placement, waiting in counts.items()
    ]
    return sorted(groups, key=lambda g: (g.release_at is None, g.release_at or now, g.zones))


def _release(now: datetime, placement: Placement) -> datetime | None:
    try:
        return next_allowed(now, placement.zones, placement.rules)
    except NoAllowedTime:
        return None
