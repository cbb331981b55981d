"""POST /voice/<step>: the voice provider's webhooks; GET /voice/audio/<id>.<ext>: what it plays.

Every POST is checked before anything else, by the scheme the settings name
(gateway/voice/signature.py): Twilio's or SignalWire's HMAC of the URL as the
provider saw it (GATEWAY_VOICE_BASE_URL plus the path and query as sent) and
of the form fields, or Telnyx's Ed25519 signature of the timestamp and the
raw body. Unsigned, wrongly signed or (Telnyx) signed too long ago: 403 and a
log line, and nothing read or written. A request
the line cannot read (no CallSid, a link it never gave): 400 saying what.
The steps themselves are gateway/voice/steps.py.

The audio route is public and unsigned: providers fetch <Play> media with a
plain GET, and the candidate's message is public by nature. It answers
range requests (aiohttp's FileResponse), which players and providers use.
"""

from __future__ import annotations

from aiohttp import web
from multidict import MultiDict

from gateway.config import Settings
from gateway.logs import get_logger
from gateway.metrics import Metrics
from gateway.voice.menus import BadVoiceRequest
from gateway.voice.signature import WebhookCheck
from gateway.voice.steps import VoiceLine

PREFIX = "/voice"
STEP_PATH = PREFIX + "/{step:[a-z]+}"
AUDIO_PATH = PREFIX + r"/audio/{message_id:\d+}.{ext:(wav|mp3)}"
AUDIO_CACHE = "public, max-age=86400"  # a version's file never changes; a new one is a new id

log = get_logger(__name__)


def add_voice_routes(app: web.Application, line: VoiceLine, settings: Settings,
                     metrics: Metrics | None = None) -> None:
    """Mount the webhooks and the audio route (only when GATEWAY_VOICE_ENABLED)."""
    check = WebhookCheck.of(settings, line.clock)

    async def step(request: web.Request) -> web.StreamResponse:
        # the raw bytes Telnyx signs (post() reads them again from aiohttp's cache); a
        # multipart body is streamed by post() instead, and signed by no provider's scheme
        multipart = request.content_type == "multipart/form-data"
        body = b"" if multipart else await request.read()
        posted = await request.post()
        form: MultiDict[str] = MultiDict(
            (key, value) for key, value in posted.items() if isinstance(value, str))
        url = settings.voice_url(request.raw_path.removeprefix(PREFIX))
        reason = check.verdict(url, form, body, request.headers)
        if reason != "ok":
            log.warning("voice_request_refused", reason=reason, scheme=check.scheme,
                        path=request.path, client=request.remote)
            _refused(metrics, reason)
            return web.Response(status=403, text="forbidden: not signed by the voice provider")
        if len(form) != len(posted):
            _refused(metrics, "unreadable")
            return web.Response(status=400, text="bad request: a file where a field belongs")
        fields = {key: form[key] for key in form}
        try:
            answer = await line.step(request.match_info["step"], request.query, fields)
        except BadVoiceRequest as err:
            log.warning("voice_request_unreadable", path=request.path, field=err.field)
            _refused(metrics, "unreadable")
            return web.Response(status=400, text=f"bad request: {err}")
        if answer.xml is None:
            return web.Response(status=204)
        return web.Response(text=answer.xml, content_type="application/xml", charset="utf-8")

    async def audio(request: web.Request) -> web.StreamResponse:
        found = await line.audio.file_of(line.pool, int(request.match_info["message_id"]),
                                         request.match_info["ext"])
        if found is None:
            raise web.HTTPNotFound(text="no such audio")
        path, content_type = found
        return web.FileResponse(path, headers={"Content-Type": content_type,
                                               "Cache-Control": AUDIO_CACHE})

    app.router.add_post(STEP_PATH, step, name="voice.step")
    app.router.add_get(AUDIO_PATH, audio, name="voice.audio")


def _refused(metrics: Metrics | None, reason: str) -> None:
    if metrics is not None:
        metrics.voice_refused.labels(reason=reason).inc()
