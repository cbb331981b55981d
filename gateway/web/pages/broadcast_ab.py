"""The composer's A/B test fields and the broadcast page's variants (broadcast/ab_test.py).

Kept apart from pages/broadcasts.py so the composer stays one idea: these read
the optional "Test variants" fields (variant texts 2 to 4, the test share, the
metric, the wait, automatic or by hand) into an `AbTest`, and show each
variant's numbers with the organizer's button to send one to the rest.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Final

import asyncpg

from gateway.broadcast import ab_test, service
from gateway.broadcast.compose_checks import ComposeError
from gateway.plain_words import N_
from gateway.store import broadcast_results, broadcast_variants
from gateway.store.broadcasts import Broadcast

FIELDS: Final = ("variant_2", "variant_3", "variant_4", "test_percent", "metric",
                 "wait_hours", "ab_auto")
DEFAULTS: Final[dict[str, str]] = {"variant_2": "", "variant_3": "", "variant_4": "",
                                   "test_percent": "20", "metric": "clicks", "wait_hours": "4",
                                   "ab_auto": "yes"}
METRIC_WORDS: Final[dict[str, str]] = {
    "clicks": N_("most link clicks"), "replies": N_("most replies"),
    "gifts": N_("most gifts"), "opt_outs": N_("fewest opt-outs")}


def ab_test_of(form: dict[str, str]) -> ab_test.AbTest | None:
    """The test the form asks for; None when no second text was given."""
    others = [form.get(f"variant_{n}", "").strip() for n in (2, 3, 4)]
    if not any(others):
        return None
    try:
        percent = int(form.get("test_percent") or "0")
    except ValueError:
        raise ComposeError("test_percent", N_("the test share is a whole number of percent")) \
            from None
    try:
        hours = float(form.get("wait_hours") or "0")
    except ValueError:
        raise ComposeError("wait_hours", N_("the wait is a number of hours")) from None
    return ab_test.AbTest((form["text"], *[t for t in others if t]), percent,
                          form.get("metric", ""), timedelta(hours=hours),
                          auto=bool(form.get("ab_auto")))


@dataclass(frozen=True, slots=True)
class VariantShown:
    number: int
    text: str
    sent: int
    clicks: int
    replies: int
    gifts: int
    opt_outs: int
    winner: bool


async def variants_shown(conn: asyncpg.Connection, broadcast: Broadcast) -> list[VariantShown]:
    if broadcast.ab_phase is None:
        return []
    texts = await broadcast_variants.texts_of(conn, broadcast.id)
    stats = {r["variant"]: r for r in await broadcast_results.variant_stats(conn, broadcast.id)}
    shown = []
    for number, text in texts.items():
        row: Any = stats.get(number) or {}
        shown.append(VariantShown(
            number, text, row.get("sent", 0), row.get("clicks", 0), row.get("replies", 0),
            row.get("gifts", 0), row.get("opt_outs", 0), broadcast.ab_winner == number))
    return shown


def choose(raw: str) -> Callable[[asyncpg.Connection, int], Awaitable[Any]]:
    """The organizer's click: a variant's number, or empty for the test's own metric."""
    async def change(conn: asyncpg.Connection, broadcast_id: int) -> int:
        try:
            winner = int(raw) if raw.strip() else None
        except ValueError:
            raise ComposeError("winner", N_("choose one of the variants")) from None
        return await service.decide(conn, broadcast_id, winner=winner)
    return change
