"""Menu 3, a question, over the webhooks: the theme menu, <Record>, the provider's callbacks,
and the durable download of the audio from a fake provider on loopback.

The fake provider is a real HTTP server (aiohttp) that wants the account's
credentials (HTTP basic) and fails with 500 when told to; the download queue
is driven by the test's clock, so "retried after its backoff" is a statement
about time, not a sleep.
"""

from __future__ import annotations

from datetime import timedelta

import asyncpg
from pydantic import SecretStr

from gateway.privacy import rights
from gateway.voice.recordings import RecordingFetcher, backoff
from tests.support.clock import ManualClock
from tests.support.voice import (
    BASE_URL,
    VoiceSite,
)
from tests.support.voice_provider import FR_CALLER, WAV, FakeProvider


async def fetch(pool: asyncpg.Pool, sql: str, *args: object) -> list[asyncpg.Record]:
    async with pool.acquire() as conn:
        return list(await conn.fetch(sql, *args))


async def test_a_question_is_recorded_stored_after_a_500_and_the_caller_hears_the_sla(
        site: VoiceSite, provider: FakeProvider, fetcher: RecordingFetcher,
        clock: ManualClock) -> None:
    caller = site.caller("CA-ask", FR_CALLER)
    themes = await caller.press(await caller.call(), "3")
    assert themes.says[0] == "Quel est le thème de votre question ?"
    assert themes.says[1] == "Pour Education, tapez 1."
    assert themes.says[-1] == "Pour un autre sujet, tapez 9."
    assert len(themes.says) == 10  # the intro, eight themes, anything else
    prompt = await caller.press(themes, "1")
    assert "thème Education, en 120 secondes au plus" in prompt.says[0]
    record = prompt.first("Record")
    assert record.attrib["maxLength"] == "120" and record.attrib["finishOnKey"] == "#"
    assert record.attrib["action"] == BASE_URL + "/recorded?round=1&theme=education&other=0"
    status_url = record.attrib["recordingStatusCallback"]
    assert status_url == BASE_URL + "/recording?theme=education&other=0"
    assert record.attrib["transcribe"] == "true"
    assert prompt.redirect == BASE_URL + "/unrecorded?round=1"  # nothing recorded: menu
    sid = "RE-ask-1"
    done = await caller.post(record.attrib["action"], RecordingSid=sid,
                             RecordingUrl=provider.url(sid), RecordingDuration="14")
    assert done.says == ["Merci. Votre question est transmise à nos experts, qui vous "
                         "répondront par SMS sous 2 jours.",
                         "Merci d'avoir appelé Ensemble Citoyen. Au revoir."]
    assert done.hangs_up
    for _ in range(2):  # the provider's callback, and a replay of it
        callback = await caller.post(status_url, RecordingSid=sid, RecordingStatus="completed",
                                     RecordingUrl=provider.url(sid), RecordingDuration="14")
        assert (callback.status, callback.root) == (204, None)
    [row] = await fetch(site.pool, "SELECT * FROM voice_recordings")
    assert (row["status"], row["theme"], row["other"], row["duration_seconds"]) == (
        "waiting", "education", False, 14)
    provider.failures = 1
    assert await fetcher.tick() == 0  # the provider's 500: tried later
    [row] = await fetch(site.pool, "SELECT * FROM voice_recordings")
    assert (row["status"], row["attempts"]) == ("waiting", 1)
    assert row["next_try_at"] == clock.now + backoff(1)
    assert "500" in row["last_error"]
    assert await fetcher.tick() == 0  # not due yet: nothing fetched
    assert provider.requests == [sid]
    clock.advance(backoff(1) + timedelta(seconds=1))
    assert await fetcher.tick() == 1
    [row] = await fetch(site.pool, "SELECT * FROM voice_recordings")
    assert (row["status"], bytes(row["audio"]), row["audio_format"]) == ("stored", WAV, "wav")
    assert row["ready_at"] == clock.now  # the seam was told (question_seam.py)
    assert provider.requests == [sid, sid]
    assert site.metrics.voice_recordings.labels(outcome="stored")._value.get() == 1


async def test_anything_else_is_classified_from_the_transcription(
        site: VoiceSite, provider: FakeProvider, fetcher: RecordingFetcher) -> None:
    caller = site.caller("CA-other", FR_CALLER)
    prompt = await caller.press(await caller.press(await caller.call(), "3"), "9")
    assert "thème Autre question" in prompt.says[0]
    record = prompt.first("Record")
    sid = "RE-other-1"
    await caller.post(record.attrib["recordingStatusCallback"], RecordingSid=sid,
                      RecordingStatus="completed", RecordingUrl=provider.url(sid))
    assert await fetcher.tick() == 1
    [row] = await fetch(site.pool, "SELECT * FROM voice_recordings")
    assert (row["theme"], row["other"], row["transcription"]) == ("general", True, None)
    first_ready = row["ready_at"]
    text = "Que comptez-vous faire pour les professeurs et les écoles de mon village ?"
    answered = await caller.post(record.attrib["transcribeCallback"], RecordingSid=sid,
                                 TranscriptionStatus="completed", TranscriptionText=text)
    assert answered.status == 204
    [row] = await fetch(site.pool, "SELECT * FROM voice_recordings")
    assert (row["transcription"], row["classified_theme"]) == (text, "education")
    assert row["ready_at"] is not None and first_ready is not None


async def test_silence_after_the_tone_goes_back_to_the_menu(site: VoiceSite) -> None:
    caller = site.caller("CA-mute", FR_CALLER)
    prompt = await caller.press(await caller.press(await caller.call(), "3"), "2")
    unheard = await caller.say_nothing(prompt)
    assert unheard.says[:2] == ["Nous n'avons pas entendu de question.",
                                "Retour au menu principal."]
    assert unheard.gather_action.endswith("/menu?round=2&try=1")


async def test_a_too_large_recording_is_given_up_and_a_lost_lease_is_claimed_again(
        site: VoiceSite, provider: FakeProvider, fetcher: RecordingFetcher,
        clock: ManualClock) -> None:
    caller = site.caller("CA-big", FR_CALLER)
    prompt = await caller.press(await caller.press(await caller.call(), "3"), "1")
    record = prompt.first("Record")
    for sid in ("RE-big", "RE-crash"):
        await caller.post(record.attrib["recordingStatusCallback"], RecordingSid=sid,
                          RecordingStatus="completed", RecordingUrl=provider.url(sid))
    # a gateway claimed RE-crash and died: its lease holds it, then expires
    async with site.pool.acquire() as conn:
        await conn.execute("UPDATE voice_recordings SET lease_until = $1, attempts = 1 "
                           "WHERE recording_sid = 'RE-crash'", clock.now + timedelta(minutes=1))
    provider.audio = WAV + bytes(site.settings.voice_recording_max_bytes)
    assert await fetcher.tick() == 0
    states = {r["recording_sid"]: r["status"]
              for r in await fetch(site.pool, "SELECT * FROM voice_recordings")}
    assert states == {"RE-big": "failed", "RE-crash": "waiting"}
    provider.audio = WAV
    clock.advance(timedelta(minutes=2))
    assert await fetcher.tick() == 1
    [crashed] = await fetch(site.pool, "SELECT status, attempts FROM voice_recordings "
                                       "WHERE recording_sid = 'RE-crash'")
    assert (crashed["status"], crashed["attempts"]) == ("stored", 2)
    assert site.metrics.voice_recordings.labels(outcome="failed")._value.get() == 1


async def test_export_has_the_calls_and_erasure_deletes_them_with_the_recordings(
        site: VoiceSite, provider: FakeProvider, fetcher: RecordingFetcher,
        clock: ManualClock) -> None:
    caller = site.caller("CA-private", FR_CALLER)
    menu = await caller.call()
    joined = await caller.press(await caller.press(menu, "2"), "2")  # a voice ledger row
    prompt = await caller.press(await caller.press(joined, "3"), "1")  # back at the menu
    await caller.post(prompt.first("Record").attrib["recordingStatusCallback"],
                      RecordingSid="RE-private", RecordingStatus="completed",
                      RecordingUrl=provider.url("RE-private"))
    assert await fetcher.tick() == 1
    other = site.caller("CA-someone-else", "+33698765432")
    await other.call()
    private = site.settings.model_copy(update={"privacy_hash_secret": SecretStr("k" * 32)})
    async with site.pool.acquire() as conn:
        document = await rights.export(conn, FR_CALLER, by="dpo@example.org", now=clock.now,
                                       settings=private)
        [call] = document["calls"]
        assert call["call_sid"] == "CA-private"
        assert [e["step"] for e in call["events"]][:2] == ["incoming", "menu.1.1"]
        [recording] = document["voice_recordings"]
        assert (recording["recording_sid"], recording["status"]) == ("RE-private", "stored")
        report = await rights.erase(conn, FR_CALLER, by="dpo@example.org", settings=private)
        assert (report.rows["voice_recordings"], report.rows["calls"]) == (1, 1)
        left = await conn.fetchval(
            "SELECT (SELECT count(*) FROM calls) + (SELECT count(*) FROM call_events "
            "WHERE call_sid = 'CA-private') + (SELECT count(*) FROM voice_recordings)")
        assert left == 1  # the other caller's call only
        [proof] = await conn.fetch("SELECT msisdn, call_sid, prompt_text FROM consent_events")
    assert proof["msisdn"] == report.pseudonym and proof["call_sid"] == "CA-private"
    assert proof["prompt_text"]  # the proof of consent stays, without the number
