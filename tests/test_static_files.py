"""The pages' static files are whole: every stylesheet's blocks close, no merge left a marker.

Why: a stylesheet with one unclosed `@media` block still loads, and the browser silently
reads every rule after it as part of the block, so the desktop layout quietly takes the
phone's rules (it happened once: the Menu button showed on every screen).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

STATIC = Path(__file__).resolve().parents[1] / "gateway" / "web" / "static"
COMMENT = re.compile(r"/\*.*?\*/", re.S)
STRING = re.compile(r"\"(?:\\.|[^\"\\])*\"|'(?:\\.|[^'\\])*'")


def unbalanced(css: str) -> str | None:
    """Where the first block closes that was not opened, or that a block never closes."""
    text = STRING.sub('""', COMMENT.sub("", css))
    depth = 0
    for number, line in enumerate(text.splitlines(), 1):
        for char in line:
            depth += {"{": 1, "}": -1}.get(char, 0)
            if depth < 0:
                return f"line {number}: a '}}' with no block open"
    return None if depth == 0 else f"{depth} block(s) never closed"


@pytest.mark.parametrize("path", sorted(STATIC.glob("*.css")), ids=lambda p: p.name)
def test_every_stylesheet_closes_its_blocks(path: Path) -> None:
    assert unbalanced(path.read_text(encoding="utf-8")) is None


@pytest.mark.parametrize("path", sorted(STATIC.iterdir()), ids=lambda p: p.name)
def test_no_merge_marker_is_left(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert not re.search(r"^(<{7}|={7}|>{7})( |$)", text, re.M)


def test_the_check_finds_an_unclosed_media_block() -> None:
    assert unbalanced("@media (max-width: 600px) {\n  a { b: c; }\n") == "1 block(s) never closed"
    assert unbalanced("a { content: '}'; }\n/* } */") is None
