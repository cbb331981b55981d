"""The voice line's tests: the real app on a socket, and a provider that signs like Twilio.

Why a fake provider rather than recorded requests: every request must be
signed over the URL the provider saw, which here is a public address
(`BASE_URL`) the test server does not have; that is the point of checking
signatures against GATEWAY_VOICE_BASE_URL and not the Host header. The
signature is the `twilio` library's own (`RequestValidator.compute_signature`),
the one Twilio's servers compute. Answers are parsed as XML (xml.etree) and
followed as a provider would: a key goes to the <Gather>'s action, silence
to the <Redirect> after it.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

import asyncpg
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr
from twilio.request_validator import RequestValidator

from gateway.clock import Clock, utc_now
from gateway.config import Settings
from gateway.engine import Rules, load_rules
from gateway.metrics import Metrics
from gateway.voice.steps import VoiceLine
from gateway.web.api import add_api_routes
from gateway.web.context import WebContext
from gateway.web.health import make_web_app
from gateway.web.pages import add_pages
from gateway.web.voice_webhooks import add_voice_routes
from tests.support.webapi import WebApi

TOKEN = "voice-test-auth-token"
ACCOUNT = "AC0123456789abcdef0123456789abcdef"
BASE_URL = "https://voice.campaign.example/voice"
FR_CODE = "38200"  # the ensemble program's short code (keywords.yaml)


def voice_settings(settings: Settings, **changes: Any) -> Settings:
    """The line on, for the French program (themes, single opt-in), as a provider sees it."""
    return settings.model_copy(update={
        "voice_enabled": True, "voice_auth_token": SecretStr(TOKEN), "voice_account_sid": ACCOUNT,
        "voice_base_url": BASE_URL, "voice_program": "ensemble", "web_cookie_secure": False,
        **changes})


@dataclass
class VoiceSite:
    client: TestClient[Any, Any]
    pool: asyncpg.Pool
    settings: Settings
    line: VoiceLine
    metrics: Metrics
    woken: list[int] = field(default_factory=list)
    # how the provider signs (url, form, body) -> headers; None: Twilio's X-Twilio-Signature
    signer: Signer | None = None

    @property
    def web(self) -> WebApi:
        return WebApi(self.client, self.pool, self.settings)

    def caller(self, call_sid: str, number: str | None) -> Caller:
        return Caller(self, call_sid, number)


async def start_voice_site(pool: asyncpg.Pool, settings: Settings, *, clock: Clock = utc_now,
                           rules: Callable[[], Rules] | None = None) -> VoiceSite:
    """The API, the pages and the voice webhooks on one test server."""
    loaded = load_rules(settings.keywords)
    current = rules or (lambda: loaded)
    metrics = Metrics()
    app = make_web_app(metrics=metrics, health_check=_healthy)
    add_api_routes(app, WebContext(pool, settings, clock=clock, rules=current))
    add_pages(app, smpp_state=lambda: "bound", programs=lambda: list(loaded.programs))
    woken: list[int] = []
    line = VoiceLine(pool, settings, current, clock=clock, metrics=metrics,
                     wake_outbox=lambda: woken.append(1))
    add_voice_routes(app, line, settings, metrics)
    client = TestClient(TestServer(app))
    await client.start_server()
    return VoiceSite(client, pool, settings, line, metrics, woken)


async def _healthy() -> Mapping[str, Any]:
    return {"database": True, "smpp": "bound"}


def sign(url: str, form: Mapping[str, str], token: str = TOKEN) -> str:
    return str(RequestValidator(token).compute_signature(url, form))


Signer = Callable[[str, Mapping[str, str], bytes], dict[str, str]]


@dataclass
class Answered:
    status: int
    root: ET.Element | None  # None: no body (a callback's 204) or not XML

    @property
    def says(self) -> list[str]:
        """Every <Say> text in order, those inside a <Gather> included."""
        assert self.root is not None
        return [el.text or "" for el in self.root.iter("Say")]

    @property
    def text(self) -> str:
        return " ".join(self.says)

    def first(self, tag: str) -> ET.Element:
        assert self.root is not None
        found = self.root.find(f".//{tag}")
        assert found is not None, f"no <{tag}> in {ET.tostring(self.root).decode()}"
        return found

    def has(self, tag: str) -> bool:
        return self.root is not None and self.root.find(f".//{tag}") is not None

    @property
    def gather_action(self) -> str:
        return self.first("Gather").attrib["action"]

    @property
    def redirect(self) -> str:
        return (self.first("Redirect").text or "").strip()

    @property
    def hangs_up(self) -> bool:
        return self.has("Hangup")


class Caller:
    """One call, driven as the provider drives it: signed POSTs to the links answered."""

    def __init__(self, site: VoiceSite, call_sid: str, number: str | None) -> None:
        self.site = site
        self.call_sid = call_sid
        self.number = number

    def form(self, **fields: str) -> dict[str, str]:
        return {"AccountSid": ACCOUNT, "CallSid": self.call_sid,
                "From": self.number or "anonymous", "To": "+33140000000",
                "Direction": "inbound", **fields}

    async def post(self, url: str, *, token: str = TOKEN, signature: str | None = None,
                   **fields: str) -> Answered:
        """POST `fields` to `url` (an absolute link under BASE_URL) as the provider would."""
        form = self.form(**fields)
        path = urlsplit(url)
        assert url.startswith(BASE_URL), url
        local = "/voice" + url.removeprefix(BASE_URL)
        if self.site.signer is not None and signature is None and token == TOKEN:
            body = urlencode(form).encode()
            headers = {"Content-Type": "application/x-www-form-urlencoded",
                       **self.site.signer(url, form, body)}
            response = await self.site.client.post(local, data=body, headers=headers)
            return await _answered(response)
        headers = {"X-Twilio-Signature": signature if signature is not None
                   else sign(url, form, token)}
        response = await self.site.client.post(local, data=form, headers=headers)
        assert path.scheme == "https"
        return await _answered(response)

    async def call(self) -> Answered:
        return await self.post(BASE_URL + "/incoming", CallStatus="ringing")

    async def press(self, answer: Answered, digits: str) -> Answered:
        return await self.post(answer.gather_action, Digits=digits)

    async def say_nothing(self, answer: Answered) -> Answered:
        """No key before the timeout: the provider runs the <Redirect> after the <Gather>."""
        return await self.post(answer.redirect)

    async def hang_up(self, duration: int) -> Answered:
        return await self.post(BASE_URL + "/status", CallStatus="completed",
                               CallDuration=str(duration))


async def _answered(response: ClientResponse) -> Answered:
    body = await response.text()
    if response.status != 200 or not body.strip():
        return Answered(response.status, None)
    assert response.content_type == "application/xml", response.content_type
    return Answered(response.status, ET.fromstring(body))
