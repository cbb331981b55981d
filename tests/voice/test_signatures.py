"""Signatures of the providers that speak the same XML: SignalWire's (Twilio's HMAC, its own
header) and Telnyx's (Ed25519 over a timestamp and the raw body, with a replay window).

The Telnyx key pair is made here, in the test, with `cryptography`: the gateway gets only
the public half (GATEWAY_VOICE_TELNYX_PUBLIC_KEY), as it would from the Telnyx portal, and
every request is signed with the private half as Telnyx's servers sign theirs. Answers are
parsed as XML; refusals are 403, logged and counted, and leave no call behind.
"""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Mapping
from datetime import timedelta
from urllib.parse import urlencode

import asyncpg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from pydantic import SecretStr
from structlog.testing import capture_logs

from gateway.config import ConfigError, Settings, load_settings
from gateway.voice.recordings import (
    TELNYX_LINK_LIFE,
    backoff,
    download_window,
    longest_retry,
)
from tests.support.clock import ManualClock
from tests.support.voice import (
    BASE_URL,
    TOKEN,
    Signer,
    VoiceSite,
    sign,
    start_voice_site,
    voice_settings,
)

FR_CALLER = "+33612345678"
SIGNING_KEY = "PSK_signalwire-signing-key"


def public_base64(key: Ed25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def telnyx_signer(key: Ed25519PrivateKey, clock: ManualClock, *, age: float = 0) -> Signer:
    """Sign as Telnyx does: base64 Ed25519 of "{timestamp}|{raw body}", `age` seconds ago."""
    def signed(url: str, form: Mapping[str, str], body: bytes) -> dict[str, str]:
        stamp = str(int(clock().timestamp() - age))
        signature = key.sign(stamp.encode() + b"|" + body)
        return {"telnyx-signature-ed25519": base64.b64encode(signature).decode(),
                "telnyx-timestamp": stamp}
    return signed


async def calls(pool: asyncpg.Pool) -> int:
    async with pool.acquire() as conn:
        return int(await conn.fetchval("SELECT count(*) FROM calls"))


@pytest.fixture
def telnyx_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
async def telnyx_site(pool: asyncpg.Pool, settings: Settings, clock: ManualClock,
                      telnyx_key: Ed25519PrivateKey) -> AsyncIterator[VoiceSite]:
    started = await start_voice_site(pool, voice_settings(
        settings, voice_signature_scheme="telnyx",
        voice_telnyx_public_key=public_base64(telnyx_key)), clock=clock)
    try:
        yield started
    finally:
        await started.client.close()


@pytest.fixture
async def signalwire_site(pool: asyncpg.Pool, settings: Settings
                          ) -> AsyncIterator[VoiceSite]:
    started = await start_voice_site(pool, voice_settings(
        settings, voice_signature_scheme="signalwire",
        voice_auth_token=SecretStr(SIGNING_KEY)))
    try:
        yield started
    finally:
        await started.client.close()


async def test_a_telnyx_signed_call_walks_the_menu(telnyx_site: VoiceSite, clock: ManualClock,
                                                   telnyx_key: Ed25519PrivateKey) -> None:
    telnyx_site.signer = telnyx_signer(telnyx_key, clock)
    caller = telnyx_site.caller("v3:telnyx-call-1", FR_CALLER)
    greeting = await caller.call()
    assert greeting.status == 200
    assert greeting.has("Gather") and "Bienvenue" in greeting.text
    clock.advance(2)
    support = await caller.press(greeting, "2")
    assert support.status == 200 and support.gather_action.startswith(BASE_URL + "/support")


@pytest.mark.parametrize("forgery", ["wrong_key", "old", "future", "tampered", "twilio",
                                     "unsigned"])
async def test_telnyx_refuses_a_wrong_key_an_old_timestamp_and_a_tampered_body(
        telnyx_site: VoiceSite, clock: ManualClock, telnyx_key: Ed25519PrivateKey,
        forgery: str) -> None:
    caller = telnyx_site.caller("v3:telnyx-forged", FR_CALLER)
    form = caller.form(CallStatus="ringing")
    body = urlencode(form).encode()
    signer = {
        "wrong_key": telnyx_signer(Ed25519PrivateKey.generate(), clock),
        "old": telnyx_signer(telnyx_key, clock, age=301),
        "future": telnyx_signer(telnyx_key, clock, age=-301),
    }.get(forgery, telnyx_signer(telnyx_key, clock))
    headers = {"Content-Type": "application/x-www-form-urlencoded",
               **signer(BASE_URL + "/incoming", form, body)}
    if forgery == "tampered":
        body = body.replace(b"33612345678", b"33699999999")
    elif forgery == "twilio":  # a correct HMAC: not the scheme this line takes
        headers = {"X-Twilio-Signature": sign(BASE_URL + "/incoming", form, TOKEN)}
    elif forgery == "unsigned":
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
    with capture_logs() as logs:
        response = await telnyx_site.client.post("/voice/incoming", data=body, headers=headers)
    assert response.status == 403
    assert await calls(telnyx_site.pool) == 0
    expected = {"old": "stale", "future": "stale", "twilio": "unsigned",
                "unsigned": "unsigned"}.get(forgery, "bad_signature")
    refusals = [line for line in logs if line["event"] == "voice_request_refused"]
    assert [(r["reason"], r["scheme"]) for r in refusals] == [(expected, "telnyx")]
    assert telnyx_site.metrics.voice_refused.labels(reason=expected)._value.get() == 1


async def test_a_replay_inside_the_window_is_answered_the_same(
        telnyx_site: VoiceSite, clock: ManualClock, telnyx_key: Ed25519PrivateKey) -> None:
    caller = telnyx_site.caller("v3:telnyx-replayed", FR_CALLER)
    form = caller.form(CallStatus="ringing")
    body = urlencode(form).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded",
               **telnyx_signer(telnyx_key, clock)(BASE_URL + "/incoming", form, body)}
    first = await telnyx_site.client.post("/voice/incoming", data=body, headers=headers)
    clock.advance(299)
    again = await telnyx_site.client.post("/voice/incoming", data=body, headers=headers)
    clock.advance(2)
    late = await telnyx_site.client.post("/voice/incoming", data=body, headers=headers)
    assert [first.status, again.status, late.status] == [200, 200, 403]
    assert await first.text() == await again.text()
    assert await calls(telnyx_site.pool) == 1


@pytest.mark.parametrize("header", ["X-SignalWire-Signature", "X-Twilio-Signature"])
async def test_signalwire_signs_like_twilio_in_either_header(
        signalwire_site: VoiceSite, header: str) -> None:
    caller = signalwire_site.caller(f"sw-{header}", FR_CALLER)
    form = caller.form(CallStatus="ringing")
    url = BASE_URL + "/incoming"
    right = await signalwire_site.client.post(
        "/voice/incoming", data=form, headers={header: sign(url, form, SIGNING_KEY)})
    wrong = await signalwire_site.client.post(
        "/voice/incoming", data=form, headers={header: sign(url, form, "another-key")})
    assert (right.status, wrong.status) == (200, 403)
    root = ET.fromstring(await right.text())
    assert root.tag == "Response" and root.find("Gather") is not None


async def test_signalwire_header_wins_over_its_alias(signalwire_site: VoiceSite) -> None:
    caller = signalwire_site.caller("sw-both", FR_CALLER)
    form = caller.form(CallStatus="ringing")
    url = BASE_URL + "/incoming"
    response = await signalwire_site.client.post("/voice/incoming", data=form, headers={
        "X-SignalWire-Signature": sign(url, form, "another-key"),
        "X-Twilio-Signature": sign(url, form, SIGNING_KEY)})
    assert response.status == 403


async def test_a_twilio_line_ignores_the_signalwire_header(site: VoiceSite) -> None:
    caller = site.caller("tw-sw-header", FR_CALLER)
    form = caller.form(CallStatus="ringing")
    response = await site.client.post("/voice/incoming", data=form, headers={
        "X-SignalWire-Signature": sign(BASE_URL + "/incoming", form, TOKEN)})
    assert response.status == 403
    assert site.metrics.voice_refused.labels(reason="unsigned")._value.get() == 1


@pytest.mark.parametrize(("key", "says"), [
    (None, "required when GATEWAY_VOICE_SIGNATURE_SCHEME is telnyx"),
    ("not base64!", "not base64"),
    (base64.b64encode(bytes(16)).decode(), "32 bytes"),
])
def test_telnyx_needs_its_public_key(key: str | None, says: str) -> None:
    environ = {"DATABASE_URL": "postgresql://localhost/x", "GATEWAY_VOICE_ENABLED": "true",
               "GATEWAY_VOICE_AUTH_TOKEN": "t", "GATEWAY_VOICE_SIGNATURE_SCHEME": "telnyx",
               **({"GATEWAY_VOICE_TELNYX_PUBLIC_KEY": key} if key is not None else {})}
    with pytest.raises(ConfigError) as raised:
        load_settings(environ)
    assert any(problem.startswith("GATEWAY_VOICE_TELNYX_PUBLIC_KEY:") and says in problem
               for problem in raised.value.problems), raised.value.problems


def test_a_well_formed_key_is_accepted() -> None:
    key = public_base64(Ed25519PrivateKey.generate())
    loaded = load_settings({"DATABASE_URL": "postgresql://localhost/x",
                            "GATEWAY_VOICE_ENABLED": "true", "GATEWAY_VOICE_AUTH_TOKEN": "t",
                            "GATEWAY_VOICE_SIGNATURE_SCHEME": "telnyx",
                            "GATEWAY_VOICE_TELNYX_PUBLIC_KEY": key})
    assert loaded.voice_telnyx_public_key == key and loaded.voice_signature_max_age == 300


async def test_the_call_simulator_is_off_on_a_telnyx_line(pool: asyncpg.Pool, settings: Settings,
                                                          clock: ManualClock,
                                                          telnyx_key: Ed25519PrivateKey) -> None:
    site = await start_voice_site(pool, voice_settings(
        settings, voice_signature_scheme="telnyx", voice_simulator=True,
        voice_telnyx_public_key=public_base64(telnyx_key)), clock=clock)
    try:
        organizer = await site.web.staff("organizer")
        page = await site.client.get("/voice-line/simulator", headers=organizer.bearer)
        assert page.status == 404
        home = await (await site.client.get("/voice-line", headers=organizer.bearer)).text()
        assert "Call simulator" not in home
    finally:
        await site.client.close()


TELNYX_RECORDING = "35094891-3290-4142-b2c2-b2eda57534cf"  # Telnyx's ids are UUIDs


async def test_a_telnyx_line_asks_for_the_transcription_in_texml_and_reads_its_callback(
        telnyx_site: VoiceSite, clock: ManualClock, telnyx_key: Ed25519PrivateKey) -> None:
    """TeXML's <Record> takes `transcription` and `transcriptionCallback` (TwiML's
    `transcribe` pair is not Telnyx's); the callback's fields have Twilio's names."""
    telnyx_site.signer = telnyx_signer(telnyx_key, clock)
    caller = telnyx_site.caller("v3:telnyx-asks", FR_CALLER)
    prompt = await caller.press(await caller.press(await caller.call(), "3"), "1")
    record = prompt.first("Record").attrib
    assert record["transcription"] == "true"
    assert record["transcriptionCallback"].startswith(BASE_URL + "/transcription?")
    assert record["recordingStatusCallback"].startswith(BASE_URL + "/recording?")
    assert "transcribe" not in record and "transcribeCallback" not in record
    media = "https://api.telnyx.com/v2/recordings/abc123.wav"
    stored = await caller.post(record["recordingStatusCallback"],
                               RecordingSid=TELNYX_RECORDING, RecordingStatus="completed",
                               RecordingUrl=media, RecordingDuration="5",
                               RecordingChannels="1", RecordingSource="StartCallRecordingAPI")
    assert stored.status == 204
    text = "Que ferez-vous pour l'école du village ?"
    done = await caller.post(record["transcriptionCallback"], RecordingSid=TELNYX_RECORDING,
                             RecordingUrl=media, CallStatus="in-progress",
                             TranscriptionSid="b08f0fa1-a32c-4218-b3b5-9cf78941ccac",
                             TranscriptionStatus="completed", TranscriptionText=text)
    assert done.status == 204
    async with telnyx_site.pool.acquire() as conn:
        row = await conn.fetchrow("SELECT source_url, duration_seconds, transcription "
                                  "FROM voice_recordings WHERE recording_sid = $1",
                                  TELNYX_RECORDING)
    assert row is not None
    assert (row["source_url"], row["duration_seconds"], row["transcription"]) == (
        media, 5, text)


async def test_a_twilio_line_asks_for_the_transcription_in_twiml(site: VoiceSite) -> None:
    caller = site.caller("CA-twiml-asks", FR_CALLER)
    prompt = await caller.press(await caller.press(await caller.call(), "3"), "1")
    record = prompt.first("Record").attrib
    assert record["transcribe"] == "true"
    assert record["transcribeCallback"].startswith(BASE_URL + "/transcription?")
    assert "transcription" not in record


def test_telnyx_recording_downloads_are_all_tried_while_the_link_works(
        settings: Settings) -> None:
    """A Telnyx recording link works 10 minutes after the call: the default tries, their
    waits and their timeouts fit in that; elsewhere the waits grow to 30 minutes."""
    telnyx = settings.model_copy(update={"voice_signature_scheme": "telnyx"})
    assert download_window(telnyx) <= TELNYX_LINK_LIFE
    assert download_window(settings) > TELNYX_LINK_LIFE  # Twilio keeps recordings: no hurry
    assert backoff(7, longest_retry(telnyx)) == timedelta(minutes=1)
    assert backoff(7, longest_retry(settings)) == timedelta(seconds=320)
