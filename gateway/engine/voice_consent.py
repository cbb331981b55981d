"""A keypress on the voice line that asks for the SMS updates: the SMS opt-in's own decision.

Why no rule of its own: pressing 2 then 2 is consent for the line's program
and the caller's number, exactly like texting its opt-in keyword, so it goes
through `consent.subscribe` (engine/consent.py): the same new state, the
same reply (the confirmation, or the double opt-in's "reply Y" request), and
the same consent event, which the shell records in the ledger as a voice row
(the prompt heard, its version, the call). A program with double opt-in
still asks for the Y by text, which also guards against a spoofed caller ID.

The one difference is an opted-out number: a keypress does not undo a STOP.
The caller is told how to opt back in by text (START, which the carriers'
rules name), and nothing changes: the STOP was given on the SMS channel and
is revoked there, where the carrier's own records can show it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, Literal

from gateway.engine import consent
from gateway.engine.rules import Rules
from gateway.engine.state import OPTED_OUT, PENDING, SUBSCRIBED, Draft
from gateway.engine.text import parse_command
from gateway.engine.turn import Turn
from gateway.engine.types import ContactState, Decision, Inbound

KEYWORD: Final = "VOICE"  # the keyword the state and the ledger name for a keypress opt-in
NO_MO: Final = 0  # a voice opt-in has no MO; the shell records the call instead

Outcome = Literal["subscribed", "confirm_requested", "already_subscribed", "opted_out"]


@dataclass(frozen=True, slots=True)
class KeypressOptIn:
    outcome: Outcome
    decision: Decision | None  # None: nothing changes (an opted-out number)


def opt_in_by_keypress(state: ContactState, program_id: str, *, now: datetime,
                       rules: Rules) -> KeypressOptIn:
    """The caller at `state` (their number on the program's short code) asked for updates."""
    if now.tzinfo is None:
        raise ValueError("opt_in_by_keypress(now=...) must be timezone-aware (UTC)")
    now = now.astimezone(UTC)
    draft = Draft(state.data)
    if state.opted_out or draft.status(program_id) == OPTED_OUT:
        return KeypressOptIn("opted_out", None)
    program = rules.programs[program_id]
    turn = Turn(
        rules=rules, code=rules.for_shortcode(state.shortcode),
        inbound=Inbound(NO_MO, state.msisdn, state.shortcode, KEYWORD, now),
        command=parse_command(KEYWORD), now=now, at=now.isoformat(), draft=draft,
        opted_out=False)
    before = draft.status(program_id)
    consent.subscribe(turn, program, KEYWORD)
    after = turn.draft.status(program_id)
    outcome: Outcome = ("already_subscribed" if before == SUBSCRIBED
                        else "confirm_requested" if after == PENDING else "subscribed")
    new_state = ContactState(msisdn=state.msisdn, shortcode=state.shortcode,
                             opted_out=turn.opted_out, data=turn.draft.to_data())
    return KeypressOptIn(outcome, Decision(new_state=new_state, replies=tuple(turn.replies),
                                           events=tuple(turn.events)))
