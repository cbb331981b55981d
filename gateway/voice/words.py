"""Plain words for the timeline events the voice line writes (support.py).

Shown by the `plain` filter as part of the "event" vocabulary
(gateway/web/plain.py); tests/test_plain_words.py finds every name written.
"""

from __future__ import annotations

from typing import Final

from gateway.plain_words import N_, Words
from gateway.voice.support import DONATION_LINK_SENT

VOICE_EVENT_WORDS: Final[Words] = {
    DONATION_LINK_SENT: N_("Donation link texted after a call"),
}
