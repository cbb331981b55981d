"""Carrier and legal words that exist whatever keywords.yaml says.

The YAML may change what these words *answer*, never whether they work:
the sets below are code, not configuration (CTIA short-code handbook; the
FCC's 2024 revocation rule for "any reasonable means" of revoking consent). Everything here
works on `normalize()`d text.

Opt-out errs on the side of the supporter: a phrase that plausibly means
"stop" opts out, and opt-out words of five letters or more also match with
one typo (`UNSUBSCRIBR`). A wrong opt-out costs a re-subscription; a missed
one is a violation. The opt-out rule itself lives in revocation.py.
"""

from __future__ import annotations

import re
from typing import Literal

from gateway.engine.model import Profile
from gateway.engine.revocation import (
    OPT_OUT_PHRASES,
    OPT_OUT_PREFIXES,
    OPT_OUT_WORDS,
    TYPO_MIN_LENGTH,
    is_opt_out,
)
from gateway.engine.revocation import classify as classify_opt_out

__all__ = [
    "HELP_WORDS", "OPT_OUT_PHRASES", "OPT_OUT_PREFIXES", "OPT_OUT_WORDS", "START_WORDS",
    "TYPO_MIN_LENGTH", "YES_WORDS", "classify_opt_out", "is_help", "is_opt_out", "is_start",
    "is_yes", "missing_disclosures", "required_disclosures", "reserved_words",
]

HELP_WORDS: dict[Profile, frozenset[str]] = {
    "us": frozenset({"HELP", "INFO"}),
    "fr": frozenset({"HELP", "INFO", "AIDE"}),
}
START_WORDS = frozenset({"START", "UNSTOP"})
# Deliberately narrow: an "ok" sent back to a STOP confirmation must not
# re-subscribe anyone, so only an unmistakable yes counts.
YES_WORDS: dict[Profile, frozenset[str]] = {
    "us": frozenset({"Y", "YES"}),
    "fr": frozenset({"Y", "YES", "O", "OUI"}),
}


def reserved_words(profile: Profile) -> frozenset[str]:
    """Words a keyword, alias, choice or skip word may never be."""
    return OPT_OUT_WORDS[profile] | HELP_WORDS[profile] | START_WORDS | YES_WORDS[profile] | {
        p.replace(" ", "") for p in OPT_OUT_PREFIXES[profile]
    }


def is_help(first: str, profile: Profile) -> bool:
    return first in HELP_WORDS[profile]


def is_start(first: str) -> bool:
    return first in START_WORDS


def is_yes(words: str, profile: Profile) -> bool:
    """A whole-message yes only: "yes but not now" is not a confirmation."""
    return words in YES_WORDS[profile]


DisclosureKind = Literal["confirmation", "help", "stop_hint"]


def required_disclosures(
    kind: DisclosureKind, profile: Profile, *, name: str, frequency: str, support: str,
    shortcode: str,
) -> list[tuple[str, tuple[str, ...]]]:
    """What a text must say: (description, needles; any needle satisfies it).

    Opt-in confirmation: CTIA item 8 (name, frequency, rates, HELP, STOP).
    HELP answer: CTIA item 7 (name, support contact, rates, frequency, STOP).
    How-to-stop answer (an unclear opt-out): the program name and STOP.
    French texts carry "STOP au <code>" (item 26); French short-code
    practice has no "Msg&data rates" wording, so it is not required there.
    """
    needs: list[tuple[str, tuple[str, ...]]] = [("the program name", (name,))]
    if kind == "stop_hint":
        stop = f"STOP au {shortcode}" if profile == "fr" else "STOP"
        return [*needs, (f'"{stop}"' if profile == "fr" else "STOP instructions", (stop,))]
    needs.append(("the message frequency", (frequency,)))
    if kind == "help":
        needs.append(("the support contact", (support,)))
    if profile == "fr":
        needs.append((f'"STOP au {shortcode}"', (f"STOP au {shortcode}",)))
        if kind == "confirmation":
            needs.append(("how to get help (AIDE or HELP)", ("AIDE", "HELP")))
        return needs
    needs.append(('"Msg&data rates may apply"',
                  ("Msg&data rates may apply", "Msg & data rates may apply")))
    if kind == "confirmation":
        needs.append(("HELP instructions", ("HELP",)))
    needs.append(("STOP instructions", ("STOP",)))
    return needs


def missing_disclosures(
    text: str, kind: DisclosureKind, profile: Profile, *, name: str, frequency: str,
    support: str, shortcode: str,
) -> list[str]:
    return [
        what
        for what, needles in required_disclosures(
            kind, profile, name=name, frequency=frequency, support=support, shortcode=shortcode
        )
        if not any(_mentions(text, needle) for needle in needles)
    ]


def _mentions(text: str, needle: str) -> bool:
    """Keywords (HELP, STOP) must appear as capitalised words; prose case-insensitively."""
    if needle.isupper() and needle.isalpha():
        return re.search(rf"\b{needle}\b", text) is not None
    return needle.casefold() in text.casefold()
