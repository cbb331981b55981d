"""Where a login may send the browser next: a path on this site, or home.

Why so strict: browsers "repair" URLs before following them. They drop tabs
and newlines anywhere (`/\\t/evil.example` becomes `//evil.example`, another
site), read a backslash as a slash (`/\\evil.example`), and strip leading
spaces and control characters. A CR or LF would also split the Location
header itself. So a target is accepted only when it is already what a
browser would make of it: it starts with one `/`, has no second `/` or `\\`
right after, no backslash anywhere, no control or format character (Unicode
category C*) and no space other than the plain one (a browser encodes that
inside a path; the others may be dropped or mean a line break), and no scheme
or host when parsed. Anything
else is not repaired but replaced by "/": a link that fails this was not made
by us.
"""

from __future__ import annotations

import unicodedata
from urllib.parse import urlsplit

HOME = "/"
MAX_LENGTH = 2000


def safe_next(target: str | None) -> str:
    """`target` when it is a same-site path, else "/"."""
    if not target or len(target) > MAX_LENGTH:
        return HOME
    if not target.startswith("/") or target.startswith(("//", "/\\")):
        return HOME
    if "\\" in target or any(_unsafe(char) for char in target):
        return HOME
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return HOME
    return target


def _unsafe(char: str) -> bool:
    category = unicodedata.category(char)
    return category[0] == "C" or (category[0] == "Z" and char != " ")
