"""Opt-out, opt-in, double opt-in, re-subscription and HELP: the carrier-audited paths.

Every path that changes consent writes a ledger event (`Turn.consent`) and
sends exactly one confirmation carrying the program's disclosures. Choices
made here, with the rule behind each:

* STOP on a short code ends every program on that code (CTIA), clears any
  dialog or pending confirmation, and is answered once, with no marketing,
  even for a number we never saw.
* HELP is answered to anyone, opted out or not: carriers require it and it
  carries no marketing. To an opted-out number it goes out marked
  `compliance=True` so send-time suppression lets it through.
* START/UNSTOP, YES from an opted-out number, or an opt-in keyword are new
  consent: a new ledger event and the full confirmation. After a STOP,
  START/YES is itself the explicit confirmation, so it skips the double
  opt-in; a never-seen number texting START goes through it like JOIN.
* A text that mentions an opt-out word without clearly opting out
  (revocation.py: "don't stop", a long message) is answered once per
  number with how to stop (`texts.stop_hint`, else the help text), and
  handled as usual otherwise.
"""

from __future__ import annotations

from datetime import datetime

from gateway.engine.events import (
    DialogStopped,
    HelpSent,
    OptedOut,
    OptInConfirmed,
    OptInRepeated,
    OptInRequested,
    Resubscribed,
    StopHintSent,
)
from gateway.engine.rules import KeywordRules, ProgramRules
from gateway.engine.state import OPTED_OUT, PENDING, SUBSCRIBED
from gateway.engine.turn import Turn
from gateway.engine.types import Reply


def opt_out(turn: Turn, *, send_confirmation: bool) -> None:
    lead = turn.code.lead
    text = turn.render(lead.opted_out, lead.id)
    if turn.draft.dialog is not None:
        dialog = turn.draft.dialog
        turn.events.append(DialogStopped(str(dialog["id"]), str(dialog["program"]),
                                         reason="opted_out"))
        turn.draft.dialog = None
    # One confirmation answers every program the STOP ends: each ledger row points at it.
    reply_index = len(turn.replies) if send_confirmation else None
    for program in turn.code.programs:
        previous = turn.draft.status(program.id)
        turn.draft.set_status(program.id, OPTED_OUT, turn.at, previous=previous)
        turn.consent(OptedOut, program, turn.command.words, text, reply_index=reply_index)
    turn.opted_out = True
    if send_confirmation:
        turn.replies.append(Reply(text=text, compliance=True))


def help_reply(turn: Turn, *, send: bool = True, resume_dialog: bool = True) -> None:
    """HELP: the program's help text; `send=False` records it held back (flood.py)."""
    program = _current_program(turn)
    if send:
        turn.reply(program.help, program.id, compliance=turn.opted_out)
    turn.events.append(HelpSent(program.id, opted_out=turn.opted_out, replied=send))
    dialog = turn.draft.dialog
    if dialog is not None and not turn.opted_out and send and resume_dialog:
        # The dialog resumes: repeat the question the supporter was answering.
        step = turn.rules.dialogs[dialog["id"]].steps[dialog["step"]]
        turn.reply(step.prompt, dialog["program"])
        turn.draft.dialog = {**dialog, "last": turn.at}


def _current_program(turn: Turn) -> ProgramRules:
    """The program a HELP is most likely about: the dialog's, the latest joined, or the lead."""
    if turn.draft.dialog is not None:
        return turn.program(turn.draft.dialog["program"])
    joined = [
        (sub.get("since", ""), pid) for pid, sub in turn.draft.subs.items()
        if sub.get("status") in (SUBSCRIBED, PENDING) and pid in turn.code.variables
    ]
    return turn.program(max(joined)[1]) if joined else turn.code.lead


def resubscribe(turn: Turn, *, send: bool = True) -> None:
    """START / UNSTOP, or YES from an opted-out number.

    `send=False` (a flood, flood.py) holds back the "already subscribed"
    answer only; callers pass it only when `start_changes_consent` is False.
    """
    stopped = [p for p in turn.code.programs if turn.draft.status(p.id) == OPTED_OUT]
    before = len(turn.replies)
    for program in stopped or [turn.code.lead]:
        subscribe(turn, program, turn.command.first, confirmed_by_start=program in stopped)
    if not send:
        del turn.replies[before:]  # only "already subscribed" texts: no ledger row names them


def start_changes_consent(turn: Turn) -> bool:
    """Whether START would opt someone in (or ask for the Y), not just say "already in"."""
    stopped = [p for p in turn.code.programs if turn.draft.status(p.id) == OPTED_OUT]
    return bool(stopped) or turn.draft.status(turn.code.lead.id) != SUBSCRIBED


def stop_hint(turn: Turn) -> bool:
    """Say once per number how to stop; True when it was said now."""
    if turn.opted_out or turn.draft.stop_hint is not None:
        return False
    program = _current_program(turn)
    turn.reply(program.stop_hint or program.help, program.id)
    turn.draft.stop_hint = turn.at
    turn.stop_hint_sent = True
    turn.events.append(StopHintSent(program.id, turn.inbound.mo_id))
    return True


def subscribe(turn: Turn, program: ProgramRules, keyword: str, *,
              confirmed_by_start: bool = False, dialog: str | None = None) -> None:
    """Opt in now, or ask for the double opt-in Y first."""
    status = turn.draft.status(program.id)
    turn.opted_out = False
    if status == SUBSCRIBED:
        turn.reply(program.already_subscribed or program.confirmation, program.id)
        turn.events.append(OptInRepeated(program.id, keyword))
        return
    if program.double_opt_in and not confirmed_by_start:
        assert program.confirm_request is not None  # guaranteed by checks
        text = turn.reply(program.confirm_request, program.id)
        extra = {"keyword": keyword} | ({"dialog": dialog} if dialog else {})
        turn.draft.set_status(program.id, PENDING, turn.at, **extra)
        turn.consent(OptInRequested, program, keyword, text,
                     reply_index=turn.last_reply_index)
        return
    text = turn.reply(program.confirmation, program.id)
    turn.draft.set_status(program.id, SUBSCRIBED, turn.at, keyword=keyword)
    turn.consent(Resubscribed if status == OPTED_OUT else OptInConfirmed,
                 program, keyword, text, reply_index=turn.last_reply_index)


def confirm_pending(turn: Turn) -> tuple[bool, str | None]:
    """The supporter answered Y: confirm the latest live pending opt-in.

    Returns (whether one was confirmed, the dialog to start after it).
    """
    window = turn.rules.defaults.confirm_within
    pending = sorted(
        (turn.draft.subs[p]["since"], p) for p in turn.draft.pending()
        if p in turn.rules.programs
    )
    for since, pid in reversed(pending):
        if (turn.now - datetime.fromisoformat(since)).total_seconds() > window:
            continue
        program = turn.program(pid)
        previous = turn.draft.subs[pid]
        text = turn.reply(program.confirmation, pid)
        turn.draft.set_status(pid, SUBSCRIBED, turn.at, keyword=previous.get("keyword"))
        turn.consent(OptInConfirmed, program, str(previous.get("keyword", "")), text,
                     reply_index=turn.last_reply_index)
        dialog = previous.get("dialog")
        return True, str(dialog) if dialog else None
    return False, None


def opt_in_keyword(turn: Turn, keyword: KeywordRules) -> None:
    program = turn.program(keyword.program)
    subscribe(turn, program, keyword.word, dialog=keyword.dialog)
