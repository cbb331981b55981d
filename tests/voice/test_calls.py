"""The voice line over its webhooks: signatures, the greeting and menu, re-prompts, replays,
the candidate's message, and the call's end.

Every request is signed with the twilio library's own algorithm over the
public URL (tests/support/voice.py) and sent to the real aiohttp app over a
socket; every answer is parsed as XML. The branches that write (support,
questions) have their own files: test_support.py, test_questions.py.
"""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg

from gateway.config import Settings
from gateway.store import timeline
from gateway.voice import messages
from tests.support.voice import BASE_URL, TOKEN, VoiceSite, sign, start_voice_site, voice_settings

FR_CALLER = "+33612345678"
MP3 = bytes.fromhex("fffb9064") + bytes(400)  # an MPEG-1 layer III frame header, then silence
WHO = messages.Publisher(None, "organizer@example.org", "127.0.0.1")


async def rows(pool: asyncpg.Pool, sql: str, *args: object) -> list[asyncpg.Record]:
    async with pool.acquire() as conn:
        return list(await conn.fetch(sql, *args))


async def test_unsigned_or_wrongly_signed_requests_get_403_and_change_nothing(
        site: VoiceSite) -> None:
    caller = site.caller("CA-forged", FR_CALLER)
    form = caller.form(CallStatus="ringing")
    url = BASE_URL + "/incoming"
    unsigned = await site.client.post("/voice/incoming", data=form)
    wrong_token = await caller.post(url, token="not-the-token")
    # signed for the address the gateway listens on, not the one the provider uses
    local = str(site.client.make_url("/voice/incoming"))
    wrong_url = await caller.post(url, signature=sign(local, form))
    tampered = await site.client.post("/voice/incoming", data={**form, "From": "+33699999999"},
                                      headers={"X-Twilio-Signature": sign(url, form)})
    assert [unsigned.status, wrong_token.status, wrong_url.status, tampered.status] == [403] * 4
    assert await rows(site.pool, "SELECT * FROM calls") == []
    refused = site.metrics.voice_refused
    assert refused.labels(reason="unsigned")._value.get() == 1
    assert refused.labels(reason="bad_signature")._value.get() == 3


async def test_a_signed_call_hears_the_greeting_and_the_menu_in_french(site: VoiceSite) -> None:
    answer = await site.caller("CA-greet", FR_CALLER).call()
    assert answer.status == 200
    greeting = answer.says[0]
    assert "Ensemble Citoyen" in greeting and "enregistrés" in greeting
    assert "ensemble.example.fr" in greeting  # where the privacy charter is
    gather = answer.first("Gather")
    assert gather.attrib["numDigits"] == "1" and gather.attrib["input"] == "dtmf"
    assert gather.attrib["action"] == BASE_URL + "/menu?round=1&try=1"
    assert [say.attrib["language"] for say in answer.root.iter("Say")] == ["fr-FR"] * 4  # type: ignore[union-attr]
    options = answer.says[1:]
    assert ["tapez 1" in options[0], "tapez 2" in options[1], "tapez 3" in options[2]] == [True] * 3
    assert answer.redirect == gather.attrib["action"]  # silence comes back as a timeout
    [call] = await rows(site.pool, "SELECT * FROM calls")
    assert (call["msisdn"], call["shortcode"], call["program"], call["language"]) == (
        FR_CALLER, "38200", "ensemble", "fr")
    assert site.metrics.voice_calls._value.get() == 1


async def test_a_withheld_number_gets_options_1_and_3_only(site: VoiceSite) -> None:
    caller = site.caller("CA-hidden", None)
    menu = await caller.call()
    assert len(menu.says) == 3 and "tapez 2" not in menu.text
    pressed_two = await caller.press(menu, "2")
    assert pressed_two.says[0] == "Ce choix n'existe pas."
    assert pressed_two.gather_action == BASE_URL + "/menu?round=1&try=2"
    questions = await caller.press(pressed_two, "3")
    assert "Quel est le thème" in questions.says[0]
    [call] = await rows(site.pool, "SELECT msisdn FROM calls")
    assert call["msisdn"] is None


async def test_silence_and_a_wrong_key_are_asked_again_then_goodbye(site: VoiceSite) -> None:
    caller = site.caller("CA-silent", FR_CALLER)
    menu = await caller.call()
    first = await caller.say_nothing(menu)
    assert first.says[0] == "Nous n'avons pas entendu de choix."
    assert first.gather_action.endswith("/menu?round=1&try=2")
    second = await caller.press(first, "7")
    assert second.says[0] == "Ce choix n'existe pas."
    assert second.gather_action.endswith("/menu?round=1&try=3")
    last = await caller.say_nothing(second)  # the third time without a choice
    assert last.says == ["Nous n'avons pas entendu de choix.",
                         "Merci d'avoir appelé Ensemble Citoyen. Au revoir."]
    assert last.hangs_up and not last.has("Gather")
    await caller.hang_up(31)
    steps = await rows(site.pool, "SELECT step, kind, digits, branch FROM call_events "
                                  "ORDER BY occurred_at, step")
    assert [(s["step"], s["kind"], s["digits"], s["branch"]) for s in steps] == [
        ("incoming", "start", None, None),
        ("menu.1.1", "timeout", None, None),
        ("menu.1.2", "invalid", "7", None),
        ("menu.1.3", "timeout", None, "goodbye"),
        ("status.completed", "status", None, None)]
    [call] = await rows(site.pool, "SELECT duration_seconds, end_status FROM calls")
    assert (call["duration_seconds"], call["end_status"]) == (31, "completed")
    assert site.metrics.voice_abandoned._value.get() == 1


async def test_a_replayed_request_gets_the_same_answer_and_records_nothing_twice(
        site: VoiceSite) -> None:
    caller = site.caller("CA-replay", FR_CALLER)
    menu = await caller.call()
    again = await caller.call()
    assert again.says == menu.says and again.gather_action == menu.gather_action
    once = await caller.press(menu, "1")
    twice = await caller.press(menu, "1")
    assert once.says == twice.says
    steps = await rows(site.pool, "SELECT step FROM call_events ORDER BY step")
    assert [s["step"] for s in steps] == ["incoming", "menu.1.1"]
    assert site.metrics.voice_calls._value.get() == 1
    assert site.metrics.voice_branches.labels(branch="message")._value.get() == 1


async def test_option_1_plays_the_newest_version_and_serves_it_with_ranges(
        site: VoiceSite) -> None:
    caller = site.caller("CA-message", FR_CALLER)
    nothing_yet = await caller.press(await caller.call(), "1")
    assert "pas encore enregistré de message" in nothing_yet.says[0]
    assert nothing_yet.gather_action.endswith("/menu?round=2&try=1")  # back to the menu
    now = datetime.now(UTC)
    await messages.publish(site.pool, WHO, "ensemble", now=now, text="Bonjour à toutes et à tous.",
                           max_bytes=1_000_000)
    published = await messages.publish(site.pool, WHO, "ensemble", now=now, audio=MP3,
                                       filename="C:\\message.mp3", max_bytes=1_000_000)
    assert published.version == 2
    heard = await caller.press(nothing_yet, "1")
    play = heard.first("Play").text or ""
    assert play == f"{BASE_URL}/audio/{published.id}.mp3"
    assert heard.says[0] == "Voici le message du candidat."
    local = play.removeprefix(BASE_URL)
    whole = await site.client.get("/voice" + local)
    assert whole.status == 200 and whole.content_type == "audio/mpeg"
    assert await whole.read() == MP3
    part = await site.client.get("/voice" + local, headers={"Range": "bytes=0-3"})
    assert part.status == 206 and await part.read() == MP3[:4]
    assert part.headers["Content-Range"] == f"bytes 0-3/{len(MP3)}"
    missing = await site.client.get(f"/voice/audio/{published.id}.wav")
    assert missing.status == 404
    versions = await rows(site.pool, "SELECT version, kind, source_name FROM voice_messages "
                                     "ORDER BY version")
    assert [(v["version"], v["kind"], v["source_name"]) for v in versions] == [
        (1, "text", None), (2, "audio", "message.mp3")]


async def test_a_request_without_a_call_or_with_a_made_up_link_is_a_400(
        site: VoiceSite) -> None:
    caller = site.caller("CA-bad", FR_CALLER)
    form = {"From": FR_CALLER}
    url = BASE_URL + "/incoming"
    no_sid = await site.client.post("/voice/incoming", data=form,
                                    headers={"X-Twilio-Signature": sign(url, form)})
    assert no_sid.status == 400 and "CallSid" in await no_sid.text()
    made_up = await caller.post(BASE_URL + "/menu?round=x&try=1", Digits="1")
    assert made_up.status == 400
    unknown = await caller.post(BASE_URL + "/elsewhere")
    assert unknown.status == 400
    assert TOKEN not in await no_sid.text()


async def test_the_call_is_on_the_callers_timeline_and_contact_page(
        pool: asyncpg.Pool, settings: Settings) -> None:
    site = await start_voice_site(pool, voice_settings(settings, voice_program="rise"))
    number = "+12125550147"
    try:
        caller = site.caller("CA-timeline", number)
        support = await caller.press(await caller.call(), "2")
        await caller.press(support, "2")  # opts in: the contact exists from now on
        await caller.hang_up(52)
        async with pool.acquire() as conn:
            items = await timeline.full_timeline(conn, number, "12345")
        calls = [(i["body"], i["data"].get("digits"), i["data"].get("branch"))
                 for i in items if i["kind"] == "call"]
        assert calls == [("start", None, None), ("keys", "2", "support"),
                         ("keys", "2", "sms_opt_in"), ("status", None, None)]
        assert items[-1]["data"]["duration_seconds"] == 52
        kinds = [i["kind"] for i in items]
        assert kinds.index("event") < kinds.index("mt")  # the opt-in, then its confirmation
        await site.web.staff("organizer")
        await site.web.login("organizer@example.org")
        page = await (await site.client.get(f"/contacts/{number}")).text()
        assert "<strong>Call to the voice line</strong>" in page
        assert "Pressed 2</strong> <span class=\"status\">for joining by text" in page
        assert "The call ended</strong> <span class=\"status\">after 52 s" in page
    finally:
        await site.client.close()


async def test_a_spoken_number_chooses_when_speech_is_on(
        pool: asyncpg.Pool, settings: Settings) -> None:
    site = await start_voice_site(pool, voice_settings(settings, voice_speech=True))
    try:
        caller = site.caller("CA-speech", FR_CALLER)
        menu = await caller.call()
        gather = menu.first("Gather")
        assert (gather.attrib["input"], gather.attrib["language"]) == ("dtmf speech", "fr-FR")
        unclear = await caller.post(menu.gather_action, SpeechResult="bonjour")
        assert unclear.says[0] == "Ce choix n'existe pas."
        themes = await caller.post(unclear.gather_action, SpeechResult="Trois.")
        assert themes.says[0] == "Quel est le thème de votre question ?"
        steps = await rows(pool, "SELECT kind, digits, branch FROM call_events "
                                 "WHERE step LIKE 'menu.%' ORDER BY step")
        assert [(s["kind"], s["digits"], s["branch"]) for s in steps] == [
            ("invalid", "bonjour", None), ("keys", "Trois.", "question")]
    finally:
        await site.client.close()
