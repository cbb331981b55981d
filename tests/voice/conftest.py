"""The voice tests' shared fixtures: the line's site, its clock, the provider's media server
and the recording download worker.

The root tests/conftest.py still applies (pytest collects every conftest.py from the
rootdir down): `pool` and `settings` come from there, and `site` here replaces its
web-API `site` for these tests. A test file changes the line's settings by overriding
`voice_changes` (e.g. the simulator on, a smaller message limit).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from gateway.config import Settings
from gateway.voice.recordings import RecordingFetcher
from tests.support.clock import ManualClock
from tests.support.voice import VoiceSite, start_voice_site, voice_settings
from tests.support.voice_provider import FakeProvider


@pytest.fixture
def voice_changes() -> dict[str, Any]:
    """Settings on top of tests/support/voice.py `voice_settings`; none by default."""
    return {}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def site(pool: asyncpg.Pool, settings: Settings, clock: ManualClock,
               voice_changes: dict[str, Any]) -> AsyncIterator[VoiceSite]:
    """The API, the pages and the webhooks on one test server, on the test's clock."""
    started = await start_voice_site(pool, voice_settings(settings, **voice_changes),
                                     clock=clock)
    try:
        yield started
    finally:
        await started.client.close()


@pytest.fixture
async def provider() -> AsyncIterator[FakeProvider]:
    """The provider's media server on loopback (recordings behind its basic credentials)."""
    fake = FakeProvider()
    await fake.start()
    try:
        yield fake
    finally:
        assert fake.server is not None
        await fake.server.close()


@pytest.fixture
async def fetcher(site: VoiceSite, clock: ManualClock) -> AsyncIterator[RecordingFetcher]:
    """The recording download queue's worker, counting into the site's metrics."""
    worker = RecordingFetcher(site.pool, site.settings, site.line.rules, clock=clock,
                              metrics=site.metrics)
    try:
        yield worker
    finally:
        await worker.close()
