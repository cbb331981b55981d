"""A broadcast must not send anyone past the frequency their program promised at opt-in.

The opt-in confirmation and the HELP answer say "Up to 6 msgs/mo"; that is
`frequency: {max_messages: 6, per: month}` in keywords.yaml. Before a
broadcast is stored, `pushed_past` counts the recipients who already had
that many of the program's broadcast messages in the period ending at the
send time (the store query says which messages count and why); if any
would get one too many, creation is refused, naming how many, unless the
organizer overrides it explicitly. An override that mattered is written to
the audit log with the numbers, in the same transaction as the broadcast.

Why at creation: it is the moment an organizer can still narrow the filter
or move the date, and the check is one query over the same eligible set as
the preview. Why again when the rows are written: a draft started weeks
later, a broadcast moved to another day, or two broadcasts created back to
back (neither sees the other's rows, which do not exist yet) would otherwise
break the promise. The promise in force at creation (`kept_promise`) is
stored on the broadcast, and materialization skips every recipient already
at the limit unless the creator overrode it (gateway/store/broadcasts.py);
`record_skipped` leaves the count in the audit log.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

import asyncpg

from gateway.audience import Audience, NumberIn
from gateway.engine.frequency import WINDOWS
from gateway.engine.rules import ProgramRules
from gateway.logs import get_logger
from gateway.store import audit as audit_store
from gateway.store import broadcast_frequency as store
from gateway.store.broadcasts import Broadcast

log = get_logger("gateway.broadcast.frequency")

FREQUENCY_OVERRIDDEN: Final = "broadcast.frequency_overridden"
FREQUENCY_SKIPPED: Final = "broadcast.frequency_skipped"


@dataclass(frozen=True, slots=True)
class PastLimit:
    """How many recipients one more message would push past the program's promise."""

    program: str
    recipients: int
    max_messages: int
    per: str
    promise: str  # the disclosure text, as subscribers read it
    since: datetime
    at: datetime

    def refusal(self) -> str:
        people = "recipient" if self.recipients == 1 else "recipients"
        return (
            f"{self.recipients} {people} already had {self.max_messages} broadcast "
            f"message(s) of program {self.program!r} in the {self.per} before "
            f"{self.at.isoformat(timespec='minutes')}; this broadcast would push them past the "
            f"promised frequency ({self.promise!r}). Narrow the filter or send later; "
            "or override the frequency limit explicitly (it is audit-logged)"
        )

    def detail(self) -> dict[str, Any]:
        return {"program": self.program, "pushed_past": self.recipients,
                "max_messages": self.max_messages, "per": self.per,
                "since": self.since.isoformat(), "send_time": self.at.isoformat()}


async def pushed_past(
    conn: asyncpg.Connection,
    rules: ProgramRules,
    *,
    shortcode: str,
    audience: Audience | None,
    at: datetime | None,
    now: datetime,
) -> PastLimit:
    """Recipients who already had the promised number in the period before `at` (or `now`)."""
    limit = rules.frequency_limit
    send_at = max(at or now, now)
    since = send_at - WINDOWS[limit.per]
    count = await store.count_at_limit(
        conn, shortcode=shortcode, program=rules.id, audience=audience, now=now, since=since,
        max_messages=limit.max_messages,
    )
    return PastLimit(program=rules.id, recipients=count, max_messages=limit.max_messages,
                     per=limit.per, promise=rules.frequency, since=since, at=send_at)


async def numbers_pushed_past(
    conn: asyncpg.Connection, rules: ProgramRules, *, shortcode: str, numbers: Sequence[str],
    now: datetime,
) -> set[str]:
    """Which of `numbers` one more message now would push past the promise (the send API
    refuses those and sends to the rest, as it does for opted-out numbers)."""
    if not numbers:
        return set()
    limit = rules.frequency_limit
    return await store.numbers_at_limit(
        conn, shortcode=shortcode, program=rules.id, audience=NumberIn(tuple(numbers)),
        now=now, since=now - WINDOWS[limit.per], max_messages=limit.max_messages)


async def record_override(
    conn: asyncpg.Connection, broadcast_id: int, past: PastLimit, *, actor: str
) -> None:
    """The override, for compliance review: who, which broadcast, how many people, which limit."""
    await audit_store.insert_entry(
        conn, actor_id=None, actor=actor, action=FREQUENCY_OVERRIDDEN,
        target=f"broadcast:{broadcast_id}", detail=past.detail(),
    )
    log.warning("broadcast_frequency_overridden", broadcast_id=broadcast_id,
                program=past.program, pushed_past=past.recipients)


def kept_promise(rules: ProgramRules) -> tuple[int, timedelta]:
    """The program's promise as the broadcast keeps it: (messages, rolling period)."""
    limit = rules.frequency_limit
    return limit.max_messages, WINDOWS[limit.per]


async def record_skipped(conn: asyncpg.Connection, broadcast: Broadcast) -> None:
    """Recipients left out when the rows were written, for the organizer and compliance review."""
    await audit_store.insert_entry(
        conn, actor_id=None, actor="gateway", action=FREQUENCY_SKIPPED,
        target=f"broadcast:{broadcast.id}",
        detail={"program": broadcast.program, "skipped": broadcast.over_frequency,
                "max_messages": broadcast.frequency_max,
                "period_days": (broadcast.frequency_window or timedelta(0)).days},
    )
    log.warning("broadcast_frequency_skipped", broadcast_id=broadcast.id,
                program=broadcast.program, skipped=broadcast.over_frequency)
