"""`decide(state, inbound, *, now, rules) -> Decision`: the whole engine in one call.

Order matters and is the compliance argument, so it is spelled out here:

1. Opt-out words and phrases win over everything, in every state, even in a
   flood (revocation.py says what counts; flood.py how replies are limited:
   the first STOP is always confirmed).
2. Flood guard: more than N MOs a minute -> events only, no replies, except
   that HELP and START/UNSTOP still take effect (flood.py).
3. A text that mentions an opt-out word without clearly opting out gets,
   once per number, how to stop (consent.stop_hint), then goes on below.
4. HELP, then START/UNSTOP: answered whatever the state.
5. An opted-out number only gets through with YES or an opt-in keyword
   (new consent); anything else is recorded and left unanswered.
6. A pending donation confirmation (YES / NO to it): it yields to nothing
   but STOP, the flood guard and HELP (see gift_requests.py for why).
7. Y to a pending double opt-in, then the open dialog, then keywords
   (exact, then fuzzy), then the rate-limited default reply (none when
   the how-to-stop text of 3 went out in its place).

Every MO that gets no reply leaves an event saying why (SILENT_REASONS).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from types import MappingProxyType

from gateway.engine import compliance, consent, dialogs, flood, gift_requests, knowledge, themes
from gateway.engine.donor_details import answer as answer_donor_details
from gateway.engine.events import (
    ComplianceReplyLimited,
    ContactTagged,
    DonationConfirmed,
    DonationRequested,
    FloodSuppressed,
    IgnoredOptedOut,
    KeywordMatched,
    KnowledgeLookup,
    Unmatched,
)
from gateway.engine.gift_requests import parse_amount_cents as parse_amount_cents
from gateway.engine.rules import KeywordRules, Rules
from gateway.engine.state import SUBSCRIBED, Draft
from gateway.engine.text import parse_command
from gateway.engine.turn import Turn
from gateway.engine.types import ContactState, Decision, Inbound

# An MO that gets no reply carries one of these events, and why it may be silent.
SILENT_REASONS: Mapping[str, str] = MappingProxyType({
    FloodSuppressed.name: "more than flood_limit_per_minute MOs in a minute (an auto-responder)",
    IgnoredOptedOut.name: "the number opted out; only new consent or HELP gets through",
    Unmatched.name: "rate_limited: the default reply already went out within default_reply_every",
    ComplianceReplyLimited.name: "a STOP/START/HELP reply already went out this minute in a "
                                 "flood",
    DonationConfirmed.name: "the billing service answers (thanks, or a refusal) once it has "
                            "acted",
    DonationRequested.name: "flow checkout: the billing service sends the payment link, or the "
                            "unavailable text",
    KnowledgeLookup.name: "the shell answers from the database (nearest office, next events)",
})


def decide(state: ContactState, inbound: Inbound, *, now: datetime, rules: Rules) -> Decision:
    if now.tzinfo is None:
        raise ValueError("decide(now=...) must be timezone-aware (UTC)")
    now = now.astimezone(UTC)
    at = now.isoformat()
    code = rules.for_shortcode(state.shortcode or inbound.shortcode)
    turn = Turn(
        rules=rules, code=code, inbound=inbound, command=parse_command(inbound.text),
        now=now, at=at, draft=Draft(state.data), opted_out=state.opted_out,
    )
    flooded = turn.draft.record_mo(now, at, rules.defaults.flood_limit_per_minute)
    command = turn.command
    verdict = compliance.classify_opt_out(command.words, command.first, code.profile,
                                          code.opt_out_words)
    if verdict == "opt_out":
        gift_requests.cancel_on_opt_out(turn)
        consent.opt_out(turn, send_confirmation=flood.may_reply(
            turn, "stop", changes_consent=not state.opted_out, flooded=flooded))
    elif flooded and compliance.is_help(command.first, code.profile):
        send = flood.may_reply(turn, "help", changes_consent=False, flooded=True)
        consent.help_reply(turn, send=send, resume_dialog=False)
    elif flooded and compliance.is_start(command.first):
        changes = consent.start_changes_consent(turn)
        consent.resubscribe(turn, send=flood.may_reply(
            turn, "start", changes_consent=changes, flooded=True))
    elif flooded:
        turn.events.append(FloodSuppressed(rules.defaults.flood_limit_per_minute))
    else:
        if verdict == "unclear":
            consent.stop_hint(turn)
        _route(turn)
    new_state = ContactState(msisdn=state.msisdn, shortcode=state.shortcode,
                             opted_out=turn.opted_out, data=turn.draft.to_data())
    return Decision(new_state=new_state, replies=tuple(turn.replies), events=tuple(turn.events))


def _route(turn: Turn) -> None:
    command, profile = turn.command, turn.code.profile
    dialogs.expire_if_silent(turn)
    if compliance.is_help(command.first, profile):
        consent.help_reply(turn)
        return
    if gift_requests.answer(turn):
        return
    if answer_donor_details(turn):  # a held gift's donor details, one fact per MO
        return
    if compliance.is_start(command.first):
        consent.resubscribe(turn)
        return
    keyword, fuzzy = match_keyword(turn)
    if turn.opted_out:
        if compliance.is_yes(command.words, profile):
            consent.resubscribe(turn)
        elif keyword is not None and keyword.action == "opt_in":
            _run_keyword(turn, keyword, fuzzy)
        else:
            turn.events.append(IgnoredOptedOut(keyword.word if keyword else None))
        return
    if compliance.is_yes(command.words, profile):
        confirmed, dialog_id = consent.confirm_pending(turn)
        if confirmed:
            if dialog_id is not None and dialog_id in turn.rules.dialogs:
                dialogs.start(turn, dialog_id)
            return
    if turn.draft.dialog is not None and dialogs.answer(turn):
        return
    if keyword is not None:
        _run_keyword(turn, keyword, fuzzy)
        return
    if not themes.free_text(turn):  # a question, a menu choice or a knowledge phrase
        _unmatched(turn)


def match_keyword(turn: Turn) -> tuple[KeywordRules | None, bool]:
    """(keyword, matched by typo). Ambiguous typos match nothing."""
    first = turn.command.first
    exact = turn.code.exact.get(first)
    if exact is not None or len(first) < 3:
        return exact, False
    found = {id(k): k for k in turn.code.fuzzy.near(first)}
    if len(found) == 1:
        return next(iter(found.values())), True
    return None, False


def _run_keyword(turn: Turn, keyword: KeywordRules, fuzzy: bool) -> None:
    turn.draft.theme = None  # a keyword is a new request: no theme menu or prompt waits on
    turn.events.append(KeywordMatched(
        keyword=keyword.word, program=keyword.program, action=keyword.action,
        typed=turn.command.first, fuzzy=fuzzy, argument=turn.command.argument))
    if keyword.tags:
        turn.events.append(ContactTagged(keyword.word, keyword.program, keyword.tags))
    if keyword.action == "opt_in":
        was = turn.draft.status(keyword.program)
        consent.opt_in_keyword(turn, keyword)
        newly = was != SUBSCRIBED and turn.draft.status(keyword.program) == SUBSCRIBED
        if newly and keyword.dialog is not None:
            dialogs.start(turn, keyword.dialog)
    elif keyword.action == "dialog":
        assert keyword.dialog is not None
        dialogs.start(turn, keyword.dialog)
    elif keyword.action == "reply":
        assert keyword.reply is not None
        turn.reply(keyword.reply, keyword.program)
    elif keyword.action == "donate":
        gift_requests.request(turn, keyword)
    elif keyword.action == "knowledge":
        knowledge.answer_keyword(turn, keyword)
    else:  # theme or menu: the contact centre
        themes.keyword(turn, keyword)


def _unmatched(turn: Turn) -> None:
    if turn.stop_hint_sent:  # how to stop went out instead: one answer is enough
        turn.draft.last_default_reply = turn.at  # and it counts as this day's default reply
        turn.events.append(Unmatched(turn.inbound.mo_id, rate_limited=False, replied=False,
                                     answered_by="stop_hint"))
        return
    every = turn.rules.defaults.default_reply_every
    last = turn.draft.last_default_reply
    limited = last is not None and (turn.now - datetime.fromisoformat(last)).total_seconds() < every
    if not limited:
        turn.reply(turn.code.default_reply)
        turn.draft.last_default_reply = turn.at
    turn.events.append(Unmatched(turn.inbound.mo_id, rate_limited=limited,
                                 replied=not limited))

