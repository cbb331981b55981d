"""Turning what a phone sends into something a keyword can be compared with.

Why so much folding: supporters type on every kind of keyboard. `ADHÉRER`,
`adherer`, ` Adhérer! ` and a full-width `ＡＤＨＥＲＥＲ` are one keyword, and an
emoji or a trailing period must never turn a STOP into an unmatched text.
Look-alike letters from other scripts (a Cyrillic Т in STOP) fold to the
Latin letter they imitate (lookalikes.py), so what reads as a keyword on the
phone matches as one. Only the *first word* is folded for matching; the
argument keeps the raw text (an e-mail address or a free-text answer must
reach the dialog untouched).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

from gateway.engine.lookalikes import fold_lookalikes

T = TypeVar("T")

_ASCII_SEPARATORS = str.maketrans(
    {chr(c): " " for c in range(128) if not chr(c).isalnum()}
)


def _fold_once(text: str) -> str:
    text = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text).casefold())
    kept: list[str] = []
    for char in text:
        category = unicodedata.category(char)
        if category[0] == "M":  # combining accent: É -> E
            continue
        kept.append(char if category[0] in "LN" else " ")
    return fold_lookalikes(unicodedata.normalize("NFKC", "".join(kept)).upper())


def normalize(text: str) -> str:
    """Upper-case letters and digits separated by single spaces; idempotent.

    The ASCII fast path matters: it is the common case and `decide()` has a
    budget of ~20 µs.
    """
    if text.isascii():
        return " ".join(text.translate(_ASCII_SEPARATORS).upper().split())
    folded = " ".join(_fold_once(text).split())
    # A few characters only settle after a second pass (case mappings that
    # produce new compatibility forms); iterate to a fixed point so that
    # normalize(normalize(x)) == normalize(x) always holds.
    for _ in range(4):
        again = " ".join(_fold_once(folded).split())
        if again == folded:
            break
        folded = again
    return folded


@dataclass(frozen=True, slots=True)
class Command:
    """An MO split for matching: folded words, the folded first word, the raw rest."""

    words: str  # the whole text, normalized
    first: str  # first normalized word, "" for an empty or emoji-only text
    argument: str  # raw text after the first word, stripped


def parse_command(text: str) -> Command:
    words = normalize(text)
    first = words.split(" ", 1)[0] if words else ""
    return Command(words=words, first=first, argument=_raw_argument(text, first))


def _raw_argument(text: str, first: str) -> str:
    """The raw text after the token that produced the first word.

    Walks raw whitespace-separated tokens until their folded form has
    covered the first word, so `"🙂 join now"` and `"join-now"` both give
    sensible arguments ("now").
    """
    if not first:
        return ""
    stripped = text.strip()
    tokens = stripped.split(None, 1)
    head = normalize(tokens[0]) if tokens else ""
    while tokens and not head:  # leading emoji or punctuation-only tokens
        tokens = tokens[1].split(None, 1) if len(tokens) > 1 else []
        head = normalize(tokens[0]) if tokens else ""
    if not tokens:
        return ""
    if head != first and head.startswith(first + " "):
        # "join-now": the first raw token holds more than the first word.
        rest_of_token = head[len(first) + 1 :]
        tail = tokens[1] if len(tokens) > 1 else ""
        return f"{rest_of_token} {tail}".strip()
    return tokens[1].strip() if len(tokens) > 1 else ""


def within_one_edit(a: str, b: str) -> bool:
    """Optimal-string-alignment distance <= 1: one insert, delete, substitute or swap.

    A swap counts as one edit because `JION` for `JOIN` is the typo thumbs
    make most; plain Levenshtein would call it two.
    """
    if a == b:
        return True
    if len(a) > len(b):
        a, b = b, a
    la, lb = len(a), len(b)
    if lb - la > 1:
        return False
    i = 0
    while i < la and a[i] == b[i]:
        i += 1
    if la < lb:  # one insertion at i
        return a[i:] == b[i + 1 :]
    if a[i + 1 :] == b[i + 1 :]:  # one substitution at i
        return True
    return i + 1 < la and a[i] == b[i + 1] and a[i + 1] == b[i] and a[i + 2 :] == b[i + 2 :]


class TypoIndex(Generic[T]):
    """Words bucketed by length, so a typo lookup only compares plausible lengths."""

    __slots__ = ("_by_length",)

    def __init__(self, entries: Iterable[tuple[str, T]]) -> None:
        self._by_length: dict[int, list[tuple[str, T]]] = {}
        for word, payload in entries:
            self._by_length.setdefault(len(word), []).append((word, payload))

    def near(self, word: str) -> list[T]:
        """Payloads of every indexed word within one edit of `word`."""
        n = len(word)
        found: list[T] = []
        if n < 3:
            return [p for length in (n - 1, n, n + 1)
                    for c, p in self._by_length.get(length, ()) if within_one_edit(word, c)]
        first, last = word[0], word[-1]
        for length in (n - 1, n, n + 1):
            for candidate, payload in self._by_length.get(length, ()):
                # One edit between words of 3+ letters keeps the first or the last letter:
                # a cheap test that rejects almost every candidate.
                if (candidate[0] == first or candidate[-1] == last) and within_one_edit(
                    word, candidate
                ):
                    found.append(payload)
        return found
