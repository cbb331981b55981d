"""The candidate's message for organizers: the API and the page publish versions alike
(format checked by the file's bytes, size limited, audit-logged), and calls per day.
"""

from __future__ import annotations

import base64
import io
import json
from json import dumps
from typing import Any

import aiohttp
import pytest

from gateway.voice.audio import NotAudio, audio_format
from tests.support.voice import VoiceSite

MAX = 2_000_000  # a limit above the web app's 1 MiB, to prove the larger body is taken
WAV_HEAD = b"RIFF\x00\x00\x00\x00WAVEfmt "


@pytest.fixture
def voice_changes() -> dict[str, Any]:
    """This file's line settings (tests/voice/conftest.py builds the site from them)."""
    return {"voice_message_max_bytes": MAX}


def wav(size: int) -> bytes:
    return WAV_HEAD + bytes(size - len(WAV_HEAD))


async def test_the_api_publishes_texts_and_files_and_refuses_what_cannot_be_played(
        site: VoiceSite) -> None:
    organizer = await site.web.staff("organizer")
    expert = await site.web.staff("expert")

    async def post(path: str, *, headers: dict[str, str],
                   json: dict[str, str]) -> aiohttp.ClientResponse:
        """A large JSON body goes as a stream (aiohttp warns about one sent as raw bytes)."""
        return await site.client.post(path, data=io.BytesIO(dumps(json).encode()),
                                      headers={**headers, "Content-Type": "application/json"})

    spoken = await post("/api/v1/voice/messages", headers=organizer.bearer,
                        json={"text": "Bonjour, ici la candidate.", "note": "essai"})
    assert spoken.status == 201, await spoken.text()
    big = wav(1_500_000)  # over the web app's 1 MiB: this route takes more
    audio = await post("/api/v1/voice/messages", headers=organizer.bearer, json={
        "program": "ensemble", "filename": "message.wav",
        "content_base64": base64.b64encode(big).decode()})
    assert audio.status == 201, await audio.text()
    body = await audio.json()
    assert (body["version"], body["kind"], body["audio_format"], body["audio_bytes"]) == (
        2, "audio", "wav", len(big))
    assert body["audio_url"] == f"https://voice.campaign.example/voice/audio/{body['id']}.wav"
    refusals = [
        ({"content_base64": base64.b64encode(b"%PDF-1.7" + bytes(100)).decode()},
         "content_base64", "neither WAV nor MP3"),
        ({"content_base64": base64.b64encode(wav(MAX + 1)).decode()}, "content_base64",
         f"the most is {MAX}"),
        ({"text": "x", "program": "nope"}, "program", "unknown program"),
        ({"text": "x", "content_base64": "AAAA"}, "body", "either text or content_base64"),
    ]
    for sent, field, words in refusals:
        refused = await post("/api/v1/voice/messages", headers=organizer.bearer, json=sent)
        error = (await refused.json())["error"]
        assert (refused.status, error["field"]) == (400, field), error
        assert words in error["message"]
    forbidden = await post("/api/v1/voice/messages", headers=expert.bearer, json={"text": "x"})
    assert forbidden.status == 403
    listed = await (await site.client.get("/api/v1/voice/messages",
                                          headers=organizer.bearer)).json()
    assert [(m["version"], m["kind"], m["current"]) for m in listed["messages"]] == [
        (2, "audio", True), (1, "text", False)]
    async with site.pool.acquire() as conn:
        audits = await conn.fetch("SELECT actor, target, detail::text AS detail FROM audit_log "
                                  "WHERE action = 'voice.message_published' ORDER BY id")
    assert [a["actor"] for a in audits] == ["organizer@example.org"] * 2
    assert json.loads(audits[1]["detail"])["audio_sha256"] is not None


async def test_the_page_publishes_a_file_and_shows_a_refusal_beside_the_field(
        site: VoiceSite) -> None:
    await site.web.staff("organizer")
    csrf = await site.web.login("organizer@example.org")
    page = await site.client.get("/voice-line")
    html = await page.text()
    assert page.status == 200
    assert "https://voice.campaign.example/voice/incoming" in html
    assert "Nothing published yet" in html

    def form(kind: str, data: bytes, name: str) -> aiohttp.FormData:
        sent = aiohttp.FormData()
        sent.add_field("csrf_token", csrf)
        sent.add_field("program", "ensemble")
        sent.add_field("kind", kind)
        sent.add_field("note", "meeting in Lyon")
        sent.add_field("file", data, filename=name, content_type="application/octet-stream")
        return sent

    done = await site.client.post("/voice-line/messages", data=form("audio", wav(4000), "m.wav"),
                                  allow_redirects=False)
    assert done.status == 303 and done.headers["Location"] == "/voice-line?notice=published"
    shown = await (await site.client.get("/voice-line?notice=published")).text()
    assert "callers hear now" in shown and "meeting in Lyon" in shown
    assert 'src="/voice/audio/' in shown
    refused = await site.client.post("/voice-line/messages", data=form("audio", b"hello" * 30,
                                                                      "notes.txt"))
    text = await refused.text()
    assert refused.status == 400
    assert 'id="msg-file-error"' in text and "neither WAV nor MP3" in text


async def test_calls_per_day_count_branches_and_abandons(site: VoiceSite) -> None:
    organizer = await site.web.staff("organizer")
    heard = site.caller("CA-1", "+33612345678")
    await heard.press(await heard.call(), "1")
    await heard.hang_up(40)
    gone = site.caller("CA-2", "+33612345679")
    await gone.call()
    await gone.hang_up(4)
    answer = await site.client.get("/api/v1/voice/calls/daily", headers=organizer.bearer)
    body = await answer.json()
    assert body["program"] == "ensemble"
    [day] = body["days"]
    assert (day["calls"], day["message"], day["abandoned"], day["question"]) == (2, 1, 1, 0)


def test_audio_formats_are_told_by_their_bytes() -> None:
    assert audio_format(wav(100)) == "wav"
    assert audio_format(b"ID3\x04" + bytes(100)) == "mp3"
    assert audio_format(bytes.fromhex("fffb9064") + bytes(100)) == "mp3"
    for bad in (b"", bytes(100), bytes.fromhex("fffe9064") + bytes(100), b"OggS" + bytes(100)):
        with pytest.raises(NotAudio):
            audio_format(bad)
