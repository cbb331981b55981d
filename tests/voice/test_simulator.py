"""The demo's call simulator: in Chromium, a caller hears the greeting, plays the candidate's
message, and records a question the download queue then fetches from the simulated
provider; over HTTP, what the page refuses and that it is off unless a demo turns it on.
"""

from __future__ import annotations

import base64
import io
import os
import wave
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from hypothesis import given
from hypothesis import strategies as st
from playwright.async_api import FilePayload, Locator, Page, async_playwright, expect

from gateway.config import Settings
from gateway.voice import messages
from gateway.voice.audio import audio_seconds
from gateway.voice.recordings import RecordingFetcher
from tests.support.browser import (
    EXECUTABLE,
    LAUNCH_FLAGS,
    WAIT_MS,
    browser_page,
    needs_chromium,
)
from tests.support.voice import VoiceSite, start_voice_site, voice_settings

__all__ = ["browser_page"]  # the fixture, shared from tests/support/browser.py

SHOTS = Path(os.environ.get("VOICE_SCREENSHOTS", "/tmp"))


@pytest.fixture
def voice_changes() -> dict[str, Any]:
    """This file's line settings (tests/voice/conftest.py builds the site from them)."""
    return {"voice_simulator": True}


def tone_wav(seconds: float = 0.5) -> bytes:
    """A real (silent) 8 kHz mono WAV a browser can decode: telephone audio."""
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(bytes(int(8000 * seconds) * 2))
    return out.getvalue()


async def decoded(page: Page, audio: Locator, seconds: float = 0.5) -> None:
    """Wait for the element to have the file's metadata, `seconds` long (an evaluation per
    poll: the pages' CSP refuses the string `wait_for_function` would evaluate)."""
    for _ in range(200):
        if await audio.evaluate("element => element.readyState") >= 1:
            assert await audio.evaluate("element => element.duration") == pytest.approx(seconds)
            return
        await page.wait_for_timeout(50)
    raise AssertionError("the browser never read the audio")


@needs_chromium
async def test_a_caller_walks_the_menu_in_a_browser(site: VoiceSite, browser_page: Page,
                                                    fetcher: RecordingFetcher) -> None:
    published = await messages.publish(
        site.pool, messages.Publisher(None, "organizer@example.org"), "ensemble",
        now=datetime.now(UTC), audio=tone_wav(), filename="message.wav", max_bytes=1_000_000)
    await site.web.staff("organizer")
    page = browser_page
    base = str(site.client.make_url("")).rstrip("/")
    await page.goto(base + "/login")
    await page.get_by_label("E-mail").fill("organizer@example.org")
    await page.get_by_label("Password").fill("correct horse battery")
    await page.get_by_role("button", name="Log in").click()
    await page.get_by_role("link", name="Call simulator").click()
    await page.get_by_role("button", name="Call the line", exact=True).click()
    log = page.locator("#call-log")
    await expect(log).to_contain_text("Bienvenue sur la ligne de Ensemble Citoyen")
    await expect(log).to_contain_text("Pour poser une question, tapez 3.")
    keypad = page.get_by_role("group", name="Keypad")
    await keypad.get_by_role("button", name="1", exact=True).click()
    audio = page.locator("audio.message")
    await expect(audio).to_have_attribute("src", f"/voice/audio/{published.id}.wav")
    await decoded(page, audio)  # the browser fetched it (range requests) and read it
    await expect(log).to_contain_text("Retour au menu principal.")
    await keypad.get_by_role("button", name="3", exact=True).click()
    await expect(log).to_contain_text("Pour Education, tapez 1.")
    await keypad.get_by_role("button", name="1", exact=True).click()
    await expect(page.locator("#call-record")).to_be_visible()
    recording: FilePayload = {"name": "question.wav", "mimeType": "audio/wav",
                              "buffer": tone_wav(1.0)}
    await page.get_by_label("Your recorded question").set_input_files(files=recording)
    await page.get_by_label("What it says").fill("Combien d'élèves par classe ?")
    await page.get_by_role("button", name="Send the recording").click()
    await expect(log).to_contain_text("qui vous répondront par SMS sous 2 jours")
    await expect(log).to_contain_text("(hangs up)")
    await page.screenshot(path=str(SHOTS / "voice-simulator.png"), full_page=True)
    assert await fetcher.tick() == 1  # from the simulated provider, with its basic auth
    async with site.pool.acquire() as conn:
        row = await conn.fetchrow("SELECT status, theme, transcription FROM voice_recordings")
        call = await conn.fetchrow("SELECT msisdn, end_status FROM calls")
        question_id = await conn.fetchval("SELECT id FROM questions WHERE channel = 'voice'")
    assert row is not None and call is not None
    assert (row["status"], row["theme"]) == ("stored", "education")
    assert row["transcription"] == "Combien d'élèves par classe ?"
    assert (call["msisdn"], call["end_status"]) == ("+33612345678", "completed")

    # an expert of the theme finds it in the inbox and plays the caller's recording
    await site.web.staff("expert", email="edu@example.org", themes=("education",))
    await page.get_by_role("button", name="Log out").click()
    await page.goto(base + "/login")
    await page.get_by_label("E-mail").fill("edu@example.org")
    await page.get_by_label("Password").fill("correct horse battery")
    await page.get_by_role("button", name="Log in").click()
    await page.get_by_role("link", name="Expert inbox").click()
    await page.get_by_role("link", name="Combien d'élèves par classe ?").click()
    await expect(page).to_have_url(f"{base}/inbox/questions/{question_id}")
    await expect(page.locator("#question-body")).to_have_text("Combien d'élèves par classe ?")
    player = page.locator("#question-recording audio")
    await expect(player).to_have_attribute("src", f"/inbox/questions/{question_id}/recording")
    await decoded(page, player, 1.0)  # the expert's browser fetched the recording and read it
    await page.screenshot(path=str(SHOTS / "voice-expert-inbox.png"), full_page=True)


async def test_the_simulator_follows_only_the_lines_links_and_is_off_by_default(
        site: VoiceSite, pool: asyncpg.Pool, settings: Settings) -> None:
    await site.web.staff("organizer")
    csrf = await site.web.login("organizer@example.org")
    headers = {"X-CSRF-Token": csrf}
    elsewhere = await site.client.post("/voice-line/simulator/step", headers=headers, json={
        "call_sid": "CA0123456789", "number": "+33612345678",
        "url": "https://elsewhere.example/voice/incoming", "fields": {}})
    assert elsewhere.status == 400
    assert (await elsewhere.json())["error"]["field"] == "url"
    forged = await site.client.post("/voice-line/simulator/step", headers=headers, json={
        "call_sid": "CA0123456789", "number": "+33612345678",
        "url": "https://voice.campaign.example/voice/incoming", "fields": {"From": "+1"}})
    assert forged.status == 400
    called = await site.client.post("/voice-line/simulator/step", headers=headers, json={
        "call_sid": "CA0123456789", "withheld": True,
        "url": "https://voice.campaign.example/voice/incoming", "fields": {}})
    body = await called.json()
    assert body["status"] == 200 and body["verbs"][0]["verb"] == "say"
    assert [v["verb"] for v in body["verbs"]] == ["say", "gather", "redirect"]
    assert len(body["verbs"][1]["texts"]) == 2  # withheld: options 1 and 3
    media = await site.client.get("/voice-line/simulator/media?sid=RE" + "0" * 32)
    assert media.status == 401  # the simulated provider wants its credentials
    off = await start_voice_site(pool, voice_settings(settings))
    try:
        await off.web.staff("admin")
        await off.web.login("admin@example.org")
        assert (await off.client.get("/voice-line/simulator")).status == 404
    finally:
        await off.client.close()


async def test_the_simulated_recording_says_how_long_the_uploaded_audio_is(
        site: VoiceSite, fetcher: RecordingFetcher) -> None:
    """The question page shows the recording's length as the provider's callback gave it;
    the simulator, standing in for the provider, measures the file (a 1 s file: "(1 s)")."""
    await site.web.staff("organizer")
    csrf = await site.web.login("organizer@example.org")
    headers = {"X-CSRF-Token": csrf}
    call = {"call_sid": "CA0123456789ab", "number": "+33612345678"}

    async def step(url: str, **fields: str) -> list[dict[str, Any]]:
        answered = await site.client.post("/voice-line/simulator/step", headers=headers,
                                          json={**call, "url": url, "fields": fields})
        body = await answered.json()
        assert body["status"] == 200, body
        found: list[dict[str, Any]] = body["verbs"]
        return found

    def gather(verbs: list[dict[str, Any]]) -> str:
        return str(next(v for v in verbs if v["verb"] == "gather")["action"])

    menu = await step("https://voice.campaign.example/voice/incoming")
    themes = await step(gather(menu), Digits="3")
    [record] = [v for v in await step(gather(themes), Digits="1") if v["verb"] == "record"]
    sent = await site.client.post("/voice-line/simulator/step", headers=headers, json={
        **call, "record": record, "transcription": "Une question d'une seconde",
        "recording_base64": base64.b64encode(tone_wav(1.0)).decode()})
    assert sent.status == 200
    assert await fetcher.tick() == 1
    async with site.pool.acquire() as conn:
        seconds = await conn.fetchval("SELECT duration_seconds FROM voice_recordings")
        question_id = await conn.fetchval("SELECT id FROM questions WHERE channel = 'voice'")
    assert seconds == 1
    expert = await site.web.staff("expert", email="edu@example.org", themes=("education",))
    page = await site.client.get(f"/inbox/questions/{question_id}", headers=expert.bearer)
    text = await page.text()
    assert page.status == 200
    assert "The caller's recording (1 s)" in text


@given(st.binary(max_size=200))
def test_the_length_of_any_bytes_is_a_whole_number_of_seconds_or_unknown(data: bytes) -> None:
    found = audio_seconds(data)
    assert found is None or found >= 0


def test_the_length_of_a_wav_is_its_frames_over_its_rate() -> None:
    assert [audio_seconds(tone_wav(s)) for s in (0.2, 1.0, 2.6, 14.0)] == [0, 1, 3, 14]
    assert audio_seconds(b"ID3" + bytes(200)) is None  # an MP3: not measured


# Chromium's own test microphone (a beep), allowed without asking
MICROPHONE_FLAGS = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]


@pytest.fixture
async def microphone_page(tmp_path: Path) -> AsyncIterator[Page]:
    """tests/support/browser.py's page, with a fake microphone the page may use."""
    assert EXECUTABLE is not None
    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=EXECUTABLE, headless=True,
            args=LAUNCH_FLAGS + MICROPHONE_FLAGS)
        try:
            page = context.pages[0] if context.pages else await context.new_page()
            page.set_default_timeout(WAIT_MS)
            yield page
        finally:
            await context.close()


@needs_chromium
async def test_a_caller_records_the_question_from_the_microphone(
        site: VoiceSite, microphone_page: Page, fetcher: RecordingFetcher) -> None:
    """The browser's MediaRecorder records (WebM), the page turns it into the WAV the line
    keeps, and it goes the way of any recording: downloaded, stored, its length measured."""
    await site.web.staff("organizer")
    page = microphone_page
    base = str(site.client.make_url("")).rstrip("/")
    await page.goto(base + "/login")
    await page.get_by_label("E-mail").fill("organizer@example.org")
    await page.get_by_label("Password").fill("correct horse battery")
    await page.get_by_role("button", name="Log in").click()
    await page.goto(base + "/voice-line/simulator")
    await page.get_by_role("button", name="Call the line", exact=True).click()
    keypad = page.get_by_role("group", name="Keypad")
    await expect(page.locator("#call-log")).to_contain_text("Pour poser une question, tapez 3.")
    await keypad.get_by_role("button", name="3", exact=True).click()
    await expect(page.locator("#call-log")).to_contain_text("Pour Education, tapez 1.")
    await keypad.get_by_role("button", name="1", exact=True).click()
    await page.get_by_role("button", name="Record from the microphone").click()
    status = page.locator("#record-mic-status")
    await expect(status).to_have_text("Recording from the microphone…")
    await page.wait_for_timeout(1600)  # the fake microphone speaks in real time
    await page.get_by_role("button", name="Stop recording").click()
    await expect(status).to_contain_text("from the microphone: send it, or record again.")
    await page.get_by_label("What it says").fill("Une question au micro")
    await page.get_by_role("button", name="Send the recording").click()
    log = page.locator("#call-log")
    await expect(log).to_contain_text("s from the microphone)")
    await expect(log).to_contain_text("qui vous répondront par SMS sous 2 jours")
    await page.screenshot(path=str(SHOTS / "voice-simulator-microphone.png"), full_page=True)
    assert await fetcher.tick() == 1
    async with site.pool.acquire() as conn:
        row = await conn.fetchrow("SELECT status, audio_format, audio, duration_seconds, "
                                  "transcription FROM voice_recordings")
    assert row is not None
    assert (row["status"], row["audio_format"]) == ("stored", "wav")
    assert row["transcription"] == "Une question au micro"
    with wave.open(io.BytesIO(bytes(row["audio"])), "rb") as sound:
        assert (sound.getnchannels(), sound.getframerate()) == (1, 8000)
        seconds = sound.getnframes() / 8000
    assert 1.0 <= seconds < 10 and row["duration_seconds"] == round(seconds)
