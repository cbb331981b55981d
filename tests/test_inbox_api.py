"""The expert inbox API on a real database: theme fences, the claim race, answers, stats.

Supporters' questions are written by the real pipeline (engine + store, as
in tests/test_questions_store.py); experts go through HTTP with their own
API tokens or sessions, like a script or the page would.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from tests.support.questions import EDU, EDU_TEXT, SEC, SECURITY_TEXT, asked
from tests.support.webapi import WebApi


async def questions(pool: asyncpg.Pool) -> tuple[int, int]:
    """One education question asked three days ago (past its 2-day SLA), one security now."""
    now = datetime.now(UTC)
    education = await asked(pool, EDU, EDU_TEXT, now - timedelta(days=3))
    security = await asked(pool, SEC, SECURITY_TEXT, now)
    return education, security


async def audit_rows(pool: asyncpg.Pool) -> list[tuple[str, str, str | None]]:
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT actor, action, target FROM audit_log ORDER BY id")
    return [(r["actor"], r["action"], r["target"]) for r in rows]


async def get(web: WebApi, path: str, headers: dict[str, str]) -> tuple[int, Any]:
    response = await web.client.get(path, headers=headers)
    return response.status, await response.json()


async def post(web: WebApi, path: str, headers: dict[str, str],
               body: dict[str, Any] | None = None) -> tuple[int, Any]:
    response = await web.client.post(path, headers=headers, json=body or {})
    return response.status, await response.json()


async def test_an_expert_sees_and_claims_only_their_themes(web: WebApi) -> None:
    education, security = await questions(web.pool)
    expert = await web.staff("expert", email="edu@example.org", themes=("education",))

    status, body = await get(web, "/api/v1/inbox/queues", expert.bearer)
    assert status == 200
    [queue] = body["queues"]
    assert (queue["theme"], queue["name"], queue["count"], queue["overdue"]) == (
        "education", "Education", 1, 1)
    [item] = queue["questions"]
    assert (item["id"], item["body"], item["overdue"]) == (education, EDU_TEXT, True)
    assert item["msisdn"] == "********0101"  # experts never need the whole number

    for method, path in (
        ("GET", f"/api/v1/inbox/questions/{security}"),
        ("POST", f"/api/v1/inbox/questions/{security}/claim"),
        ("POST", f"/api/v1/inbox/questions/{security}/release"),
        ("GET", "/api/v1/inbox/queues?theme=securite"),
    ):
        response = await web.client.request(method, path, headers=expert.bearer,
                                            json={} if method == "POST" else None)
        refused = await response.json()
        assert (response.status, refused["error"]["code"]) == (403, "theme_forbidden"), path
    status, refused = await post(web, f"/api/v1/inbox/questions/{security}/answer",
                                 expert.bearer, {"text": "Réponse hors thème."})
    assert (status, refused["error"]["code"]) == (403, "theme_forbidden")
    async with web.pool.acquire() as conn:
        row = await conn.fetchrow("SELECT status, claimed_by FROM questions WHERE id = $1",
                                  security)
    assert (row["status"], row["claimed_by"]) == ("open", None)

    admin = await web.staff("admin")
    status, body = await get(web, "/api/v1/inbox/queues", admin.bearer)
    waiting = {q["theme"]: [i["id"] for i in q["questions"]] for q in body["queues"]}
    assert waiting["education"] == [education] and waiting["securite"] == [security]
    assert body["queues"][0]["questions"][0]["msisdn"] == EDU  # admins see it whole


async def test_two_experts_racing_to_claim_one_question_one_wins_one_is_told(
    web: WebApi,
) -> None:
    education, _ = await questions(web.pool)
    alice = await web.staff("expert", email="alice@example.org", themes=("education",))
    bob = await web.staff("expert", email="bob@example.org", themes=("education",))
    path = f"/api/v1/inbox/questions/{education}/claim"

    results = await asyncio.gather(post(web, path, alice.bearer), post(web, path, bob.bearer))

    statuses = sorted(status for status, _ in results)
    assert statuses == [200, 409]
    [(_, won)] = [r for r in results if r[0] == 200]
    [(_, lost)] = [r for r in results if r[0] == 409]
    winner, loser = won["claimed_by"], ({"alice@example.org", "bob@example.org"}
                                        - {won["claimed_by"]}).pop()
    assert lost["error"]["code"] == "already_claimed"
    assert f"already claimed by {winner}" in lost["error"]["message"]
    assert lost["claimed_by"] == winner
    loser_token = alice if loser == "alice@example.org" else bob
    status, refused = await post(web, f"/api/v1/inbox/questions/{education}/answer",
                                 loser_token.bearer, {"text": "Moi aussi je réponds."})
    assert (status, refused["error"]["code"]) == (409, "claimed_by_other")
    assert winner in refused["error"]["message"]
    assert [a for a in await audit_rows(web.pool) if a[1] == "question.claimed"] == [
        (winner, "question.claimed", f"question:{education}")]


async def test_claim_release_answer_with_the_timeline_beside_it(web: WebApi) -> None:
    education, _ = await questions(web.pool)
    expert = await web.staff("expert", email="edu@example.org", themes=("education",))
    base = f"/api/v1/inbox/questions/{education}"

    status, detail = await get(web, base, expert.bearer)
    assert status == 200
    assert detail["question"]["overdue"] is True and detail["may_answer"] is True
    assert [(t["kind"], t["body"]) for t in detail["timeline"]][:2] == [
        ("mo", EDU_TEXT), ("event", "question_asked")]
    assert detail["answer_text"] == {"before": "Ensemble Citoyen : ",
                                     "after": " STOP au 38200", "max_segments": 6}

    assert (await post(web, f"{base}/claim", expert.bearer))[0] == 200
    assert (await post(web, f"{base}/release", expert.bearer))[0] == 200
    status, refused = await post(web, f"{base}/release", expert.bearer)
    assert (status, refused["error"]["code"]) == (409, "conflict")
    assert "not claimed" in refused["error"]["message"]

    status, refused = await post(web, f"{base}/answer", expert.bearer, {"text": "x " * 700})
    assert (status, refused["error"]["field"], refused["error"]["code"]) == (
        400, "text", "too_long")
    assert "segments" in refused["error"]["message"]
    status, refused = await post(web, f"{base}/answer", expert.bearer, {"text": "   "})
    assert (status, refused["error"]["field"]) == (400, "text")
    status, refused = await post(web, f"{base}/answer", expert.bearer, {})
    assert (status, refused["error"]["field"]) == (400, "text")

    status, done = await post(web, f"{base}/answer", expert.bearer,
                              {"text": "Le lycée rouvre   en septembre."})
    assert status == 200
    assert (done["status"], done["answered_by"], done["segments"]) == (
        "answered", "edu@example.org", 1)
    async with web.pool.acquire() as conn:
        mt = await conn.fetchrow("SELECT msisdn, shortcode, body, status FROM outbound"
                                 " WHERE id = $1", done["outbound_id"])
    assert (mt["msisdn"], mt["shortcode"], mt["body"], mt["status"]) == (
        EDU, "38200", "Ensemble Citoyen : Le lycée rouvre en septembre. STOP au 38200", "queued")

    status, again = await post(web, f"{base}/answer", expert.bearer, {"text": "Encore."})
    assert (status, again["error"]["code"]) == (409, "already_answered")
    status, claimed = await post(web, f"{base}/claim", expert.bearer)
    assert (status, claimed["error"]["code"]) == (409, "already_answered")

    status, detail = await get(web, base, expert.bearer)
    assert (detail["question"]["answer"], detail["question"]["answered_by"]) == (
        "Le lycée rouvre en septembre.", "edu@example.org")
    assert detail["question"]["overdue"] is False and detail["may_answer"] is False
    assert detail["timeline"][-1]["kind"] == "mt"

    actions = [(a, t) for _, a, t in await audit_rows(web.pool)]
    assert actions == [
        ("contact.viewed", f"contact:{EDU}"), ("question.claimed", f"question:{education}"),
        ("question.released", f"question:{education}"),
        ("question.answered", f"question:{education}"), ("contact.viewed", f"contact:{EDU}")]


async def test_response_times_per_theme_and_who_sees_them(web: WebApi) -> None:
    education, _ = await questions(web.pool)
    expert = await web.staff("expert", email="edu@example.org", themes=("education",))
    assert (await post(web, f"/api/v1/inbox/questions/{education}/answer", expert.bearer,
                       {"text": "Réponse."}))[0] == 200

    status, body = await get(web, "/api/v1/inbox/response-times", expert.bearer)
    assert status == 200
    [edu] = body["themes"]  # the security theme is not theirs
    assert (edu["theme"], edu["asked"], edu["answered"], edu["answered_late"]) == (
        "education", 1, 1, 1)
    assert edu["median_seconds"] >= 3 * 86400 and edu["sla_seconds"] == 2 * 86400

    organizer = await web.staff("organizer")
    status, body = await get(web, "/api/v1/inbox/response-times", organizer.bearer)
    assert status == 200
    by_theme = {t["theme"]: t for t in body["themes"]}
    assert (by_theme["securite"]["waiting"], by_theme["securite"]["overdue"]) == (1, 0)
    status, refused = await get(web, "/api/v1/inbox/queues", organizer.bearer)
    assert (status, refused["error"]["code"]) == (403, "forbidden")


async def test_an_expert_without_themes_sees_no_queue_and_a_session_needs_csrf(
    web: WebApi,
) -> None:
    education, _ = await questions(web.pool)
    nobody = await web.staff("expert", email="new@example.org")
    status, body = await get(web, "/api/v1/inbox/queues", nobody.bearer)
    assert (status, body["queues"]) == (200, [])

    await web.staff("expert", email="edu@example.org", themes=("education",))
    csrf = await web.login("edu@example.org")
    path = f"/api/v1/inbox/questions/{education}/claim"
    response = await web.client.post(path, json={})
    assert (response.status, (await response.json())["error"]["code"]) == (403, "csrf")
    response = await web.client.post(path, json={}, headers={"X-CSRF-Token": csrf})
    assert response.status == 200


async def test_an_admin_takes_back_a_claim_from_an_expert_who_is_away(web: WebApi) -> None:
    education, _ = await questions(web.pool)
    away = await web.staff("expert", email="away@example.org", themes=("education",))
    other = await web.staff("expert", email="other@example.org", themes=("education",))
    admin = await web.staff("admin", email="lead@example.org")
    assert (await post(web, f"/api/v1/inbox/questions/{education}/claim", away.bearer))[0] == 200
    status, refused = await post(web, f"/api/v1/inbox/questions/{education}/release",
                                 other.bearer)
    assert (status, refused["error"]["code"]) == (409, "claimed")  # experts: only their own

    status, released = await post(web, f"/api/v1/inbox/questions/{education}/release",
                                  admin.bearer)
    assert status == 200 and released["status"] in ("open", "escalated")
    assert (await post(web, f"/api/v1/inbox/questions/{education}/claim", other.bearer))[0] == 200
    async with web.pool.acquire() as conn:
        detail = await conn.fetchval(
            "SELECT detail->>'holder' FROM audit_log WHERE action = 'question.released'")
    assert detail == "away@example.org"
