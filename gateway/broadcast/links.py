"""Links in a broadcast's text, and their tracked short form (docs/links-and-results.md).

Why shorten: a campaign's link (`https://example.org/events/2024/rally?src=sms`)
often costs a second SMS segment; `https://go.example.org/Ab3_...` is short and
of fixed length, so the composer's segment count is exact before sending.
Why per recipient: the token says who followed the link without any tracking
parameter added to the campaign's own address.

What counts as a link: an explicit `http://` or `https://` address, up to the
first space or character no address carries (`<`, `>`, `"`), without trailing
sentence punctuation (`.`, `,`, `!`, `?`, a closing bracket that opened before
the link...). A bare `example.org` is left alone: shortening what a supporter
may have read as plain words would surprise the organizer. A link that runs
straight into a placeholder (`https://x.org/?who={first_name}`) is personalized
and left as written.

Pure: no I/O; the tokens come from `new_tokens` (the `secrets` module, 96
random bits each: unguessable, and nothing to enumerate).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from gateway.engine.templates import Placeholder, Template
from gateway.store.broadcasts import BodyPart, ProfileField, ShortLink

TOKEN_BYTES = 12  # 96 bits; token_urlsafe gives 16 characters
TOKEN_LENGTH = 16

_CANDIDATE = re.compile(r"https?://[^\s<>\"]+", re.IGNORECASE)
_TRAILING = ".,;:!?'\")]}»…"
_CLOSING = {")": "(", "]": "[", "}": "{"}


def find_urls(text: str) -> list[tuple[int, int]]:
    """The (start, end) of every link in `text`, in order, never overlapping."""
    spans: list[tuple[int, int]] = []
    for match in _CANDIDATE.finditer(text):
        start, end = match.span()
        while end > start and text[end - 1] in _TRAILING:
            closing = text[end - 1]
            opening = _CLOSING.get(closing)
            if opening and text.count(opening, start, end) >= text.count(closing, start, end):
                break  # `https://en.wikipedia.org/wiki/Foo_(bar)` keeps its bracket
            end -= 1
        if _has_host(text[start:end]):
            spans.append((start, end))
    return spans


def _has_host(url: str) -> bool:
    rest = url.split("://", 1)[1]
    return bool(re.split(r"[/?#]", rest, maxsplit=1)[0])


def new_tokens(count: int) -> list[str]:
    """`count` fresh tokens (URL-safe, TOKEN_LENGTH characters each)."""
    return [secrets.token_urlsafe(TOKEN_BYTES) for _ in range(count)]


def short_url(base: str, token: str) -> str:
    return base + token


def shortened_text(text: str, base: str | None) -> str:
    """`text` as a recipient would read it: each link replaced by a short link of the real
    length (the token is a stand-in), so segments are counted on what is sent."""
    if not base:
        return text
    pieces: list[str] = []
    at = 0
    for start, end in find_urls(text):
        pieces += [text[at:start], short_url(base, "x" * TOKEN_LENGTH)]
        at = end
    pieces.append(text[at:])
    return "".join(pieces)


def shortened_template(template: Template, base: str | None) -> Template:
    """The template as it will be sent (links at their short length), for the preview's
    segment count; a link running into a placeholder stays, as `shorten_parts` leaves it."""
    if not base:
        return template
    parts: list[str | Placeholder] = []
    for index, part in enumerate(template.parts):
        if isinstance(part, str):
            followed = index + 1 < len(template.parts) and isinstance(
                template.parts[index + 1], Placeholder)
            kept = ""
            spans = find_urls(part)
            if followed and spans and spans[-1][1] == len(part):
                kept, part = part[spans[-1][0]:], part[:spans[-1][0]]
            part = shortened_text(part, base) + kept
        parts.append(part)
    return Template(shortened_text(template.source, base), tuple(parts))


@dataclass(frozen=True, slots=True)
class Shortened:
    parts: list[BodyPart]  # the body with ShortLink parts where the links were
    destinations: tuple[str, ...]  # the link of each ShortLink, by position


def shorten_parts(parts: Sequence[BodyPart], base: str | None) -> Shortened:
    """Replace the links of the literal parts by `ShortLink`s; unchanged when `base` is None."""
    if not base:
        return Shortened(list(parts), ())
    out: list[BodyPart] = []
    destinations: list[str] = []
    for index, part in enumerate(parts):
        if not isinstance(part, str):
            out.append(part)
            continue
        followed_by_field = index + 1 < len(parts) and isinstance(parts[index + 1], ProfileField)
        at = 0
        for start, end in find_urls(part):
            if end == len(part) and followed_by_field:
                continue  # personalized link: left as written
            if part[at:start]:
                out.append(part[at:start])
            out.append(ShortLink(len(destinations), base))
            destinations.append(part[start:end])
            at = end
        if part[at:]:
            out.append(part[at:])
    return Shortened(out, tuple(destinations))

