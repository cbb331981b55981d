"""A/B tests of a broadcast: what an organizer may ask for, and which variant wins.

How it runs (broadcast/service.py, docs/links-and-results.md): up to four
texts go to equal random shares of a test fraction of the audience; after the
chosen wait the winner goes to everyone else, chosen by the gateway at the set
time or by an organizer's click. The draw is a hash of the broadcast and the
number (store/broadcasts.py `AB_DRAW`): the same on every run, so a
materialization resumed after a crash assigns everyone as before, and the
outbox's one row per (broadcast, number) makes a second variant to one person
impossible: the winner only reaches those with no row yet.

Which variant wins: the highest rate per text sent of the variant (clicks:
recipients who followed a link; replies; gifts; opt-outs: the LOWEST rate),
ties to the lower variant number (the organizer's first text). Rates, not
counts, because the random shares are only nearly equal. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from gateway.broadcast.compose_checks import ComposeError
from gateway.plain_words import N_, said

METRICS: Final = ("clicks", "replies", "gifts", "opt_outs")
MAX_VARIANTS: Final = 4
MIN_PERCENT, MAX_PERCENT = 2, 90  # each variant must reach someone; the rest must remain
MAX_WAIT: Final = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class AbTest:
    texts: tuple[str, ...]  # variant 1 (the broadcast's text) first
    test_percent: int
    metric: str
    wait: timedelta
    auto: bool = True


@dataclass(frozen=True, slots=True)
class VariantStats:
    variant: int
    sent: int
    clicks: int  # recipients who followed a link of it
    replies: int
    gifts: int
    opt_outs: int

    def rate(self, metric: str) -> float:
        value: int = getattr(self, metric)
        return value / self.sent if self.sent else 0.0


def checked(test: AbTest) -> AbTest:
    """The test as asked, or a `ComposeError` naming the field to fix."""
    texts = tuple(t for t in test.texts if t.strip())
    if not 2 <= len(texts) <= MAX_VARIANTS:
        raise ComposeError("variants", said(N_("an A/B test has 2 to %(max_variants)s texts, not "
                                               "%(count)s"),
                                            max_variants=MAX_VARIANTS, count=len(texts)))
    if len(set(texts)) != len(texts):
        raise ComposeError("variants", N_("two variants have the same text"))
    if not MIN_PERCENT <= test.test_percent <= MAX_PERCENT:
        raise ComposeError("test_percent", said(N_("the test share is %(min_percent)s to "
                                                   "%(max_percent)s percent of the audience"),
                                                min_percent=MIN_PERCENT, max_percent=MAX_PERCENT))
    if test.metric not in METRICS:
        raise ComposeError("metric", said(N_("the winner is chosen by %(metrics)s"),
                                          metrics=', '.join(METRICS)))
    if not timedelta(0) < test.wait <= MAX_WAIT:
        raise ComposeError("wait", N_("the wait before choosing is more than 0 and at most "
                                      "7 days"))
    return AbTest(texts, test.test_percent, test.metric, test.wait, test.auto)


def winner(metric: str, stats: Sequence[VariantStats], variants: int) -> int:
    """The winning variant (1..variants); with nothing sent, variant 1."""
    by_number = {s.variant: s for s in stats}
    sign = -1.0 if metric == "opt_outs" else 1.0

    def key(number: int) -> tuple[float, int]:
        found = by_number.get(number)
        return (sign * found.rate(metric) if found else float("-inf"), -number)

    return max(range(1, variants + 1), key=key)
