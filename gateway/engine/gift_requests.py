"""Text-to-give: `GIVE 10` -> a confirmation request -> `YES` -> `donation_confirmed`.

The engine runs the conversation only; the money moves elsewhere. Split:

* here (pure): which method (saved card, carrier price point, or a checkout
  link), the confirmation request with every disclosure, the confirmation
  window, and the events the ledger records. `donation_ref` is the requesting
  MO's id: known inside the engine, unique, and the shell makes it the
  donation's primary key and the Stripe idempotency key.
* the billing service (shell): legal limits need totals from the database,
  so `billing.policy.check_limits` runs there, after the YES and before any
  charge; so do donor details. The engine never says "charged" or "refused".

Precedence of a pending confirmation (decide.py has the whole order): STOP
first (it cancels the donation: `donation_cancelled`), then the flood guard
(an auto-responder's YES never confirms a charge), then HELP (answered; the
donation stays pending), then the pending donation: YES confirms it, NO
declines it, even when a double opt-in also waits for its Y. Why the
donation wins: its request is the newer question, and answering the older
one with a charge is impossible this way round (an opt-in costs nothing,
a misdirected YES to a donation would). A YES with no donation pending and
an opt-in pending goes to the opt-in; a repeated YES after a confirmation
with nothing pending is recorded (`donation_yes_repeated`) and confirms
nothing. Anything else leaves the request pending until it expires.

Modules: donation_rules.py (compiled settings, money as text), donation_checks.py
(load-time refusals), donor_details.py (the donor-details dialog by SMS) and this
one (GIVE / YES). The names other modules import from here are re-exported.

State (`ContactState.data`, see state.py):
    "donation":     the pending request {ref, program, amount_cents, currency,
                    method, requested, expires, keyword[, card_last4]}
    "donation_ask": we asked for an amount; the very next MO may answer it
    "donation_last": the latest confirmation {ref, program, confirmed}
    "card":         {"last4": "4242"} written by the shell from the saved card
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from gateway.engine.donation_checks import (
    donation_findings,
    missing_confirmation_disclosures,
)
from gateway.engine.donation_rules import (
    CARD,
    CARRIER,
    DONATION_VARIABLES,
    NEVER,
    NO_WORDS,
    PROFILE_DEFAULTS,
    YES_WORDS,
    DonationRules,
    Limits,
    compile_donations,
    format_choices,
    format_money,
    parse_amount_cents,
)
from gateway.engine.events import (
    DonationAmountAsked,
    DonationCancelled,
    DonationConfirmationSent,
    DonationConfirmed,
    DonationExpired,
    DonationRequested,
    DonationYesRepeated,
)
from gateway.engine.types import Reply

if TYPE_CHECKING:
    from gateway.engine.rules import KeywordRules
    from gateway.engine.turn import Turn

__all__ = [
    "CARD", "CARRIER", "DONATION_VARIABLES", "NEVER", "NO_WORDS", "PROFILE_DEFAULTS",
    "YES_WORDS", "DonationRules", "Limits", "answer", "cancel_on_opt_out", "compile_donations",
    "donation_findings", "format_choices", "format_money", "missing_confirmation_disclosures",
    "parse_amount_cents", "request",
]


def request(turn: Turn, keyword: KeywordRules) -> None:
    """GIVE / DONATE [amount]: ask for the amount, send the confirmation request, or a link."""
    rules = turn.rules.donations.get(keyword.program)
    assert rules is not None  # guaranteed by checks: a donate keyword needs donations:
    if turn.draft.donation is not None:
        _cancel(turn, "replaced")
    turn.draft.donation_ask = None
    argument = turn.command.argument
    amount = parse_amount_cents(argument) if argument else None
    _offer(turn, rules, amount, keyword.word, argument)


def answer(turn: Turn) -> bool:
    """A reply to the donation dialog; False lets the MO route on (keywords, dialogs...)."""
    if turn.opted_out:
        return False
    draft, words = turn.draft, turn.command.words
    is_yes = words in YES_WORDS[turn.code.profile]
    pending = draft.donation
    if pending is not None:
        rules = turn.rules.donations.get(str(pending["program"]))
        expired = turn.now > datetime.fromisoformat(pending["expires"])
        if rules is None:  # a reload removed this program's donations: nothing to confirm
            _cancel(turn, "rules_changed")
        elif is_yes:
            if expired:
                _expire(turn, rules, reply=True)
            else:
                _confirm(turn, pending, rules)
            return True
        elif words in NO_WORDS[turn.code.profile]:
            _cancel(turn, "declined", rules)
            return True
        elif expired:
            _expire(turn, rules, reply=False)
        else:
            return False
    ask = draft.donation_ask
    if ask is not None:
        draft.donation_ask = None
        rules = turn.rules.donations.get(str(ask["program"]))
        amount = parse_amount_cents(turn.inbound.text)
        if rules is not None and amount is not None and _within(ask["at"], rules, turn.now):
            _offer(turn, rules, amount, str(ask["keyword"]), turn.inbound.text.strip())
            return True
    last = draft.donation_last
    if last is not None:
        rules = turn.rules.donations.get(str(last["program"]))
        if rules is None or not _within(last["confirmed"], rules, turn.now):
            draft.donation_last = None
        elif is_yes and not draft.pending():
            turn.events.append(DonationYesRepeated(int(last["ref"]), turn.inbound.mo_id,
                                                   turn.now))
            _say(turn, rules, "already_confirmed")
            return True
    return False


def cancel_on_opt_out(turn: Turn) -> None:
    """STOP ends a pending request (no charge) and forgets the donation dialog."""
    if turn.draft.donation is not None:
        _cancel(turn, "opted_out")
    turn.draft.donation_ask = None
    turn.draft.donation_last = None


def _offer(turn: Turn, rules: DonationRules, amount: int | None, keyword: str,
           argument: str) -> None:
    card = turn.draft.card if CARD in rules.methods else None
    last4 = str(card.get("last4", "")) if card else ""
    if amount is None or amount <= 0 or amount > rules.limits.per_election:
        _ask(turn, rules, keyword, argument, "missing" if not argument else "invalid")
    elif last4:
        _request_confirmation(turn, rules, amount, CARD, keyword, argument, last4)
    elif CARRIER in rules.methods and amount in rules.price_points:
        _request_confirmation(turn, rules, amount, CARRIER, keyword, argument, "")
    elif CARD in rules.methods:
        # No saved card: the billing service answers with a Checkout link; paying there
        # is the confirmation, so nothing waits for a YES here.
        _requested(turn, rules, amount, CARD, keyword, argument, "checkout")
    else:
        _ask(turn, rules, keyword, argument, "not_a_price_point")


def _ask(turn: Turn, rules: DonationRules, keyword: str, argument: str, reason: str) -> None:
    turn.draft.donation_ask = {"program": rules.program, "keyword": keyword, "at": turn.at}
    turn.events.append(DonationAmountAsked(
        program=rules.program, keyword=keyword, argument=argument, reason=reason,
        price_points=rules.price_points, mo_id=turn.inbound.mo_id, at=turn.now))
    _say(turn, rules, "ask_amount")


def _requested(turn: Turn, rules: DonationRules, amount: int, method: str, keyword: str,
               argument: str, flow: str) -> datetime:
    expires = turn.now + timedelta(seconds=rules.confirm_within)
    turn.events.append(DonationRequested(
        donation_ref=turn.inbound.mo_id, program=rules.program, committee=rules.committee,
        shortcode=turn.code.code, keyword=keyword, argument=argument, amount_cents=amount,
        currency=rules.currency, method=method, flow=flow, expires_at=expires,
        mo_id=turn.inbound.mo_id, mo_text=turn.inbound.text, at=turn.now))
    return expires


def _request_confirmation(turn: Turn, rules: DonationRules, amount: int, method: str,
                          keyword: str, argument: str, last4: str) -> None:
    expires = _requested(turn, rules, amount, method, keyword, argument, "sms_confirmation")
    pending: dict[str, Any] = {
        "ref": turn.inbound.mo_id, "program": rules.program, "amount_cents": amount,
        "currency": rules.currency, "method": method, "keyword": keyword,
        "requested": turn.at, "expires": expires.isoformat(),
    }
    if last4:
        pending["card_last4"] = last4
    turn.draft.donation = pending
    name = "confirm_card" if method == CARD else "confirm_carrier"
    text = _say(turn, rules, name, amount=rules.money(amount), card_last4=last4)
    turn.events.append(DonationConfirmationSent(
        donation_ref=turn.inbound.mo_id, method=method, text=text,
        reply_index=turn.last_reply_index, at=turn.now))


def _confirm(turn: Turn, pending: Mapping[str, Any], rules: DonationRules) -> None:
    """The legal date of receipt is now (compliance rule 20); no reply: the billing
    service answers once it has charged (thanks) or refused (a limit)."""
    turn.events.append(DonationConfirmed(
        donation_ref=int(pending["ref"]), program=rules.program, committee=rules.committee,
        amount_cents=int(pending["amount_cents"]), currency=str(pending["currency"]),
        method=str(pending["method"]), confirmed_at=turn.now,
        requested_at=datetime.fromisoformat(str(pending["requested"])),
        mo_id=turn.inbound.mo_id, mo_text=turn.inbound.text))
    turn.draft.donation = None
    turn.draft.donation_last = {"ref": pending["ref"], "program": rules.program,
                                "confirmed": turn.at}


def _expire(turn: Turn, rules: DonationRules, *, reply: bool) -> None:
    pending = turn.draft.donation
    assert pending is not None
    deadline = datetime.fromisoformat(str(pending["expires"]))
    turn.events.append(DonationExpired(int(pending["ref"]), expired_at=deadline,
                                       mo_id=turn.inbound.mo_id, at=turn.now))
    turn.draft.donation = None
    if reply:
        _say(turn, rules, "expired", amount=rules.money(int(pending["amount_cents"])))


def _cancel(turn: Turn, reason: str, rules: DonationRules | None = None) -> None:
    pending = turn.draft.donation
    assert pending is not None
    turn.events.append(DonationCancelled(int(pending["ref"]), reason, turn.inbound.mo_id,
                                         turn.now))
    turn.draft.donation = None
    if rules is not None:
        _say(turn, rules, "cancelled", amount=rules.money(int(pending["amount_cents"])))


def _say(turn: Turn, rules: DonationRules, name: str, **values: str) -> str:
    """Queue a donation text (if configured) and return it; '' when not configured."""
    template = rules.texts.get(name)
    if template is None:
        return ""
    base = turn.code.variables.get(rules.program) or turn.program(rules.program).variables(
        turn.code.code)
    profile = turn.draft.profile
    text = template.render({**profile, **base, **rules.variables(), **values})
    turn.replies.append(Reply(text=text))
    return text


def _within(since: str, rules: DonationRules, now: datetime) -> bool:
    return (now - datetime.fromisoformat(since)).total_seconds() <= rules.confirm_within
