"""STOP, START/UNSTOP and HELP in a flood: they always take effect; replies are limited.

The flood guard (more than `flood_limit_per_minute` MOs in a minute) exists
so an auto-responder cannot loop with us; it must never eat consent. So in a
flood, decide.py still opts out, re-subscribes and answers HELP, and only the
replies are rate-limited, by this rule:

* a reply that carries a change of consent is always sent: the first STOP's
  confirmation, START's confirmation (or its double opt-in request) for a
  number that was not subscribed. The law and the carriers want those, and
  a consent ledger row points at them;
* any other reply to those words (HELP, a STOP from a number already out,
  START from a number already in) goes out at most once a minute per word,
  counted while the flood lasts. One held back is recorded as
  `compliance_reply_limited` with the word and the reason, never silently.

Why per word and per minute: the minute is the flood guard's own window, so
an auto-responder sending HELP gets one help text a minute at most, while a
person who floods and then sends HELP still gets an answer.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from gateway.engine.events import ComplianceReplyLimited
from gateway.engine.state import FLOOD_WINDOW
from gateway.engine.turn import Turn

Word = Literal["stop", "start", "help"]


def may_reply(turn: Turn, word: Word, *, changes_consent: bool, flooded: bool) -> bool:
    """Whether to send this word's reply now; records why when not."""
    if not flooded or changes_consent:
        if flooded:
            _note(turn, word)
        return True
    last = (turn.draft.flood_replies or {}).get(word)
    last_at = None if last is None else datetime.fromisoformat(last)
    if last_at is not None and turn.now - last_at < FLOOD_WINDOW:
        turn.events.append(ComplianceReplyLimited(
            word, reason="flood", last_reply_at=last_at, mo_id=turn.inbound.mo_id,
            limit_per_minute=turn.rules.defaults.flood_limit_per_minute))
        return False
    _note(turn, word)
    return True


def _note(turn: Turn, word: Word) -> None:
    turn.draft.flood_replies = {**(turn.draft.flood_replies or {}), word: turn.at}
