"""A program's promised message frequency: a number per period, and the words that say it.

Why structured: the opt-in confirmation and the HELP answer promise "Up to 6
msgs/mo", and a broadcast must not break that promise. Free text cannot be
enforced, so keywords.yaml says `frequency: {max_messages: 6, per: month}` and
the disclosure text is derived from it (or, when an organizer words it
differently, checked against it). An old free-text `frequency:` is still read
when it states exactly one number and one period ("Up to 6 msgs/mo", "4 SMS/mois
max"); anything vaguer ("Msg frequency varies") is refused, because nothing
could be enforced from it.

Why "month" is a rolling 31 days when counting: it is the strictest common
reading, so a recipient never gets more than the promised number in any
calendar month nor in any 30 days (see docs/frequency-and-cli.md).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Literal

Period = Literal["day", "week", "month"]
PERIODS: tuple[Period, ...] = ("day", "week", "month")
WINDOWS: dict[Period, timedelta] = {
    "day": timedelta(days=1), "week": timedelta(days=7), "month": timedelta(days=31),
}

# Words (lower case, accents kept) that name a period, English and French.
_PERIOD_WORDS: dict[str, Period] = {
    **dict.fromkeys(("day", "days", "daily", "jour", "jours", "quotidien"), "day"),
    **dict.fromkeys(("wk", "wks", "week", "weeks", "weekly", "semaine", "semaines", "sem",
                     "hebdo", "hebdomadaire"), "week"),
    **dict.fromkeys(("mo", "mos", "mth", "month", "months", "monthly", "mois", "mensuel",
                     "mensuels"), "month"),
}
_WORD = re.compile(r"[^\W\d_]+|\d+")

# The derived text per profile: the wording carriers' audits expect.
_US_UNIT: dict[Period, str] = {"day": "day", "week": "wk", "month": "mo"}
_FR_UNIT: dict[Period, str] = {"day": "jour", "week": "semaine", "month": "mois"}


class FrequencyTextError(ValueError):
    """A frequency text that does not state one number and one period."""


def parse_text(text: str) -> tuple[int, Period]:
    """("Up to 6 msgs/mo") -> (6, "month"); refuses a text that is not exactly one of each."""
    words = _WORD.findall(text.lower())
    numbers = {int(w) for w in words if w.isdigit()}
    periods = {_PERIOD_WORDS[w] for w in words if w in _PERIOD_WORDS}
    if len(numbers) != 1 or len(periods) != 1:
        raise FrequencyTextError(
            f"{text!r} must state one number of messages and one period (day, week or "
            "month), like 'Up to 6 msgs/mo'; or write it as {max_messages: 6, per: month}"
        )
    number = numbers.pop()
    if number < 1:
        raise FrequencyTextError(f"{text!r}: the number of messages must be at least 1")
    return number, periods.pop()


def derived_text(max_messages: int, per: Period, profile: str) -> str:
    """The disclosure wording for a limit: "Up to 6 msgs/mo", "4 SMS/mois max"."""
    if profile == "fr":
        return f"{max_messages} SMS/{_FR_UNIT[per]} max"
    plural = "msg" if max_messages == 1 else "msgs"
    return f"Up to {max_messages} {plural}/{_US_UNIT[per]}"
