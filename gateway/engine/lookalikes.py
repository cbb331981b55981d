"""Look-alike letters (Cyrillic Т, Greek Ο, Cherokee Ꮪ...) folded to the Latin letter they imitate.

Why: a STOP typed with a Cyrillic Т and О looks like STOP on every phone and
a reasonable person means STOP by it, so it must opt out; a keyword typed on
a Russian or Greek keyboard layout should match too. Hand tables miss
letters, so the table is derived from Unicode's confusables data (UTS #39)
as shipped by the `confusable-homoglyphs` package: for every ASCII letter,
each single-letter look-alike from another script is folded to it. The fold
runs on upper-cased text (text.normalize), hence two choices:

* an upper-case ASCII letter's look-alikes win over a lower-case one's
  (Greek Ρ is P, not p), and everything folds to upper case;
* Unicode puts I and l in one class (its prototype is l). In upper-case text
  a look-alike of that class (Greek Ι, Cyrillic І or Ӏ) reads as I.

Only letters are folded, never digits (a ZIP code is left alone), and only
non-ASCII ones: plain ASCII never goes through this path.
"""

from __future__ import annotations

import string
import unicodedata
from typing import Final

from confusable_homoglyphs import confusables


def _build() -> dict[int, str]:
    data: dict[str, list[dict[str, str]]] = confusables.confusables_data
    table: dict[int, str] = {}
    for letter in string.ascii_uppercase + string.ascii_lowercase:
        target = "I" if letter == "l" else letter.upper()
        for entry in data.get(letter, ()):
            glyph = entry["c"].strip("\u200e\u200f")  # the data wraps right-to-left letters
            if (len(glyph) == 1 and not glyph.isascii()
                    and unicodedata.category(glyph).startswith("L")):
                table.setdefault(ord(glyph), target)
    return table


LATIN_LOOKALIKES: Final[dict[int, str]] = _build()


def fold_lookalikes(text: str) -> str:
    """`text` with every look-alike letter replaced by its ASCII capital."""
    return text.translate(LATIN_LOOKALIKES)
