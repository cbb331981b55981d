"""The marker for words shown in place of an internal code, and their shape.

Why a marker that does nothing: a module that emits codes (event kinds,
states, reasons) keeps the English words for them beside the code, written
`N_("Opted out")`. `make translations` extracts every `N_(...)` into the
gettext catalog (gateway/web/translations/), so the French words live in
the same .po file as the pages' French; the pages translate them when they
show them (the `plain` template filter, gateway/web/filters.py). This
module imports nothing, so any layer may mark words.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeAlias

Words: TypeAlias = Mapping[str, str]  # code -> its English words, marked with N_


def N_(text: str) -> str:
    """Mark `text` for the translation catalog; returns it unchanged."""
    return text
