"""The dashboard's campaign numbers: list growth, broadcast results, gifts, questions waiting.

Why a service: the page only draws. Here the window is cut in the
organization's calendar (`organization_zone`, the one place that names the
setting), the sparse per-day rows of gateway/store/dashboard_stats.py become
one value per day (days without a row are zeros, so a chart's bars are days,
not rows), and the waiting questions are laid over the themes the keywords
file gives each program, so a US campaign sees its themes (with zeros), not
every theme of every program ever configured. Series names are made in the
caller's words (`words`: the page's gettext; English by default), so a
French dashboard's legend is French.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import asyncpg

from gateway.config import Settings
from gateway.engine.rules import Rules
from gateway.plain_words import N_
from gateway.store import dashboard_stats as store
from gateway.store.dashboard_stats import BroadcastResult, DayCount, GiftDay

RANGES = (7, 30, 90)  # the page's choice of days
DEFAULT_RANGE = 30
TOP_SOURCES = 5  # keywords drawn as their own series; the rest are summed as "other"
OTHER = N_("other keywords")
SOURCE = N_("%(keyword)s on %(shortcode)s")
CODE = N_("short code %(shortcode)s")
Words = Callable[..., str]  # (msgid, **values) -> the sentence, e.g. Viewer.gettext


def english(message: str, /, **values: object) -> str:
    return message % values if values else message


def organization_zone(settings: Settings) -> str:
    """The organization's IANA zone: the calendar the dashboard's days are cut in."""
    return settings.organization_timezone


@dataclass(frozen=True, slots=True)
class Window:
    zone: str
    days: tuple[date, ...]  # local calendar days, oldest first, today last
    since: datetime  # local midnight starting the first day
    until: datetime  # now

    @classmethod
    def ending(cls, now: datetime, zone: str, days: int) -> Window:
        tz = ZoneInfo(zone)
        today = now.astimezone(tz).date()
        first = today - timedelta(days=days - 1)
        return cls(zone, tuple(first + timedelta(days=n) for n in range(days)),
                   datetime.combine(first, time(), tz), now)


@dataclass(frozen=True, slots=True)
class Source:
    """A keyword on a short code: the poster, rally or ad that asked people to text it."""

    shortcode: str
    keyword: str
    opt_ins: int


@dataclass(frozen=True, slots=True)
class CodeGrowth:
    shortcode: str
    opt_ins: int
    opt_outs: int

    @property
    def net(self) -> int:
        return self.opt_ins - self.opt_outs


@dataclass(frozen=True, slots=True)
class ThemeLoad:
    program: str
    program_name: str
    theme: str
    name: str
    sla_seconds: int | None  # None: a theme no longer in the keywords file
    waiting: int
    overdue: int
    oldest: datetime | None


@dataclass(frozen=True, slots=True)
class ProgramLoad:
    """One program's contact centre: its themes, or one line when nothing waits."""

    program: str
    name: str
    themes: tuple[ThemeLoad, ...]

    @property
    def waiting(self) -> int:
        return sum(t.waiting for t in self.themes)

    @property
    def overdue(self) -> int:
        return sum(t.overdue for t in self.themes)


@dataclass(frozen=True, slots=True)
class CampaignNumbers:
    window: Window
    opt_ins: dict[str, list[int]]  # series name -> one count per day (top keywords, other)
    opt_outs: dict[str, list[int]]  # "short code 12345" -> one count per day
    sources: list[Source]  # every keyword that brought opt-ins, most first
    codes: list[CodeGrowth]
    gift_days: dict[str, tuple[list[int], list[int]]]  # currency -> (gifts, cents) per day
    broadcasts: list[BroadcastResult]
    programs: list[ProgramLoad]  # questions waiting, per program and theme


def per_day(window: Window, rows: Iterable[tuple[date, int]]) -> list[int]:
    """One value per day of the window; days without a row are 0."""
    totals: Counter[date] = Counter()
    for day, n in rows:
        totals[day] += n
    return [totals[day] for day in window.days]


def source_name(shortcode: str, keyword: str, codes: int, words: Words = english) -> str:
    """"JOIN", or "JOIN on 12345" when the campaign has several short codes."""
    return words(SOURCE, keyword=keyword, shortcode=shortcode) if codes > 1 else keyword


def opt_in_series(window: Window, rows: list[DayCount], words: Words = english
                  ) -> tuple[dict[str, list[int]], list[Source]]:
    """The TOP_SOURCES keywords as their own daily series, the others summed as one."""
    totals: Counter[tuple[str, str]] = Counter()
    for r in rows:
        totals[(r.shortcode, r.keyword)] += r.count
    ranked = sorted(totals.items(), key=lambda item: (-item[1], item[0]))
    sources = [Source(code, word, n) for (code, word), n in ranked]
    codes = len({r.shortcode for r in rows})
    top = [key for key, _ in ranked[:TOP_SOURCES]]
    series = {source_name(code, word, codes, words): per_day(
        window, ((r.day, r.count) for r in rows if (r.shortcode, r.keyword) == (code, word)))
        for code, word in top}
    rest = [r for r in rows if (r.shortcode, r.keyword) not in top]
    if rest:
        series[words(OTHER)] = per_day(window, ((r.day, r.count) for r in rest))
    return series, sources


def code_growth(joined: list[DayCount], left: list[DayCount]) -> list[CodeGrowth]:
    ins: Counter[str] = Counter()
    outs: Counter[str] = Counter()
    for r in joined:
        ins[r.shortcode] += r.count
    for r in left:
        outs[r.shortcode] += r.count
    return [CodeGrowth(code, ins[code], outs[code]) for code in sorted(set(ins) | set(outs))]


def gift_series(window: Window, rows: list[GiftDay]) -> dict[str, tuple[list[int], list[int]]]:
    by_currency: dict[str, list[GiftDay]] = defaultdict(list)
    for r in rows:
        by_currency[r.currency].append(r)
    return {c: (per_day(window, ((r.day, r.gifts) for r in days)),
                per_day(window, ((r.day, r.cents) for r in days)))
            for c, days in sorted(by_currency.items())}


def program_loads(rules: Rules | None, waiting: list[store.ThemeWaiting]) -> list[ProgramLoad]:
    """Per program with a contact centre (themes in menu order, fallback last), then any
    program or theme with questions waiting that the keywords file no longer names."""
    found = {(w.program, w.theme): w for w in waiting}
    loads: list[ThemeLoad] = []
    for pid, themes in (rules.themes.items() if rules is not None else ()):
        program = rules.programs.get(pid) if rules is not None else None
        program_name = program.name if program is not None else pid
        named: list[tuple[str, str, int | None]] = [
            (t.id, t.name, t.sla) for t in themes.topics.values()]
        if themes.fallback not in themes.topics:
            named.append((themes.fallback, themes.fallback.capitalize(), None))
        for tid, name, sla in named:
            w = found.pop((pid, tid), None)
            loads.append(ThemeLoad(pid, program_name, tid, name, sla,
                                   w.waiting if w else 0, w.overdue if w else 0,
                                   w.oldest if w else None))
    for (pid, tid), w in sorted(found.items()):
        loads.append(ThemeLoad(pid, pid, tid, tid, None, w.waiting, w.overdue, w.oldest))
    programs: dict[str, list[ThemeLoad]] = {}
    for load in loads:
        programs.setdefault(load.program, []).append(load)
    return [ProgramLoad(pid, themes[0].program_name, tuple(themes))
            for pid, themes in programs.items()]


async def campaign_numbers(pool: asyncpg.Pool, *, rules: Rules | None, now: datetime,
                           zone: str, days: int, words: Words = english) -> CampaignNumbers:
    """Everything the dashboard's campaign sections show, for the last `days` local days."""
    window = Window.ending(now, zone, days)
    since, until = window.since, window.until
    async with pool.acquire() as conn:
        joined = await store.opt_ins_per_day(conn, since=since, until=until, zone=zone)
        left = await store.opt_outs_per_day(conn, since=since, until=until, zone=zone)
        gifts = await store.gifts_per_day(conn, since=since, until=until, zone=zone)
        broadcasts = await store.broadcast_results(conn, since=since, until=until)
        waiting = await store.questions_waiting(conn, now=now)
    opt_ins, sources = opt_in_series(window, joined, words)
    opt_outs = {words(CODE, shortcode=code): per_day(
        window, ((r.day, r.count) for r in left if r.shortcode == code))
        for code in sorted({r.shortcode for r in left})}
    return CampaignNumbers(window, opt_ins, opt_outs, sources, code_growth(joined, left),
                           gift_series(window, gifts), broadcasts, program_loads(rules, waiting))
