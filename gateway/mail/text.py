"""Decoded mail text made safe to store in PostgreSQL.

Why: mail arrives with raw 8-bit bytes where only ASCII is allowed (the
`email` package keeps them as surrogate escapes), with NUL characters, and
with charsets such as UTF-7 that can decode to lone surrogates. PostgreSQL
text and jsonb accept none of these, and a row that cannot be written is a
message refused with 451 for ever. Every string taken from a message passes
through `storable` on its way to a column.
"""

from __future__ import annotations

REPLACEMENT = "\ufffd"


def storable(text: str) -> str:
    """Surrogate escapes back to the bytes they stand for, read as UTF-8; NULs replaced."""
    if any("\ud800" <= ch <= "\udfff" for ch in text):
        try:
            data = text.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:  # lone surrogates that escape no byte (UTF-7 and the like)
            data = text.encode("utf-8", "surrogatepass")
        text = data.decode("utf-8", "replace")
    return text.replace("\x00", REPLACEMENT)


def storable_or_none(text: str | None) -> str | None:
    return None if text is None else storable(text)
