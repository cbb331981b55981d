"""The organizers' report on real calls: every call is driven through the signed webhooks
(tests/support/voice.py), recordings are fetched from the fake provider, and then the
page, the API and the Prometheus counters must tell the same numbers.

The clock starts in a past February and moves forward call by call; the organization's
time zone is Paris, so a call at 23:30 UTC counts on the next day.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gateway.voice.recordings import RecordingFetcher
from tests.support.clock import ManualClock
from tests.support.voice import Caller, VoiceSite
from tests.support.voice_provider import FakeProvider

START = datetime(2026, 2, 19, 10, 0, tzinfo=UTC)  # 20 days before the report's last day
DAY_1 = datetime(2026, 3, 9, 10, 0, tzinfo=UTC)
LATE_DAY_2 = datetime(2026, 3, 10, 23, 30, tzinfo=UTC)  # 00:30 on 11 March in Paris
REPORT_AT = datetime(2026, 3, 11, 12, 0, tzinfo=UTC)


@pytest.fixture
def voice_changes() -> dict[str, Any]:
    return {"organization_timezone": "Europe/Paris"}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


async def heard_the_message(caller: Caller) -> None:
    await caller.press(await caller.call(), "1")
    await caller.hang_up(30)


async def record(caller: Caller, provider: FakeProvider, sid: str) -> None:
    """Menu 3, the first theme, a recording and the provider's recording callback."""
    prompt = await caller.press(await caller.press(await caller.call(), "3"), "1")
    links = dict(prompt.first("Record").attrib)
    await caller.post(links["action"], RecordingSid=sid, RecordingUrl=provider.url(sid),
                      RecordingDuration="9")
    await caller.post(links["recordingStatusCallback"], RecordingSid=sid,
                      RecordingStatus="completed", RecordingUrl=provider.url(sid),
                      RecordingDuration="9")
    await caller.hang_up(60)


async def test_calls_per_day_branch_abandon_rate_and_questions_per_theme(
        site: VoiceSite, clock: ManualClock, provider: FakeProvider,
        fetcher: RecordingFetcher) -> None:
    await heard_the_message(site.caller("CA-old", "+33612000001"))  # before the 14 days
    clock.set(DAY_1)
    await heard_the_message(site.caller("CA-message", "+33612000002"))
    gone = site.caller("CA-gone", "+33612000003")  # hangs up during the greeting
    await gone.call()
    await gone.hang_up(3)
    halfway = site.caller("CA-halfway", "+33612000004")  # opens support, leaves
    await halfway.press(await halfway.call(), "2")
    await halfway.hang_up(12)
    giver = site.caller("CA-giver", "+33612000005")
    await giver.press(await giver.press(await giver.call(), "2"), "1")
    await giver.hang_up(25)
    await site.caller("CA-ongoing", "+33612000006").call()  # no end yet
    clock.set(LATE_DAY_2)
    await record(site.caller("CA-asks", "+33612000007"), provider, "RE-asks")
    await record(site.caller("CA-hidden", None), provider, "RE-hidden")
    assert await fetcher.tick() == 2
    clock.set(REPORT_AT)

    organizer = await site.web.staff("organizer")
    response = await site.client.get("/api/v1/voice/report", headers=organizer.bearer)
    assert response.status == 200
    report = await response.json()
    assert (report["program"], report["time_zone"], report["from"], report["to"]) == (
        "ensemble", "Europe/Paris", "2026-02-26", "2026-03-11")
    days = {day["day"]: day for day in report["days"]}
    assert len(report["days"]) == 14 and report["days"][0]["day"] == "2026-02-26"
    assert days["2026-03-09"] == {"day": "2026-03-09", "calls": 5, "ended": 4, "abandoned": 2}
    assert days["2026-03-10"]["calls"] == 0  # the late calls are on Paris's 11 March
    assert days["2026-03-11"] == {"day": "2026-03-11", "calls": 2, "ended": 2, "abandoned": 0}
    assert (report["calls"], report["ended"], report["abandoned"]) == (7, 6, 2)
    assert report["abandon_rate"] == round(2 / 6, 4)
    assert report["branches"] == {"message": 1, "support": 2, "donation_link": 1,
                                  "sms_opt_in": 0, "question": 2, "theme": 2, "recorded": 2,
                                  "goodbye": 0}
    by_theme = {t["theme"]: t for t in report["questions_by_theme"]}
    assert by_theme["education"] == {"theme": "education", "name": "Education",
                                     "questions": 2, "answered": 0, "withheld": 1}
    assert sum(t["questions"] for t in report["questions_by_theme"]) == 2

    # the counters were moved by the same calls (the old one included: they never reset)
    metrics = site.metrics
    assert metrics.voice_calls._value.get() == 8
    assert metrics.voice_abandoned._value.get() == 2
    assert metrics.voice_branches.labels(branch="recorded")._value.get() == 2
    assert metrics.voice_branches.labels(branch="message")._value.get() == 2
    assert metrics.voice_recordings.labels(outcome="stored")._value.get() == 2

    page = await site.client.get("/voice-line/report", headers=organizer.bearer)
    text = await page.text()
    assert page.status == 200
    assert "2 of 6 ended calls (33.3 %)" in text
    assert "The voice line of <strong>Ensemble Citoyen</strong>" in text  # its name, not its id
    assert "<th scope=\"row\">Education</th><td>2</td><td>0</td><td>1</td>" in text
    assert "<th scope=\"row\">Recorded a question</th><td>2</td>" in text
    assert "<th scope=\"row\">2026-03-09</th><td>5</td><td>4</td><td>2</td>" in text
    voice_line = await (await site.client.get("/voice-line", headers=organizer.bearer)).text()
    assert 'href="/voice-line/report"' in voice_line


async def test_the_report_is_for_organizers_and_admins(site: VoiceSite,
                                                       clock: ManualClock) -> None:
    clock.set(REPORT_AT - timedelta(hours=1))
    expert = await site.web.staff("expert", email="edu@example.org", themes=("education",))
    finance = await site.web.staff("finance")
    admin = await site.web.staff("admin")
    statuses = []
    for who in (expert, finance, admin):
        for path in ("/voice-line/report", "/api/v1/voice/report"):
            statuses.append((await site.client.get(path, headers=who.bearer)).status)
    assert statuses == [403, 403, 403, 403, 200, 200]
    empty = await (await site.client.get("/api/v1/voice/report?days=3",
                                         headers=admin.bearer)).json()
    assert (empty["calls"], empty["abandon_rate"], len(empty["days"])) == (0, None, 3)
    nav = await (await site.client.get("/voice-line", headers=admin.bearer)).text()
    assert "Voice line report" in nav
