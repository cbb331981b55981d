"""Every vocabulary the `plain` filter knows, by the name templates use.

    {{ b.status | plain("broadcast") }}

The words themselves live beside the code that emits the values (the engine's
events, the store's checked columns, finance's reconciliation); this table
only names them, so adding a vocabulary is one line here plus its words
there. tests/test_plain_words.py walks each source and fails on a value
without words, and on words without a French translation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from gateway.broadcast.clicks import LINK_EVENT_WORDS
from gateway.engine.events.words import EVENT_WORDS
from gateway.finance.words import RECONCILIATION_WORDS
from gateway.plain_words import Words
from gateway.services.imports.words import IMPORT_REASON_WORDS
from gateway.store.webhook_events import EVENT_TYPE_WORDS
from gateway.store.words import CHECKED, DIRECTION_WORDS, QUESTION_EVENT_WORDS
from gateway.voice.words import VOICE_EVENT_WORDS
from gateway.web.scope_words import SCOPE_WORDS

VOCABULARIES: Final[Mapping[str, Words]] = {
    "event": {**EVENT_WORDS, **QUESTION_EVENT_WORDS, **VOICE_EVENT_WORDS, **LINK_EVENT_WORDS},
    "reconciliation": RECONCILIATION_WORDS,
    "direction": DIRECTION_WORDS,
    "webhook_event": EVENT_TYPE_WORDS,
    "scope": SCOPE_WORDS,  # API token scopes (gateway/web/access.py)
    "import_reason": IMPORT_REASON_WORDS,
    **{name: checked.words for name, checked in CHECKED.items()},
}


def words_for(vocabulary: str) -> Words:
    """The vocabulary's words; a misspelt name in a template is an error, not a blank."""
    try:
        return VOCABULARIES[vocabulary]
    except KeyError:
        raise KeyError(f"plain({vocabulary!r}): no such vocabulary; known: "
                       f"{', '.join(sorted(VOCABULARIES))} (gateway/web/plain.py)") from None
