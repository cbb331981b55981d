"""The expert inbox page: queues with overdue and SLA, claim, the question beside its
timeline, the answer form and its segment count, and who may open it."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

from gateway.web.pages.inbox import duration
from tests.support.pages_site import form_token
from tests.support.questions import EDU, EDU_TEXT, SECURITY_TEXT, asked
from tests.support.webapi import WebApi


async def page(site: WebApi, path: str, **kw: object) -> tuple[int, str]:
    response = await site.client.get(path, allow_redirects=False, **kw)  # type: ignore[arg-type]
    return response.status, await response.text()


async def test_the_inbox_renders_for_an_expert_and_refuses_other_roles(site: WebApi) -> None:
    now = datetime.now(UTC)
    late = await asked(site.pool, EDU, EDU_TEXT, now - timedelta(days=3))
    security = await asked(site.pool, "+33600000102", SECURITY_TEXT, now)
    await site.staff("expert", email="edu@example.org", themes=("education",))
    await site.login("edu@example.org")

    status, text = await page(site, "/inbox")
    assert status == 200
    assert '<a href="/inbox" aria-current="page">Expert inbox</a>' in text
    assert "Your themes: Education." in text  # the theme's name, not its id
    row = re.search(rf'<tr class="overdue" data-question="{late}">.*?</tr>', text, re.S)
    assert row, "the overdue question is highlighted"
    assert "Overdue" in row[0] and html.escape(EDU_TEXT, quote=False) in html.unescape(row[0])
    assert "********0101" in row[0] and EDU not in text
    assert f'action="/inbox/questions/{late}/claim"' in row[0]
    assert "1 overdue" in text and "SLA 2 d" in text
    assert 'id="response-times"' in text
    assert f"/inbox/questions/{security}" not in text  # another theme's question

    status, text = await page(site, f"/inbox/questions/{security}")
    assert status == 403 and "not one of yours" in text

    for role in ("organizer", "finance"):
        staff = await site.staff(role)
        status, text = await page(site, "/inbox", headers=staff.bearer)
        assert status == 403, role
        assert "Expert inbox" not in text  # not in their navigation either
    site.client.session.cookie_jar.clear()
    status, _ = await page(site, "/inbox")
    assert status == 303


async def test_an_expert_s_themes_are_named_in_the_viewer_s_language(site: WebApi) -> None:
    """keywords.yaml names French themes in French, with `names: {en: ...}` for pages."""
    await site.staff("expert", email="sec@example.org", themes=("securite", "sante"))
    await site.login("sec@example.org")
    async with site.pool.acquire() as conn:
        await conn.execute("UPDATE users SET language = 'en' WHERE email = 'sec@example.org'")
    status, text = await page(site, "/inbox")
    assert status == 200
    assert "Your themes: Security, Health." in text
    assert '<h2 id="queue-securite-h">Security' in text
    async with site.pool.acquire() as conn:
        await conn.execute("UPDATE users SET language = 'fr' WHERE email = 'sec@example.org'")
    status, text = await page(site, "/inbox")
    assert "Sécurité, Santé" in html.unescape(text)


async def test_claim_then_answer_from_the_page_with_the_segment_count(site: WebApi) -> None:
    question = await asked(site.pool, EDU, EDU_TEXT, datetime.now(UTC))
    await site.staff("expert", email="edu@example.org", themes=("education",))
    rival = await site.staff("expert", email="rival@example.org", themes=("education",))
    await site.login("edu@example.org")
    status, text = await page(site, "/inbox")
    token = form_token(text)
    url = f"/inbox/questions/{question}"

    refused = await site.client.post(f"{url}/claim", data={}, allow_redirects=False)
    assert refused.status == 403  # no CSRF token
    claimed = await site.client.post(f"{url}/claim", data={"csrf_token": token},
                                     allow_redirects=False)
    assert (claimed.status, claimed.headers["Location"]) == (303, f"{url}?notice=claimed")

    late = await site.client.post(f"{url}/claim", headers=rival.bearer, allow_redirects=False)
    assert late.status == 409
    assert "already claimed by edu@example.org" in await late.text()

    status, text = await page(site, url)
    assert status == 200
    assert html.escape(EDU_TEXT) in text and 'id="timeline"' in text
    assert 'data-before="Ensemble Citoyen : "' in text and 'data-max="6"' in text
    assert re.search(r'<output id="answer-segments"[^>]*>1</output>', text)
    assert 'src="/static/inbox.js"' in text
    assert f'action="/inbox/questions/{question}/release"' in text

    long = "Réponse longue. " * 70
    refused = await site.client.post(f"{url}/answer", data={"csrf_token": token, "text": long},
                                     allow_redirects=False)
    body = await refused.text()
    assert refused.status == 400
    assert 'aria-invalid="true"' in body and 'id="text-error"' in body
    assert "segments" in body and long.strip() in html.unescape(body)  # the draft is kept
    shown = re.search(r'<output id="answer-segments"[^>]*>(\d+)</output>', body)
    assert shown and int(shown[1]) > 6

    sent = await site.client.post(f"{url}/answer", allow_redirects=False,
                                  data={"csrf_token": token, "text": "En septembre."})
    assert (sent.status, sent.headers["Location"]) == (303, f"{url}?notice=sent")
    status, text = await page(site, f"{url}?notice=sent")
    assert "Answer queued" in text and 'id="question-answer">En septembre.<' in text
    async with site.pool.acquire() as conn:
        assert await conn.fetchval("SELECT body FROM outbound ORDER BY id DESC LIMIT 1") == (
            "Ensemble Citoyen : En septembre. STOP au 38200")


def test_durations_read_as_people_say_them() -> None:
    assert [duration(s) for s in (None, 42.4, 90, 5400, 172800, 259200 * 1.5)] == [
        "—", "42 s", "1.5 min", "1.5 h", "2 d", "4.5 d"]
