"""A recorded question in the expert inbox: opened in its theme's queue, completed by its
transcription, played to the experts of its theme (and no other), answered by SMS.

The call is driven through the webhooks with signed requests, the audio downloaded
from a fake provider on loopback (test_questions.py's), the experts go through
HTTP with their API tokens, like the page and a script do.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import make_mocked_request

from gateway.store import questions as questions_store
from gateway.voice.recordings import RecordingFetcher
from gateway.web.ranged import ranged_response
from tests.support.clock import ManualClock
from tests.support.voice import FR_CODE, Caller, VoiceSite
from tests.support.voice_provider import FR_CALLER, WAV, FakeProvider

EDU_PLACEHOLDER = ("(question enregistrée sur le thème Education, pas encore transcrite : "
                   "écoutez l'enregistrement)")
OTHER_PLACEHOLDER = ("(question enregistrée sur le thème Autre question, pas encore "
                     "transcrite : écoutez l'enregistrement)")
SCHOOL = "Que comptez-vous faire pour les professeurs et les écoles de mon village ?"


async def questions(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    async with pool.acquire() as conn:
        return list(await conn.fetch("SELECT * FROM questions ORDER BY id"))


async def record(caller: Caller, provider: FakeProvider, digit: str, sid: str
                 ) -> dict[str, str]:
    """Menu 3, theme `digit`, a recording; the provider's callback (and its replay)."""
    prompt = await caller.press(await caller.press(await caller.call(), "3"), digit)
    links = dict(prompt.first("Record").attrib)
    await caller.post(links["action"], RecordingSid=sid, RecordingUrl=provider.url(sid),
                      RecordingDuration="14")
    for _ in range(2):
        await caller.post(links["recordingStatusCallback"], RecordingSid=sid,
                          RecordingStatus="completed", RecordingUrl=provider.url(sid),
                          RecordingDuration="14")
    return links


async def transcribe(caller: Caller, links: dict[str, str], sid: str, text: str) -> None:
    for _ in range(2):  # the callback and a replay of it
        done = await caller.post(links["transcribeCallback"], RecordingSid=sid,
                                 TranscriptionStatus="completed", TranscriptionText=text)
        assert done.status == 204


async def get(site: VoiceSite, path: str, headers: dict[str, str]) -> tuple[int, Any]:
    response = await site.client.get(path, headers=headers)
    return response.status, await response.json()


async def test_a_recorded_question_is_queued_transcribed_played_and_answered_by_sms(
        site: VoiceSite, provider: FakeProvider, fetcher: RecordingFetcher,
        clock: ManualClock) -> None:
    asked_at = clock.now
    caller = site.caller("CA-inbox", FR_CALLER)
    links = await record(caller, provider, "1", "RE-inbox")
    assert await questions(site.pool) == []  # no audio yet: nothing for the experts
    clock.advance(timedelta(seconds=30))
    assert await fetcher.tick() == 1

    [q] = await questions(site.pool)
    assert (q["channel"], q["theme"], q["program"], q["via"], q["status"]) == (
        "voice", "education", "ensemble", "keypad", "open")
    assert (q["msisdn"], q["shortcode"], q["language"]) == (FR_CALLER, FR_CODE, "fr")
    assert q["asked_at"] == asked_at  # when the caller recorded it, not when it was fetched
    assert q["sla_due"] == asked_at + timedelta(days=2)  # what the caller heard: 2 jours
    assert q["body"] == EDU_PLACEHOLDER

    web = site.web
    expert = await web.staff("expert", email="edu@example.org", themes=("education",))
    rival = await web.staff("expert", email="secu@example.org", themes=("securite",))
    status, body = await get(site, "/api/v1/inbox/queues", expert.bearer)
    assert status == 200
    [queue] = body["queues"]
    assert [(i["id"], i["channel"], i["body"]) for i in queue["questions"]] == [
        (q["id"], "voice", EDU_PLACEHOLDER)]

    await transcribe(caller, links, "RE-inbox", SCHOOL)
    [q] = await questions(site.pool)
    assert (q["body"], q["theme"], q["voice_recording_id"] is not None) == (
        SCHOOL, "education", True)
    await record(caller, provider, "1", "RE-inbox")  # the whole recording replayed
    assert await fetcher.tick() == 0
    assert [r["id"] for r in await questions(site.pool)] == [q["id"]]

    url = f"/inbox/questions/{q['id']}"
    page = await site.client.get(url, headers=expert.bearer)
    text = await page.text()
    assert page.status == 200
    assert f'<audio controls preload="metadata" src="{url}/recording">' in text
    assert "a message on the voice line" in text and SCHOOL.replace("'", "&#39;") in text

    audio = await site.client.get(f"{url}/recording", headers=expert.bearer)
    assert (audio.status, audio.headers["Content-Type"]) == (200, "audio/wav")
    assert await audio.read() == WAV and audio.headers["Accept-Ranges"] == "bytes"
    part = await site.client.get(f"{url}/recording",
                                 headers={**expert.bearer, "Range": "bytes=4-11"})
    assert (part.status, part.headers["Content-Range"]) == (206, f"bytes 4-11/{len(WAV)}")
    assert await part.read() == WAV[4:12]
    refused = await site.client.get(f"{url}/recording", headers=rival.bearer)
    assert refused.status == 403 and "not one of yours" in await refused.text()
    async with site.pool.acquire() as conn:
        listened = await conn.fetch(
            "SELECT target, detail FROM audit_log WHERE action = 'contact.viewed' "
            "AND detail->>'view' = 'recording'")
    assert [r["target"] for r in listened] == [f"contact:{FR_CALLER}"]  # one, not per range

    response = await site.client.post(f"/api/v1/inbox/questions/{q['id']}/answer",
                                      headers=expert.bearer,
                                      json={"text": "Nous recruterons 10 000 enseignants."})
    sent = await response.json()
    assert (response.status, sent["channel"]) == (200, "sms"), sent
    async with site.pool.acquire() as conn:
        mt = await conn.fetchrow("SELECT msisdn, shortcode, body FROM outbound WHERE id = $1",
                                 sent["outbound_id"])
        answer = await conn.fetchrow("SELECT channel, answered_by FROM answers")
    assert (mt["msisdn"], mt["shortcode"]) == (FR_CALLER, FR_CODE)
    assert "Nous recruterons 10 000 enseignants." in mt["body"]
    assert (answer["channel"], answer["answered_by"]) == ("sms", "edu@example.org")


async def test_anything_else_moves_to_its_classified_theme_unless_an_expert_claimed_it(
        site: VoiceSite, provider: FakeProvider, fetcher: RecordingFetcher) -> None:
    free = site.caller("CA-free", FR_CALLER)
    held = site.caller("CA-held", "+33612345679")
    free_links = await record(free, provider, "9", "RE-free")
    held_links = await record(held, provider, "9", "RE-held")
    assert await fetcher.tick() == 2
    first, second = await questions(site.pool)
    assert [(q["theme"], q["via"], q["body"]) for q in (first, second)] == [
        ("general", "fallback", OTHER_PLACEHOLDER)] * 2
    general = await site.web.staff("expert", email="general@example.org", themes=("general",))
    claimed = await site.client.post(f"/api/v1/inbox/questions/{second['id']}/claim",
                                     headers=general.bearer, json={})
    assert claimed.status == 200

    await transcribe(free, free_links, "RE-free", SCHOOL)
    await transcribe(held, held_links, "RE-held", SCHOOL)
    first, second = await questions(site.pool)
    assert (first["theme"], first["via"], first["body"]) == ("education", "classified", SCHOOL)
    assert (second["theme"], second["via"], second["body"], second["claimed_by"]) == (
        "general", "fallback", SCHOOL, "general@example.org")


async def test_a_withheld_number_is_heard_but_cannot_be_answered(
        site: VoiceSite, provider: FakeProvider, fetcher: RecordingFetcher,
        clock: ManualClock) -> None:
    caller = site.caller("CA-hidden-q", None)
    await record(caller, provider, "1", "RE-hidden")
    assert await fetcher.tick() == 1
    [q] = await questions(site.pool)
    assert (q["channel"], q["msisdn"], q["shortcode"], q["theme"]) == (
        "voice", None, None, "education")
    # closed as it opens, with its reason: no number to answer, nothing left waiting
    assert (q["status"], q["closed_reason"], q["closed_at"]) == (
        "closed", "no_number", q["asked_at"])
    expert = await site.web.staff("expert", email="edu@example.org", themes=("education",))
    status, waiting = await get(site, "/api/v1/inbox/queues", expert.bearer)
    assert status == 200 and all(not queue["questions"] for queue in waiting["queues"])
    status, closed = await get(site, "/api/v1/inbox/queues?status=closed", expert.bearer)
    [listed] = [item for queue in closed["queues"] for item in queue["questions"]]
    assert (listed["id"], listed["closed_reason"]) == (q["id"], "no_number")
    clock.advance(timedelta(days=5))  # long past its SLA: still not overdue, not escalated
    status, times = await get(site, "/api/v1/inbox/response-times", expert.bearer)
    [education] = [t for t in times["themes"] if t["theme"] == "education"]
    assert (education["asked"], education["waiting"], education["overdue"]) == (1, 0, 0)
    async with site.pool.acquire() as conn:
        assert await questions_store.escalate_overdue(
            conn, {("ensemble", "education"): ["lead@example.org"]}, now=clock()) == []
    inbox = await (await site.client.get("/inbox", headers=expert.bearer)).text()
    assert 'id="closed-questions"' in inbox
    assert f'<tr data-question="{q["id"]}">' in inbox
    assert "No number to answer (the caller withheld it)" in inbox
    page = await site.client.get(f"/inbox/questions/{q['id']}", headers=expert.bearer)
    text = await page.text()
    assert page.status == 200 and 'id="no-answer"' in text and 'id="answer-form"' not in text
    assert "number withheld" in text
    assert "closed without an answer (no number to answer)" in text
    status, body = await get(site, f"/api/v1/inbox/questions/{q['id']}", expert.bearer)
    assert (status, body["no_answer"], body["may_answer"]) == (200, "number_withheld", False)
    response = await site.client.post(f"/api/v1/inbox/questions/{q['id']}/answer",
                                      headers=expert.bearer, json={"text": "Merci."})
    refused = await response.json()
    assert (response.status, refused["error"]["code"]) == (400, "number_withheld")
    audio = await site.client.get(f"/inbox/questions/{q['id']}/recording",
                                  headers=expert.bearer)
    assert audio.status == 200 and await audio.read() == WAV
    async with site.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM answers") == 0


@pytest.mark.parametrize(("header", "status", "content_range", "body"), [
    ("bytes=0-", 206, "bytes 0-9/10", b"0123456789"),
    ("bytes=-3", 206, "bytes 7-9/10", b"789"),
    ("bytes=8-20", 206, "bytes 8-9/10", b"89"),
    ("bytes=10-", 416, "bytes */10", b""),
    (None, 200, None, b"0123456789"),
])
def test_ranges_of_bytes_in_memory(header: str | None, status: int, content_range: str | None,
                                   body: bytes) -> None:
    request = make_mocked_request("GET", "/", headers={"Range": header} if header else {})
    response = ranged_response(request, b"0123456789", "audio/wav")
    assert (response.status, response.headers.get("Content-Range")) == (status, content_range)
    assert (response.body or b"") == body
