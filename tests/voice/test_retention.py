"""A call is activity for the retention job (`gateway privacy retention`): a person who
called within GATEWAY_PRIVACY_RETENTION_DAYS is not erased as idle, and a number that only
ever called, long ago, is listed and its calls erased.

Calls are driven through the signed webhooks on a clock that starts past the retention
period; the contact rows the SMS side would have left are written as tests/test_privacy.py
writes them.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import SecretStr

from gateway.privacy import commands, rights
from gateway.voice.recordings import RecordingFetcher
from tests.support.clock import ManualClock
from tests.support.voice import FR_CODE, Caller, VoiceSite
from tests.support.voice_provider import FakeProvider

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


async def a_question(caller: Caller, provider: FakeProvider, sid: str) -> None:
    """Menu 3, theme 1, a recording and its callback: a question once the audio is in."""
    prompt = await caller.press(await caller.press(await caller.call(), "3"), "1")
    links = dict(prompt.first("Record").attrib)
    await caller.post(links["recordingStatusCallback"], RecordingSid=sid,
                      RecordingStatus="completed", RecordingUrl=provider.url(sid),
                      RecordingDuration="4")
    await caller.hang_up(30)


async def test_old_withheld_calls_go_with_their_recordings_and_closed_questions(
        site: VoiceSite, clock: ManualClock, provider: FakeProvider,
        fetcher: RecordingFetcher, capsys: pytest.CaptureFixture[str]) -> None:
    """No number names a withheld caller's call, so the idle list never had it: retention
    erases it by age, with what was recorded on it; recent ones and known callers stay."""
    await a_question(site.caller("CA-hidden-old", None), provider, "RE-hidden-old")
    await a_call(site, "CA-known-old", CALLED_RECENTLY_ONLY)  # a number: the idle list's
    assert await fetcher.tick() == 1
    clock.set(RECENTLY)
    await a_question(site.caller("CA-hidden-new", None), provider, "RE-hidden-new")
    assert await fetcher.tick() == 1
    async with site.pool.acquire() as conn:
        closed = await conn.fetchval("SELECT count(*) FROM questions WHERE status = 'closed'")
        assert closed == 2  # a withheld caller's question is closed as it is asked
        due = await rights.withheld_calls_due(conn, settings=site.settings, now=NOW)
        assert due == ["CA-hidden-old"]
        await commands._retention(conn, site.settings,
                                  argparse.Namespace(apply=False, limit=100), NOW)
        assert await conn.fetchval("SELECT count(*) FROM calls") == 3  # a dry run
        await commands._retention(conn, site.settings,
                                  argparse.Namespace(apply=True, limit=100), NOW)
        calls = [r["call_sid"] for r in await conn.fetch(
            "SELECT call_sid FROM calls ORDER BY call_sid")]
        recordings = [r["recording_sid"] for r in await conn.fetch(
            "SELECT recording_sid FROM voice_recordings")]
        left = await conn.fetchval("SELECT count(*) FROM questions")
        steps = await conn.fetchval(
            "SELECT count(*) FROM call_events WHERE call_sid = 'CA-hidden-old'")
        assert await rights.withheld_calls_due(conn, settings=site.settings, now=NOW) == []
    printed = capsys.readouterr().out
    assert "and 1 call(s) from withheld numbers older than that" in printed
    assert "and 1 call(s) from withheld numbers with their 1 recording(s)" in printed
    assert calls == ["CA-hidden-new"]  # the known caller went as idle, the old one by age
    assert recordings == ["RE-hidden-new"]
    assert (left, steps) == (1, 0)
