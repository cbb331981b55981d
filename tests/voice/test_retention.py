"""A call is activity for the retention job (`gateway privacy retention`): a person who
called within GATEWAY_PRIVACY_RETENTION_DAYS is not erased as idle, and a number that only
ever called, long ago, is listed and its calls erased.

Calls are driven through the signed webhooks on a clock that starts past the retention
period; the contact rows the SMS side would have left are written as tests/test_privacy.py
writes them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import SecretStr

from gateway.privacy import rights
from tests.support.clock import ManualClock
from tests.support.voice import FR_CODE, VoiceSite

NOW = datetime.now(UTC)
RETENTION_DAYS = 365
LONG_AGO = NOW - timedelta(days=RETENTION_DAYS + 30)
RECENTLY = NOW - timedelta(days=10)
TEXTED_LONG_AGO_CALLED_RECENTLY = "+33612000011"
TEXTED_LONG_AGO = "+33612000012"  # the control: idle, so the check can fail
CALLED_LONG_AGO_ONLY = "+33612000013"
CALLED_RECENTLY_ONLY = "+33612000014"


@pytest.fixture
def voice_changes() -> dict[str, Any]:
    return {"privacy_hash_secret": SecretStr("retention-test-key"),
            "privacy_retention_days": RETENTION_DAYS}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(LONG_AGO)


async def a_call(site: VoiceSite, call_sid: str, number: str) -> None:
    caller = site.caller(call_sid, number)
    await caller.press(await caller.call(), "1")
    await caller.hang_up(20)


async def test_a_recent_call_keeps_a_contact_and_an_old_one_does_not(
        site: VoiceSite, clock: ManualClock) -> None:
    async with site.pool.acquire() as conn:
        await conn.executemany(
            "INSERT INTO contacts (msisdn, shortcode, updated_at) VALUES ($1, $2, $3)",
            [(TEXTED_LONG_AGO_CALLED_RECENTLY, FR_CODE, LONG_AGO),
             (TEXTED_LONG_AGO, FR_CODE, LONG_AGO)])
    await a_call(site, "CA-old", CALLED_LONG_AGO_ONLY)
    clock.set(RECENTLY)
    await a_call(site, "CA-recent", TEXTED_LONG_AGO_CALLED_RECENTLY)
    await a_call(site, "CA-recent-only", CALLED_RECENTLY_ONLY)

    settings = site.settings
    async with site.pool.acquire() as conn:
        idle = await rights.idle_contacts(conn, settings=settings, now=NOW)
        assert sorted(number for number, _ in idle) == [TEXTED_LONG_AGO, CALLED_LONG_AGO_ONLY]
        last = dict(idle)[CALLED_LONG_AGO_ONLY]
        assert abs((last - LONG_AGO).total_seconds()) < 1  # the call's start
        erased = await rights.apply_retention(conn, settings=settings, now=NOW)
        assert len(erased) == 2
        callers = [r["msisdn"] for r in await conn.fetch(
            "SELECT msisdn FROM calls ORDER BY msisdn")]
        contacts = [r["msisdn"] for r in await conn.fetch(
            "SELECT msisdn FROM contacts WHERE msisdn NOT LIKE 'erased:%' ORDER BY msisdn")]
    assert callers == [TEXTED_LONG_AGO_CALLED_RECENTLY, CALLED_RECENTLY_ONLY]
    assert contacts == [TEXTED_LONG_AGO_CALLED_RECENTLY]
