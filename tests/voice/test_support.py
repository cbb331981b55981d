"""Menu 2, support, over the webhooks: the donation link by SMS and the keypress opt-in.

The opt-in must be the SMS opt-in's own decision (the same state, the same
confirmation text) with a ledger row that proves it: source voice, the call,
the prompt's words and version. An opted-out number is told how to opt back
in and gets no text at all.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import asyncpg

from gateway.config import Settings
from gateway.engine import decide, load_rules
from gateway.engine.types import ContactState, Inbound
from gateway.store import contacts as contacts_store
from tests.support.voice import FR_CODE, VoiceSite, start_voice_site, voice_settings

FR_CALLER = "+33612345678"
US_CALLER = "+12125550147"


async def fetch(pool: asyncpg.Pool, sql: str, *args: object) -> list[asyncpg.Record]:
    async with pool.acquire() as conn:
        return list(await conn.fetch(sql, *args))


async def test_2_then_1_texts_the_donation_link_once(site: VoiceSite) -> None:
    caller = site.caller("CA-give", FR_CALLER)
    support = await caller.press(await caller.call(), "2")
    assert [s.split(",")[0] for s in support.says] == [
        "Pour recevoir par SMS le lien pour faire un don",
        "Pour recevoir les SMS de Ensemble Citoyen"]
    assert support.gather_action.endswith("/support?round=1&try=1")
    sent = await caller.press(support, "1")
    assert sent.says[0] == "Nous vous avons envoyé un SMS avec le lien. Merci de votre soutien."
    assert sent.says[1] == "Retour au menu principal."
    assert sent.gather_action.endswith("/menu?round=2&try=1")
    replayed = await caller.press(support, "1")
    assert replayed.says == sent.says
    [mt] = await fetch(site.pool, "SELECT * FROM outbound")
    assert (mt["msisdn"], mt["shortcode"], mt["in_reply_to"], mt["status"]) == (
        FR_CALLER, FR_CODE, None, "queued")
    assert mt["body"] == ("Ensemble Citoyen : merci de votre appel ! Pour faire un don : "
                          "https://ensemble.example.fr/don STOP au 38200")
    [event] = await fetch(site.pool, "SELECT name, data::text AS data FROM contact_events")
    assert event["name"] == "voice_donation_link_sent"
    assert json.loads(event["data"])["outbound_id"] == mt["id"]
    assert site.woken == [1]  # the outbox was told once, not on the replay
    assert await fetch(site.pool, "SELECT * FROM consent_events") == []  # no subscription
    # a second call the same day (or a spoofed caller ID) hears it, and texts nothing more
    again = site.caller("CA-give-again", FR_CALLER)
    heard = await again.press(await again.press(await again.call(), "2"), "1")
    assert heard.says[0] == sent.says[0]
    assert len(await fetch(site.pool, "SELECT * FROM outbound")) == 1


async def test_2_then_2_opts_in_like_an_sms_and_the_ledger_row_holds_the_prompt(
        site: VoiceSite) -> None:
    caller = site.caller("CA-join", FR_CALLER)
    support = await caller.press(await caller.call(), "2")
    joined = await caller.press(support, "2")
    assert joined.says[0] == "C'est noté. Un SMS de confirmation est en route."
    again = await caller.press(support, "2")
    assert again.says == joined.says
    # the text an SMS opt-in gets: the engine's answer to ADHERER from another number
    rules = load_rules(site.settings.keywords)
    now = datetime.now(UTC)
    by_sms = decide(ContactState("+33699999999", FR_CODE),
                    Inbound(1, "+33699999999", FR_CODE, "ADHERER", now), now=now, rules=rules)
    [mt] = await fetch(site.pool, "SELECT id, body, in_reply_to FROM outbound")
    assert mt["body"] == by_sms.replies[0].text and mt["in_reply_to"] is None
    [row] = await fetch(site.pool, "SELECT * FROM consent_ledger")
    prompt = " ".join(support.says)
    assert (row["source"], row["kind"], row["call_sid"], row["inbound_id"], row["keyword"]) == (
        "voice", "opt_in_confirmed", "CA-join", None, "VOICE")
    assert row["prompt_text"] == prompt
    assert "Ensemble Citoyen" in prompt and "4 messages par mois au plus" in prompt
    assert row["prompt_version"] == "fr-voix-2024-06"
    assert (row["outbound_id"], row["disclosure_text"]) == (mt["id"], mt["body"])
    assert (row["msisdn"], row["shortcode"], row["program"]) == (FR_CALLER, FR_CODE, "ensemble")
    async with site.pool.acquire() as conn:
        contact = await contacts_store.get_contact(conn, FR_CALLER, FR_CODE)
    assert contact is not None and not contact["opted_out"]
    assert json.loads(contact["state"])["subs"]["ensemble"]["status"] == "subscribed"
    events = await fetch(site.pool, "SELECT name, data::text AS data FROM contact_events")
    assert [e["name"] for e in events] == ["opt_in_confirmed"]
    assert json.loads(events[0]["data"])["via"] == "voice"
    called_again = site.caller("CA-join-2", FR_CALLER)
    already = await called_again.press(await called_again.press(await called_again.call(), "2"),
                                       "2")
    assert already.says[0] == "Vous recevez déjà nos SMS. Merci."
    assert len(await fetch(site.pool, "SELECT * FROM consent_events")) == 1
    assert len(await fetch(site.pool, "SELECT * FROM outbound")) == 1  # nothing texted again


async def test_an_opted_out_number_is_told_how_to_opt_back_in_and_gets_no_text(
        site: VoiceSite) -> None:
    stopped = {"v": 1, "subs": {"ensemble": {"status": "opted_out", "since": "2024-01-01"}}}
    async with site.pool.acquire() as conn:
        await contacts_store.upsert_states(conn, [(FR_CALLER, FR_CODE, True, stopped)],
                                           now=datetime.now(UTC))
    caller = site.caller("CA-stopped", FR_CALLER)
    support = await caller.press(await caller.call(), "2")
    for key in ("2", "1"):
        told = await caller.press(support, key)
        assert told.says[0] == ("Vous nous avez demandé de ne plus vous écrire : nous ne vous "
                                "enverrons pas de SMS. Pour les recevoir à nouveau, envoyez "
                                "START au 3 8 2 0 0.")
        support = await caller.press(await caller.say_nothing(told), "2")
    assert await fetch(site.pool, "SELECT * FROM outbound") == []
    assert await fetch(site.pool, "SELECT * FROM consent_events") == []
    async with site.pool.acquire() as conn:
        contact = await contacts_store.get_contact(conn, FR_CALLER, FR_CODE)
    assert contact is not None and contact["opted_out"]


async def test_a_double_opt_in_program_asks_for_the_yes_by_text(
        pool: asyncpg.Pool, settings: Settings) -> None:
    site = await start_voice_site(pool, voice_settings(settings, voice_program="rise"))
    try:
        caller = site.caller("CA-rise", US_CALLER)
        menu = await caller.call()
        assert menu.says[0].startswith("Welcome to the Rise Up Alerts line.")
        assert "tapez" not in menu.text and "press 3" not in menu.text  # no themes: no menu 3
        support = await caller.press(menu, "2")
        assert "up to 6 messages a month" in support.says[1]
        asked = await caller.press(support, "2")
        assert asked.says[0] == "We have sent you a text message. Reply YES to it to confirm."
        [row] = await fetch(pool, "SELECT kind, prompt_version, source FROM consent_ledger")
        assert (row["kind"], row["prompt_version"], row["source"]) == (
            "opt_in_requested", "us-voice-2024-06", "voice")
        [mt] = await fetch(pool, "SELECT body FROM outbound")
        assert "reply Y to confirm" in mt["body"]
        # the Y by text confirms it as it would a JOIN's request
        rules = load_rules(site.settings.keywords)
        async with pool.acquire() as conn:
            stored = await contacts_store.list_states(conn, [(US_CALLER, "12345")])
        opted_out, data = stored[(US_CALLER, "12345")]
        now = datetime.now(UTC)
        answer = decide(ContactState.from_json(US_CALLER, "12345", opted_out, data),
                        Inbound(1, US_CALLER, "12345", "Y", now), now=now, rules=rules)
        assert [e.name for e in answer.events] == ["opt_in_confirmed"]
    finally:
        await site.client.close()


async def test_two_copies_of_one_request_at_once_opt_in_once(site: VoiceSite) -> None:
    caller = site.caller("CA-twice", FR_CALLER)
    support = await caller.press(await caller.call(), "2")
    first, second = await asyncio.gather(caller.press(support, "2"), caller.press(support, "2"))
    assert first.says == second.says and first.says[0].startswith("C'est noté")
    assert len(await fetch(site.pool, "SELECT * FROM consent_events")) == 1
    assert len(await fetch(site.pool, "SELECT * FROM outbound")) == 1
