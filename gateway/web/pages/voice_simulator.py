"""The demo's call simulator: walk the voice line's menus in a browser, as a caller would.

The page shows what the line says (each <Say>), plays what it plays, offers
the keypad while the line listens, and for a question sends an audio file as
the recording (with a typed text standing in for the provider's
transcription). Each step is a correctly signed webhook request to this
gateway's own /voice/ routes, made by the server (gateway/voice/simulator.py
signs it; the auth token never reaches the browser), so the walk goes
through the signature check and shows the XML a provider gets.

It plays the provider's media server too: a recording "uploaded" here is
served at /voice-line/simulator/media?sid=<sid>, with the provider's HTTP basic
check, for the gateway's download queue to fetch like any recording.

Why off unless GATEWAY_VOICE_SIMULATOR (and the line) is on: a page that
makes calls as any number must not exist in production. Off, every route
here answers 404.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from collections import OrderedDict
from typing import Any, Final

import aiohttp
from aiohttp import web

from gateway.config import Settings
from gateway.logs import get_logger
from gateway.phone import InvalidNumber, to_e164
from gateway.plain_words import N_, reason, said
from gateway.voice.audio import NotAudio, audio_format, audio_seconds
from gateway.voice.simulator import NotOurLink, provider_form, signed_request, verbs
from gateway.voice.steps import caller_of
from gateway.web.body import read_payload
from gateway.web.errors import bad_request, not_found
from gateway.web.pages.frame import PageTable, View

log = get_logger(__name__)
pages = PageTable()

DEFAULT_NUMBER: Final = "+33612345678"
CALL_SID: Final = re.compile(r"^CA[A-Za-z0-9]{8,40}$")
MEDIA: Final = "voice_simulator_media"
KEEP_MEDIA: Final = 20  # recordings kept for the download queue, per process
TIMEOUT: Final = aiohttp.ClientTimeout(total=15)


def _settings(view: View) -> Settings:
    settings = view.context.settings
    if not (settings.voice_simulator and settings.voice_enabled and settings.voice_auth_token):
        raise not_found(N_("the call simulator (set GATEWAY_VOICE_SIMULATOR and turn the voice "
                           "line on, in a demo)"))
    if settings.voice_signature_scheme == "telnyx":  # it signs as Twilio does, refused there
        raise not_found(N_("the call simulator on a Telnyx line (it signs requests as Twilio "
                           "does; use GATEWAY_VOICE_SIGNATURE_SCHEME twilio or signalwire)"))
    return settings


def _media(view: View) -> OrderedDict[str, bytes]:
    store = view.site.extras.setdefault(MEDIA, OrderedDict())
    assert isinstance(store, OrderedDict)
    return store


# What the page's script writes in the call log and beside the controls, in the viewer's
# language (the script fills the %(name)s values; it has no catalog of its own).
SCRIPT_WORDS: Final = {
    "you": N_("You:"), "line": N_("Line:"), "calls": N_("(calls the line)"),
    "hangs_up": N_("(hangs up)"), "presses": N_("presses %(key)s"),
    "presses_nothing": N_("(presses nothing)"), "says_nothing": N_("(says nothing)"),
    "plays_message": N_("(plays the candidate's message)"),
    "line_answered": N_("the line answered %(status)s"), "no_content": N_("(no content)"),
    "recorded": N_("Recorded %(seconds)s s from the microphone: send it, or record again."),
    "unreadable": N_("the recording could not be read (%(reason)s): try again"),
    "no_microphone": N_("the microphone is not available (%(reason)s): send an audio file "
                        "instead"),
    "record": N_("Record from the microphone"), "stop": N_("Stop recording"),
    "recording": N_("Recording from the microphone…"),
    "records_microphone": N_("(records %(seconds)s s from the microphone)"),
    "records_file": N_("(records %(name)s)"),
    "nothing_to_send": N_("record from the microphone or choose an audio file first"),
}


@pages.get("/voice-line/simulator", name="page.voice.simulator")
async def simulator(view: View) -> web.StreamResponse:
    settings = _settings(view)
    return view.render("voice_simulator.html", title=N_("Call simulator"),
                       number=view.query("number") or DEFAULT_NUMBER,
                       base_url=settings.voice_url(),
                       script_words={key: view.viewer.gettext(words)
                                     for key, words in SCRIPT_WORDS.items()})


@pages.post("/voice-line/simulator/step", name="page.voice.simulator.step", json=True)
async def step(view: View) -> web.StreamResponse:
    """Follow one link of the line as the provider: {call_sid, number, withheld, url, fields},
    or answer a <Record> with {record: {...}, recording_base64, transcription}."""
    settings = _settings(view)
    payload, _ = await read_payload(view.request)
    call_sid = str(payload.get("call_sid", ""))
    if not CALL_SID.match(call_sid):
        raise bad_request(N_("call_sid: CA and 8 to 40 letters or digits"), field="call_sid")
    caller = None if payload.get("withheld") else _number(settings, str(payload.get("number")))
    record = payload.get("record")
    if isinstance(record, dict):
        return web.json_response(await _recorded(view, settings, call_sid, caller, record,
                                                 payload))
    fields = payload.get("fields") or {}
    if not isinstance(fields, dict):
        raise bad_request(N_("fields: an object of form fields"), field="fields")
    answered = await _post(view, settings, str(payload.get("url", "")), call_sid, caller,
                           {str(k): str(v) for k, v in fields.items()})
    return web.json_response(answered)


@pages.get("/voice-line/simulator/media", name="page.voice.simulator.media")
async def media(view: View) -> web.StreamResponse:
    """The simulated provider's recording, behind its HTTP basic check."""
    settings = _settings(view)
    token = settings.voice_auth_token
    expected = aiohttp.encode_basic_auth(settings.voice_account_sid or "",
                                         token.get_secret_value() if token else "")
    if settings.voice_account_sid and view.request.headers.get("Authorization") != expected:
        return web.Response(status=401, headers={"WWW-Authenticate": 'Basic realm="media"'})
    data = _media(view).get(view.query("sid"))
    if data is None:
        raise not_found(N_("recording"))
    return web.Response(body=data, content_type="audio/wav" if audio_format(data) == "wav"
                        else "audio/mpeg")


async def _recorded(view: View, settings: Settings, call_sid: str, caller: str | None,
                    record: dict[str, Any], payload: dict[str, Any]) -> dict[str, Any]:
    """The caller recorded: the <Record> action, then the recording and transcription
    callbacks, in the order a provider sends them; the action's answer is what is heard."""
    try:
        data = base64.b64decode(str(payload.get("recording_base64", "")), validate=True)
        audio_format(data)
    except (binascii.Error, ValueError, NotAudio) as err:
        raise bad_request(said(N_("recording: a WAV or MP3 file (%(err)s)"),
                               err=err), field="recording") from None
    sid = "RE" + secrets.token_hex(16)
    stored = _media(view)
    stored[sid] = data
    while len(stored) > KEEP_MEDIA:
        stored.popitem(last=False)
    url = f"{_origin(view)}/voice-line/simulator/media?sid={sid}"
    facts = {"RecordingSid": sid, "RecordingUrl": url}
    seconds = audio_seconds(data)  # what a provider measures; unknown (an MP3): not sent
    if seconds is not None:
        facts["RecordingDuration"] = str(seconds)
    heard = await _post(view, settings, str(record.get("action", "")), call_sid, caller, facts)
    await _post(view, settings, str(record.get("status_callback", "")), call_sid, caller,
                {**facts, "RecordingStatus": "completed"})
    text = str(payload.get("transcription", "")).strip()
    if text:
        await _post(view, settings, str(record.get("transcription_callback", "")), call_sid,
                    caller, {"RecordingSid": sid, "TranscriptionText": text[:2000],
                             "TranscriptionStatus": "completed"})
    return heard


async def _post(view: View, settings: Settings, url: str, call_sid: str, caller: str | None,
                fields: dict[str, str]) -> dict[str, Any]:
    """One signed request to this gateway's own webhook; the answer as steps and as XML."""
    token = settings.voice_auth_token
    assert token is not None
    base = settings.voice_url()
    try:
        form = provider_form(call_sid, caller, fields, settings.voice_account_sid)
        path, signature = signed_request(token.get_secret_value(), base, url, form)
    except NotOurLink as err:
        raise bad_request(reason(err), field="url") from None
    async with aiohttp.ClientSession(timeout=TIMEOUT) as session, session.post(
            _origin(view) + path, data=form, headers={"X-Twilio-Signature": signature}
    ) as response:
        body = await response.text()
        status = response.status
    xml = body if status == 200 else ""
    return {"status": status, "xml": xml, "verbs": verbs(xml, base) if xml else [],
            "error": body[:300] if status >= 400 else None}


def _origin(view: View) -> str:
    """This server as the socket says (not the Host header, which the browser chooses)."""
    sockname = view.request.transport.get_extra_info("sockname") if view.request.transport \
        else None
    if not sockname:
        raise bad_request(N_("the simulator cannot tell its own address"), field="url")
    host, port = sockname[0], sockname[1]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _number(settings: Settings, raw: str) -> str:
    caller = caller_of(raw or DEFAULT_NUMBER, settings.default_region)
    if caller is None:
        try:
            to_e164(raw, default_region=settings.default_region)
        except InvalidNumber as err:
            raise bad_request(reason(err), field="number") from None
        raise bad_request(N_("a phone number, or tick 'number withheld'"), field="number")
    return caller
