"""SignalWire recording downloads: HTTP basic with the Project ID and an API token of the
project, not the Signing Key that checks the webhooks (GATEWAY_VOICE_DOWNLOAD_PASSWORD).

The call is signed with the Signing Key, the recording sits behind a media server on
loopback that wants the project's API credentials, as a SignalWire space that requires
authentication for its recording links does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import SecretStr

from gateway.config import ConfigError, load_settings
from gateway.voice.recordings import RecordingFetcher
from tests.support.voice import BASE_URL, VoiceSite
from tests.support.voice_provider import FR_CALLER, FakeProvider

SIGNING_KEY = "PSK_signalwire-signing-key"
PROJECT_ID = "8f4c6a0e-9d2b-4e51-a3c7-2b1f0e6d9a84"
API_TOKEN = "PT_signalwire-api-token"


@pytest.fixture
def voice_changes() -> dict[str, Any]:
    return {"voice_signature_scheme": "signalwire", "voice_auth_token": SecretStr(SIGNING_KEY),
            "voice_account_sid": PROJECT_ID,
            "voice_download_password": SecretStr(API_TOKEN)}


@pytest.fixture
async def provider() -> AsyncIterator[FakeProvider]:
    fake = FakeProvider(user=PROJECT_ID, password=API_TOKEN)
    await fake.start()
    try:
        yield fake
    finally:
        assert fake.server is not None
        await fake.server.close()


async def test_a_signalwire_recording_is_downloaded_with_the_projects_api_token(
        site: VoiceSite, provider: FakeProvider, fetcher: RecordingFetcher) -> None:
    caller = site.caller("sw-records", FR_CALLER)
    menu = await caller.post(BASE_URL + "/incoming", token=SIGNING_KEY, CallStatus="ringing")
    themes = await caller.post(menu.gather_action, token=SIGNING_KEY, Digits="3")
    prompt = await caller.post(themes.gather_action, token=SIGNING_KEY, Digits="1")
    links = prompt.first("Record").attrib
    sid = "RE-signalwire-1"
    stored = await caller.post(links["recordingStatusCallback"], token=SIGNING_KEY,
                               RecordingSid=sid, RecordingStatus="completed",
                               RecordingUrl=provider.url(sid), RecordingDuration="3")
    assert stored.status == 204
    assert await fetcher.tick() == 1  # the Signing Key as password would get a 401
    async with site.pool.acquire() as conn:
        status = await conn.fetchval("SELECT status FROM voice_recordings")
    assert status == "stored" and provider.requests == [sid]


def test_a_download_password_needs_the_account_sid_as_its_user_name() -> None:
    environ = {"DATABASE_URL": "postgresql://localhost/x", "GATEWAY_VOICE_ENABLED": "true",
               "GATEWAY_VOICE_AUTH_TOKEN": SIGNING_KEY,
               "GATEWAY_VOICE_SIGNATURE_SCHEME": "signalwire",
               "GATEWAY_VOICE_DOWNLOAD_PASSWORD": API_TOKEN}
    with pytest.raises(ConfigError) as raised:
        load_settings(environ)
    assert any(p.startswith("GATEWAY_VOICE_DOWNLOAD_PASSWORD:") and "ACCOUNT_SID" in p
               for p in raised.value.problems), raised.value.problems
    loaded = load_settings({**environ, "GATEWAY_VOICE_ACCOUNT_SID": PROJECT_ID})
    assert loaded.voice_download_password is not None
    assert loaded.voice_download_password.get_secret_value() == API_TOKEN
