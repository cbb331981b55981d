"""The voice line's report for organizers: calls per day, per branch, the abandon rate and
the questions left by voice per theme, over the last days of the organization's calendar.

Why here and not in the page: the page (/voice-line/report) and the API
(GET /api/v1/voice/report) show the same numbers, so they are made once. Days are
those of GATEWAY_FINANCE_TIMEZONE (the organization's time zone, as the finance
reports'), counted back from today; a day without a call is there with zeros, so a
quiet day reads as quiet rather than missing.

Abandoned (one definition, store/calls.py BRANCH_ENDS, which the Prometheus counter
`gateway_voice_calls_abandoned_total` also uses): a call whose end the provider has
told us of and that never reached a branch's end: the candidate's message played, the
donation link texted or the SMS opt-in done, a question recorded. The rate is abandoned
calls over ended calls (a call still under way is neither).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

import asyncpg

from gateway.engine import Rules
from gateway.store import voice_reports as store
from gateway.store.voice_reports import DayCount

DAYS: Final = 14
# Every branch a step can lead to, in the order a caller meets them (menus.py, steps.py).
BRANCHES: Final = ("message", "support", "donation_link", "sms_opt_in", "question", "theme",
                   "recorded", "goodbye")


@dataclass(frozen=True, slots=True)
class ThemeLine:
    theme: str
    name: str
    questions: int
    answered: int
    withheld: int


@dataclass(frozen=True, slots=True)
class VoiceReport:
    program: str
    zone: str
    first_day: date
    last_day: date
    days: list[DayCount]  # every day of the period, oldest first
    branches: dict[str, int]  # every branch (BRANCHES order): calls that reached it
    themes: list[ThemeLine]

    @property
    def calls(self) -> int:
        return sum(day.calls for day in self.days)

    @property
    def ended(self) -> int:
        return sum(day.ended for day in self.days)

    @property
    def abandoned(self) -> int:
        return sum(day.abandoned for day in self.days)

    @property
    def abandon_rate(self) -> float | None:
        """Abandoned over ended calls, 0..1; None before any call has ended."""
        return round(self.abandoned / self.ended, 4) if self.ended else None

    @property
    def voice_questions(self) -> int:
        return sum(line.questions for line in self.themes)

    def as_json(self) -> dict[str, Any]:
        return {
            "program": self.program, "time_zone": self.zone,
            "from": self.first_day.isoformat(), "to": self.last_day.isoformat(),
            "calls": self.calls, "ended": self.ended, "abandoned": self.abandoned,
            "abandon_rate": self.abandon_rate,
            "days": [{"day": d.day.isoformat(), "calls": d.calls, "ended": d.ended,
                      "abandoned": d.abandoned} for d in self.days],
            "branches": self.branches,
            "questions_by_theme": [{"theme": t.theme, "name": t.name, "questions": t.questions,
                                    "answered": t.answered, "withheld": t.withheld}
                                   for t in self.themes],
        }


async def voice_report(pool: asyncpg.Pool, rules: Rules, program: str, *, now: datetime,
                       zone: str, days: int = DAYS) -> VoiceReport:
    """The last `days` days of `zone`'s calendar, today included."""
    tz = ZoneInfo(zone)
    last = now.astimezone(tz).date()
    first = last - timedelta(days=days - 1)
    start = datetime.combine(first, time(0), tzinfo=tz)
    end = datetime.combine(last + timedelta(days=1), time(0), tzinfo=tz)
    async with pool.acquire() as conn:
        counted = await store.calls_per_day(conn, program, start, end, zone)
        reached = await store.calls_per_branch(conn, program, start, end, zone)
        asked = await store.voice_questions_per_theme(conn, program, start, end)
    by_day = {day.day: day for day in counted}
    every_day = [by_day.get(first + timedelta(days=n), DayCount(first + timedelta(days=n),
                                                                0, 0, 0))
                 for n in range(days)]
    branches = {branch: reached.get(branch, 0) for branch in BRANCHES}
    return VoiceReport(program, zone, first, last, every_day, branches,
                       _themes(rules, program, asked))


def _themes(rules: Rules, program: str, asked: list[store.ThemeCount]) -> list[ThemeLine]:
    """Every theme of the program (the keywords file's order), then any other one asked."""
    themes = rules.themes.get(program)
    topics = themes.topics if themes is not None else {}
    counts = {count.theme: count for count in asked}
    order = [*topics, *sorted(set(counts) - set(topics))]
    lines = []
    for theme in order:
        count = counts.get(theme)
        topic = topics.get(theme)
        lines.append(ThemeLine(theme, topic.name if topic is not None else theme,
                               count.questions if count else 0, count.answered if count else 0,
                               count.withheld if count else 0))
    return lines
