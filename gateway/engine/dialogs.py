"""Profiling dialogs: ask a question, validate the answer, move on.

A dialog always ends: it completes, expires after silence, is stopped by an
opt-out, or is interrupted by a keyword. A step that keeps getting bad
answers is given up after its retry limit (the field stays unknown) rather
than asking forever, so no supporter can get stuck in a loop.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from gateway.engine.events import (
    DialogCompleted,
    DialogExpired,
    DialogInterrupted,
    DialogStarted,
    ProfileUpdated,
    StepSkipped,
)
from gateway.engine.rules import DialogRules
from gateway.engine.turn import Turn
from gateway.engine.validators import VALIDATORS


def start(turn: Turn, dialog_id: str) -> None:
    dialog = turn.rules.dialogs[dialog_id]
    replaced = turn.draft.dialog
    if replaced is not None:  # one dialog at a time; the old one ends on the record
        turn.events.append(DialogInterrupted(str(replaced["id"]), str(replaced["program"]),
                                             int(replaced["step"]), by=dialog.id))
    turn.draft.dialog = {
        "id": dialog.id, "program": dialog.program, "step": 0, "retries": 0,
        "started": turn.at, "last": turn.at,
    }
    turn.events.append(DialogStarted(dialog.id, dialog.program))
    turn.reply(dialog.steps[0].prompt, dialog.program)


def expire_if_silent(turn: Turn) -> None:
    """Close a dialog left silent too long, or one a reload removed or shortened."""
    position = turn.draft.dialog
    if position is None:
        return
    dialog = turn.rules.dialogs.get(position["id"])
    if dialog is None or position["step"] >= len(dialog.steps):
        reason = "rules_changed"
    else:
        silent = (turn.now - datetime.fromisoformat(position["last"])).total_seconds()
        if silent <= dialog.expires_after:
            return
        reason = "silence"
    turn.events.append(DialogExpired(str(position["id"]), str(position["program"]),
                                     int(position["step"]), reason))
    turn.draft.dialog = None


def answer(turn: Turn) -> bool:
    """Feed the MO to the open dialog; False when it is not an answer (a keyword instead)."""
    position = turn.draft.dialog
    assert position is not None
    dialog = turn.rules.dialogs[position["id"]]
    step = dialog.steps[position["step"]]
    if step.skip is not None and turn.command.words == step.skip:
        turn.events.append(StepSkipped(dialog.id, step.spec.field, reason="skip_word"))
        _advance(turn, dialog, position)
        return True
    accepted = VALIDATORS[step.spec.validator](turn.inbound.text, step.spec)
    if accepted is not None:
        turn.draft.update_profile({step.spec.field: accepted.value, **accepted.derived})
        turn.events.append(ProfileUpdated(dialog.id, dialog.program, step.spec.field,
                                          accepted.value, accepted.derived))
        _advance(turn, dialog, position)
        return True
    if turn.command.first in turn.code.exact:
        turn.events.append(DialogInterrupted(dialog.id, dialog.program, int(position["step"]),
                                             keyword=turn.command.first))
        turn.draft.dialog = None
        return False
    retries = int(position["retries"]) + 1
    if retries > step.spec.retries:
        turn.events.append(StepSkipped(dialog.id, step.spec.field, reason="retries_exhausted"))
        _advance(turn, dialog, position)
        return True
    turn.draft.dialog = {**position, "retries": retries, "last": turn.at}
    turn.reply(step.reprompt, dialog.program)
    return True


def _advance(turn: Turn, dialog: DialogRules, position: dict[str, Any]) -> None:
    following = int(position["step"]) + 1
    if following >= len(dialog.steps):
        turn.draft.dialog = None
        turn.events.append(DialogCompleted(dialog.id, dialog.program))
        if dialog.closing is not None:
            turn.reply(dialog.closing, dialog.program)
        return
    turn.draft.dialog = {**position, "step": following, "retries": 0, "last": turn.at}
    turn.reply(dialog.steps[following].prompt, dialog.program)
