"""Donor details by SMS: the short dialog that answers a details hold (compliance rule 18).

When a gift would take a donor past $50 in the cycle (name and address) or
$200 (employer and occupation too) and the facts are not on file, the
billing service holds it and texts the details message: the web link, and
the first question of this dialog ("Or reply here: what is your full
name?"). Each answer is one fact; the next question follows until none is
missing, then the held gift proceeds (the billing service charges it).

Who knows what:

* the shell (pipeline/donation_ledger.py) reads the number's held donations and
  what is on file before each batch and writes them into the state as
  `details` = {refs, program, missing, expires[, retries, off]}; the
  database is the truth, so an answer given on the web form meanwhile, or a
  hold that expired, is seen on the next MO;
* here (pure): which fact is asked (the first missing one, in FIELDS
  order), whether this MO answers it (donor_fields.py), the reply, and a
  `donor_details_given` event with the cleaned values;
* the shell again: stores each fact (merged with what is on file) and
  releases the held gifts whose facts are complete, in the MO's transaction
  (billing/details.py `receive_donor_details`).

Precedence (decide.py): STOP, the flood guard, HELP and a pending YES/NO
for a donation come first. An exact keyword, YES/NO and START are not
answers either: they route on and the question stays open. Three answers in
a row that cannot be read end the SMS dialog for this hold (the reply
points to the link), so a supporter is never stuck in it; the hold itself
expires like an unconfirmed request (24 h).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from gateway.engine import compliance
from gateway.engine.donation_rules import NO_WORDS, YES_WORDS, DonationRules
from gateway.engine.donor_fields import FIELDS, parse_answer
from gateway.engine.events import DonorDetailsGiven, DonorDetailsUnreadable
from gateway.engine.types import Reply

if TYPE_CHECKING:
    from gateway.engine.turn import Turn

MAX_TRIES: Final = 3

# Every text here is a template of `donations.<program>.texts` (donation_texts.py has
# the wording a program that writes none gets): render(name, **values) -> str.
Render = Callable[..., str]


def first_question(render: Render, missing: Iterable[str]) -> str:
    """What the billing service's details text adds: the dialog's first question."""
    asked = _ordered(missing)
    if not asked:
        return ""
    question = render(f"details_ask_{asked[0]}")
    return render("details_reply_here", question=question[:1].lower() + question[1:])


def answer(turn: Turn) -> bool:
    """This MO as the answer to the open details question; False lets it route on."""
    hold = turn.draft.details
    if hold is None or turn.opted_out or hold.get("off"):
        return False
    rules = turn.rules.donations.get(str(hold.get("program")))
    missing = _ordered(hold.get("missing") or ())
    if rules is None or not missing or turn.now > datetime.fromisoformat(str(hold["expires"])):
        return False
    profile = rules.profile
    command = turn.command
    if (turn.code.exact.get(command.first) is not None or compliance.is_start(command.first)
            or command.words in YES_WORDS[profile] | NO_WORDS[profile]):
        return False
    render = _renderer(turn, rules)
    asked = missing[0]
    parsed = parse_answer(asked, turn.inbound.text, profile)
    refs = tuple(int(r) for r in hold.get("refs") or ())
    if not parsed.ok:
        tries = int(hold.get("retries") or 0) + 1
        gave_up = tries >= MAX_TRIES
        turn.draft.details = {**hold, "retries": tries, "off": gave_up}
        turn.events.append(DonorDetailsUnreadable(
            donation_refs=refs, field=asked, problem=parsed.error, gave_up=gave_up,
            mo_id=turn.inbound.mo_id, at=turn.now))
        wrong = parsed.error or asked
        expected = render(f"details_expected_{wrong}") or wrong
        text = render("details_gave_up") if gave_up else render(
            "details_unreadable", expected=expected, question=render(f"details_ask_{asked}"))
        turn.replies.append(Reply(text=text))
        return True
    rest = missing[1:]
    turn.draft.details = {**hold, "missing": rest, "retries": 0}
    turn.events.append(DonorDetailsGiven(
        donation_refs=refs, program=rules.program, committee=rules.committee, field=asked,
        values=parsed.values, complete=not rest, mo_id=turn.inbound.mo_id, at=turn.now))
    text = render(f"details_ask_{rest[0]}") if rest else render("details_complete")
    turn.replies.append(Reply(text=text))
    return True


def _renderer(turn: Turn, rules: DonationRules) -> Render:
    """The program's donation texts with its values (committee, short code...); '' for a
    text the program does not have."""
    base = turn.code.variables.get(rules.program) or turn.program(rules.program).variables(
        turn.code.code)
    known = {**turn.draft.profile, **base, **rules.variables()}  # as the donation dialog's

    def render(name: str, **values: str) -> str:
        template = rules.texts.get(name)
        return "" if template is None else template.render({**known, **values})

    return render


def hold_state(refs: list[int], program: str, missing: Iterable[str], expires: str,
               before: Mapping[str, Any] | None) -> dict[str, Any]:
    """The `details` state the shell writes; keeps the dialog's progress for the same hold."""
    state: dict[str, Any] = {"refs": refs, "program": program, "missing": _ordered(missing),
                             "expires": expires}
    if before is not None and list(before.get("refs") or ()) == refs:
        for key in ("retries", "off"):
            if before.get(key):
                state[key] = before[key]
    return state


def _ordered(names: Iterable[str]) -> list[str]:
    wanted = set(names)
    return [name for name in FIELDS if name in wanted]
