"""A document's text cut into passages: the unit a search returns and an expert quotes.

Why passages rather than whole documents: a search for `hôpitaux` in a
forty-page programme must point at the three paragraphs about hospitals,
and an expert inserts one of them into an answer, not the programme. Why
paragraphs packed up to `TARGET_CHARS`: a passage is then a few complete
paragraphs, short enough to quote and to rank (PostgreSQL's ts_rank favours
nothing for length at that size), long enough to carry its context. A
paragraph longer than `MAX_CHARS` is cut at sentence ends, and a sentence
longer than that between words, so no passage exceeds `MAX_CHARS`.

Only the cutting is done here; stemming, accents, ranking and highlights
are PostgreSQL's (migration 210, store/knowledge_docs.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Final

TARGET_CHARS: Final = 700
MAX_CHARS: Final = 1000
_SENTENCE_END = re.compile(r"(?<=[.!?…;:])\s+")


def split_passages(text: str) -> list[str]:
    """`text` (paragraphs apart by blank lines) as passages, in order; every word kept once."""
    passages: list[str] = []
    current = ""
    for piece in _pieces(text):
        if current and len(current) + 2 + len(piece) > TARGET_CHARS:
            passages.append(current)
            current = ""
        current = f"{current}\n\n{piece}" if current else piece
    if current:
        passages.append(current)
    return passages


def _pieces(text: str) -> Iterator[str]:
    """Paragraphs, the long ones cut into pieces of at most MAX_CHARS."""
    for paragraph in text.split("\n\n"):
        paragraph = " ".join(paragraph.split())
        if not paragraph:
            continue
        if len(paragraph) <= MAX_CHARS:
            yield paragraph
            continue
        piece = ""
        for sentence in _SENTENCE_END.split(paragraph):
            for part in _bounded(sentence):
                if piece and len(piece) + 1 + len(part) > MAX_CHARS:
                    yield piece
                    piece = ""
                piece = f"{piece} {part}" if piece else part
        if piece:
            yield piece


def _bounded(sentence: str) -> Iterator[str]:
    """A sentence in runs of whole words of at most MAX_CHARS (a longer word is cut)."""
    run = ""
    for word in sentence.split():
        while len(word) > MAX_CHARS:
            if run:
                yield run
                run = ""
            yield word[:MAX_CHARS]
            word = word[MAX_CHARS:]
        if run and len(run) + 1 + len(word) > MAX_CHARS:
            yield run
            run = ""
        run = f"{run} {word}" if run else word
    if run:
        yield run
