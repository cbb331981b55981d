"""Menu 2, support: the donation link by SMS, or the SMS updates by keypress, written like an MO's.

Both run in the transaction of the call's step (gateway/voice/steps.py),
under the caller's number lock (store/number_locks.py), the lock an MO's
decision takes: a STOP being decided for the same number commits before or
after, never in between. Texts go through the outbox like any reply
(store/outbound.py `insert_for_call`): the sender's send-time opt-out check
still applies, and nothing is sent from inside the transaction.

The opt-in is the engine's own (engine/voice_consent.py): the same new state,
reply and consent event as an SMS opt-in; here they are written as the MO
path writes them (pipeline/decide.py), except that the ledger row is a voice
row (store/consent.py `insert_voice`): the call, the prompt heard and its
version instead of an MO. An opted-out number, including one erased after a
STOP (its keyed hash, gateway/privacy/), gets neither text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import asyncpg

from gateway import geo
from gateway.engine import Rules
from gateway.engine.events import OptedOut, OptInConfirmed, OptInRequested, Resubscribed
from gateway.engine.state import OPTED_OUT, Draft
from gateway.engine.types import ContactState
from gateway.engine.voice_consent import Outcome, opt_in_by_keypress
from gateway.privacy.pseudonym import number_hash
from gateway.store import consent as consent_store
from gateway.store import contacts as contacts_store
from gateway.store import outbound as outbound_store
from gateway.store import privacy as privacy_store
from gateway.store import timeline as timeline_store
from gateway.store.consent import NewVoiceConsent
from gateway.store.number_locks import lock_numbers
from gateway.store.timeline import NewEvent

DONATION_LINK_SENT = "voice_donation_link_sent"  # the timeline's name for it
# A caller ID can be spoofed: the line texts one number the link at most this often.
DONATION_LINK_EVERY = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class Caller:
    """Who pressed the key, on which call, for which program and short code."""

    msisdn: str
    shortcode: str
    program: str
    call_sid: str


async def _state(conn: asyncpg.Connection, caller: Caller,
                 privacy_key: bytes | None) -> tuple[ContactState, bool]:
    """(the contact's state, whether it is new); locks the number first."""
    await lock_numbers(conn, [caller.msisdn])
    key = (caller.msisdn, caller.shortcode)
    stored = await contacts_store.list_states(conn, [key])
    if key in stored:
        opted_out, data = stored[key]
        return ContactState.from_json(caller.msisdn, caller.shortcode, opted_out, data), False
    erased = False
    if privacy_key:  # a number erased after its STOP starts opted out, as on the MO path
        digest = number_hash(privacy_key, caller.msisdn)
        erased = (digest, caller.shortcode) in await privacy_store.erased_opt_outs(
            conn, [digest])
    return ContactState(caller.msisdn, caller.shortcode, opted_out=erased), True


def _opted_out(state: ContactState, program: str) -> bool:
    return state.opted_out or Draft(state.data).status(program) == OPTED_OUT


async def send_donation_link(conn: asyncpg.Connection, caller: Caller, text: str, *,
                             now: datetime, privacy_key: bytes | None
                             ) -> Literal["sent", "already_sent", "opted_out"]:
    """Queue the one SMS with the link (no subscription); refused to an opted-out number,
    and not sent again to a number that got it within DONATION_LINK_EVERY."""
    state, _ = await _state(conn, caller, privacy_key)
    if _opted_out(state, caller.program):
        return "opted_out"
    if await timeline_store.last_event_at(conn, caller.msisdn, caller.shortcode,
                                          DONATION_LINK_SENT, since=now - DONATION_LINK_EVERY):
        return "already_sent"
    outbound_id = await outbound_store.insert_for_call(
        conn, caller.msisdn, caller.shortcode, text, not_before=now)
    await timeline_store.insert_batch(conn, [NewEvent(
        caller.msisdn, caller.shortcode, None, DONATION_LINK_SENT,
        {"program": caller.program, "call_sid": caller.call_sid, "outbound_id": outbound_id},
        now)])
    return "sent"


async def opt_in(conn: asyncpg.Connection, caller: Caller, rules: Rules, *, prompt: str,
                 prompt_version: str, now: datetime, privacy_key: bytes | None) -> Outcome:
    """The keypress opt-in: the engine decides, this writes its decision and the ledger row.

    An opted-out number changes nothing (the engine says so), and neither does a number
    already subscribed: the caller hears it, and nothing is texted (the SMS path would
    text "already subscribed"; by voice, with a caller ID anyone can spoof, every call
    would text the number again)."""
    state, new = await _state(conn, caller, privacy_key)
    result = opt_in_by_keypress(state, caller.program, now=now, rules=rules)
    if result.decision is None or result.outcome == "already_subscribed":
        return result.outcome
    decision = result.decision
    await contacts_store.upsert_states(
        conn, [(caller.msisdn, caller.shortcode, decision.new_state.opted_out,
                decision.new_state.to_json())], now=now)
    if new:  # a new contact's location from its number, as the MO path derives it
        await contacts_store.update_geo(
            conn, [(caller.msisdn, caller.shortcode, geo.derive(caller.msisdn, {}, []))])
    sent = [await outbound_store.insert_for_call(conn, caller.msisdn, caller.shortcode,
                                                 reply.text, not_before=now)
            for reply in decision.replies]
    voice = {"via": "voice", "call_sid": caller.call_sid}
    await timeline_store.insert_batch(conn, [
        NewEvent(caller.msisdn, caller.shortcode, None, event.name,
                 {**_without_mo(event.to_json()), **voice}, now)
        for event in decision.events])
    for event in decision.events:
        if isinstance(event, OptInRequested | OptInConfirmed | Resubscribed | OptedOut):
            index = event.reply_index
            await consent_store.insert_voice(conn, NewVoiceConsent(
                msisdn=caller.msisdn, shortcode=caller.shortcode, program=event.program,
                program_name=event.program_name, kind=event.name, keyword=event.keyword,
                disclosure_text=event.disclosure_text,
                disclosure_version=event.disclosure_version, privacy_url=event.privacy_url,
                privacy_version=event.privacy_version,
                outbound_id=sent[index] if index is not None else None, occurred_at=now,
                call_sid=caller.call_sid, prompt_text=prompt, prompt_version=prompt_version))
    return result.outcome


def _without_mo(data: dict[str, object]) -> dict[str, object]:
    """An event's data without the MO fields a keypress has none of."""
    return {key: value for key, value in data.items() if key not in ("mo_id", "mo_text")}
