"""The marker for words shown in place of an internal code, and their shape.

Why a marker that does nothing: a module that emits codes (event kinds,
states, reasons) keeps the English words for them beside the code, written
`N_("Opted out")`. `make translations` extracts every `N_(...)` into the
gettext catalog (gateway/web/translations/), so the French words live in
the same .po file as the pages' French; the pages translate them when they
show them (the `plain` template filter, gateway/web/filters.py). This
module imports nothing, so any layer may mark words.

A refusal's sentence with values in it is a `Said` (`said(N_("..."), name=value)`):
the English text for the API, the CLI and the logs, and its msgid and values
for a page to say it in the viewer's language (docs/locale.md, "Refusals in
the viewer's language").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TypeAlias

Words: TypeAlias = Mapping[str, str]  # code -> its English words, marked with N_


def N_(text: str) -> str:
    """Mark `text` for the translation catalog; returns it unchanged."""
    return text


class Said(str):
    """A sentence in English that remembers its msgid and values, so a page can translate it.

    Why a str: a refusal's message goes on as it always has (the API's JSON,
    the CLI's line, a log) and reads `msgid % params` in English; a page that
    has a viewer says it in the viewer's language instead (`Viewer.gettext`;
    a template prints it translated, gateway/web/filters.py `shown`). The
    msgid is marked `N_` where it is written, so `make translations` finds it,
    and names every value (`%(name)s`), so the French can put them where
    French puts them.
    """

    msgid: str
    params: Mapping[str, object]

    def __new__(cls, msgid: str, params: Mapping[str, object]) -> Said:
        said = super().__new__(cls, msgid % params if params else msgid)
        said.msgid = msgid
        said.params = params
        return said

    def __reduce__(self) -> tuple[type[Said], tuple[str, Mapping[str, object]]]:
        return Said, (self.msgid, self.params)  # a copy or a pickle keeps what it says


def said(msgid: str, /, **params: object) -> Said:
    """`said(N_("No program %(program)s"), program=name)`: the sentence with its values.

    A value that is an error (`err=err`) is its `reason`, so a translated
    refusal it carries is translated too.
    """
    return Said(msgid, {name: reason(value) if isinstance(value, BaseException) else value
                        for name, value in params.items()})


def reason(err: BaseException) -> str:
    """What `err` says, as a `Said`: the one it was raised with, or its text (a page translates
    either, a sentence marked N_ or one with values)."""
    first = err.args[0] if len(err.args) == 1 else None
    return sentence(first if isinstance(first, Said) else str(err))


def sentence(text: str) -> Said:
    """`text` as a `Said` (itself if it is one): a value that a page translates too."""
    return text if isinstance(text, Said) else Said(text, {})


def joined(items: Iterable[str], separator: str = ", ") -> Said:
    """`items` (sentences among them) in one value, each translated where it is shown."""
    listed = list(items)
    pattern = separator.replace("%", "%%").join(f"%(item{n})s" for n in range(len(listed)))
    return Said(pattern, {f"item{n}": item for n, item in enumerate(listed)})
