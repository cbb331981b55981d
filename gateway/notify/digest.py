"""The experts' digest: new questions in their themes since their last one.

Who: users with role `expert`, not disabled, with themes, who have not
turned digests off (the inbox page). When: at each slot of the schedule
(schedule.py); the gateway ticks every minute and does a slot once per user.
What: per theme with new unanswered questions, how many arrived, how many
no expert holds yet and the oldest of those with its link, and the link to
the inbox. Nothing new: no mail (the slot is still marked done).

Guarantees, on real PostgreSQL (tests/test_notify_digest.py):
- no repeat and no skip across a crash: the watermark, the slot and the
  queued mail are one transaction per user (store/notifications.py explains
  why the watermark is a transaction-id horizon);
- one digest per slot with two gateways: the user's row is locked with
  SKIP LOCKED and the slot re-checked; the dedupe key `digest:<user>:<slot>`
  backs it up.

The language is French when every question in it comes from a French
program, else English.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import asyncpg

from gateway.clock import Clock
from gateway.engine import Rules
from gateway.logs import get_logger
from gateway.notify.schedule import current_slot
from gateway.notify.staff_mail import StaffMail
from gateway.notify.texts import Language, language_of, span
from gateway.store import notifications as store
from gateway.store.notifications import DueExpert, NewCount, Unclaimed

log = get_logger("gateway.notify")

TICK_SECONDS = 60.0  # how often a gateway looks for a due slot (app.py)


@dataclass(frozen=True, slots=True)
class DigestSchedule:
    every_minutes: int  # 0: off
    hour: int
    zone: ZoneInfo


class DigestJob:
    """One tick: mark new experts, pass over idle ones, send each due expert's digest."""

    def __init__(self, pool: asyncpg.Pool, rules: Callable[[], Rules], *,
                 schedule: DigestSchedule, mail: StaffMail, clock: Clock) -> None:
        self.pool, self.rules, self.schedule = pool, rules, schedule
        self.mail, self.clock = mail, clock

    async def tick(self) -> int:
        """How many digests were queued."""
        if self.schedule.every_minutes == 0 or self.mail.sender is None:
            return 0
        now = self.clock()
        slot = current_slot(now, every_minutes=self.schedule.every_minutes,
                            hour=self.schedule.hour, zone=self.schedule.zone)
        queued = 0
        async with self.pool.acquire() as conn:
            await store.add_new_experts(conn, slot)
            await store.pass_over_idle(conn, slot)
            for user_id in await store.list_due(conn, slot):
                async with conn.transaction():
                    queued += await self._one(conn, user_id, slot, now)
        return queued

    async def _one(self, conn: asyncpg.Connection, user_id: int, slot: datetime,
                   now: datetime) -> int:
        expert = await store.lock_due(conn, user_id, slot)
        if expert is None:  # another gateway has it, or has done it
            return 0
        horizon, counts = await store.new_questions(conn, expert.themes, expert.watermark)
        sent = None
        if counts:
            unclaimed = await store.oldest_unclaimed(conn, sorted({c.theme for c in counts}))
            sent = await self._queue(conn, expert, counts, unclaimed, slot, now)
        await store.record_digest(conn, user_id, horizon=horizon, slot=slot,
                                  sent_at=now if sent else None)
        return 1 if sent else 0

    async def _queue(self, conn: asyncpg.Connection, expert: DueExpert,
                     counts: list[NewCount], unclaimed: list[Unclaimed], slot: datetime,
                     now: datetime) -> bool:
        rules = self.rules()
        language: Language = "fr" if all(
            language_of(_profile(rules, c.program)) == "fr" for c in counts) else "en"
        themes = digest_themes(rules, counts, unclaimed, language=language, now=now,
                               link=self.mail.link)
        total = sum(c.new for c in counts)
        queued = await self.mail.queue(
            conn, to=expert.email, kind="digest", language=language,
            dedupe_key=f"digest:{expert.user_id}:{slot:%Y-%m-%dT%H:%MZ}",
            values={"total": total, "themes": themes, "inbox_link": self.mail.link("/inbox")})
        if queued is not None:
            log.info("expert_digest_queued", user_id=expert.user_id, themes=len(themes),
                     questions=total)
        return queued is not None


def digest_themes(rules: Rules, counts: list[NewCount], unclaimed: list[Unclaimed], *,
                  language: Language, now: datetime,
                  link: Callable[[str], str]) -> list[dict[str, object]]:
    """One entry per theme with news, in the order of keywords.yaml's topics."""
    order = {tid: (p, topic.number) for p, (_, themes) in enumerate(rules.themes.items())
             for tid, topic in themes.topics.items()}
    new: dict[str, int] = {}
    names: dict[str, str] = {}
    for count in counts:
        new[count.theme] = new.get(count.theme, 0) + count.new
        names.setdefault(count.theme, _theme_name(rules, count.program, count.theme))
    oldest = {u.theme: u for u in unclaimed}
    entries: list[dict[str, object]] = []
    for theme in sorted(new, key=lambda t: (order.get(t, (len(order), 0)), t)):
        first = oldest.get(theme)
        entries.append({
            "name": names[theme], "new": new[theme],
            "unclaimed": first.count if first else 0,
            "oldest_waiting": (span((now - first.oldest_asked_at).total_seconds(), language)
                               if first else None),
            "oldest_link": link(f"/inbox/questions/{first.oldest_id}") if first else None,
        })
    return entries


def _profile(rules: Rules, program: str) -> str:
    found = rules.programs.get(program)
    return found.profile if found is not None else "us"


def _theme_name(rules: Rules, program: str, theme: str) -> str:
    themes = rules.themes.get(program)
    topic = themes.topics.get(theme) if themes is not None else None
    return topic.name if topic is not None else theme
