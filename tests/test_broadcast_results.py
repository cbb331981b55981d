"""A broadcast's results against hand-counted rows: on the API, the page and the webhook.

The story is the dashboard's (tests/support/dashboard_data.py), whose acts are
written by the real pipeline; "vote" reached Ana and Ben (Cal's text never
left), Ben replied and gave $25 within the day, Ana sent STOP; Cal's gift is
not the broadcast's (no text reached her). A third broadcast has texts that
failed for known reasons, and clicks written by the short-link path.
"""

from __future__ import annotations

import json
from datetime import timedelta

import asyncpg

from gateway.broadcast import clicks, results
from gateway.broadcast.control import BroadcastTicker
from gateway.broadcast.policy import QuietHoursPolicy
from gateway.store import short_links, webhook_subscriptions
from tests.support.dashboard_data import ANA, BEN, CAL, NOW, US, seed, site_at_noon, utc
from tests.support.webapi import WebApi

__all__ = ["site_at_noon"]

IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) Safari/604.1"


async def failing_broadcast(conn: asyncpg.Connection) -> int:
    """Five texts: two delivered, one refused (throttled), two undeliverable (one with the
    carrier's code on its segment), one suppressed; Ben and Cal each have a link."""
    bid: int = await conn.fetchval(
        "INSERT INTO broadcasts (program, shortcode, template, status, created_by)"
        " VALUES ('rise', $1, 'See https://example.org/x', 'running', 'o@example.org')"
        " RETURNING id", US)
    rows = [("+12125550201", "delivered", None), ("+12125550202", "delivered", None),
            ("+12125550203", "rejected", "submit_sm: ESME_RTHROTTLED"),
            ("+12125550204", "undeliverable", None), ("+12125550205", "undeliverable", None),
            ("+12125550206", "suppressed", None)]
    for msisdn, status, error in rows:
        oid = await conn.fetchval(
            "INSERT INTO outbound (msisdn, shortcode, body, broadcast_id, status, last_error,"
            " submitted_at) VALUES ($1, $2, 'See', $3, $4, $5, $6) RETURNING id",
            msisdn, US, bid, status, error, None if status == "suppressed" else utc(9, 10))
        if msisdn == "+12125550204":
            await conn.execute(
                "INSERT INTO outbound_segments (outbound_id, seq, smsc_message_id, status,"
                " error_code) VALUES ($1, 1, 'm-204', 'undeliverable', '011')", oid)
    await short_links.insert_links(
        conn, broadcast_id=bid, shortcode=US, destinations={None: ["https://example.org/x"]},
        linked=[("+12125550201", ["tok-a-0123456789abc"], None), ("+12125550202",
                                                          ["tok-b-0123456789abc"], None)])
    for token, agent in [("tok-a-0123456789abc", IPHONE), ("tok-a-0123456789abc", IPHONE),
                         ("tok-b-0123456789abc", IPHONE), ("tok-b-0123456789abc", "WhatsApp/2")]:
        await clicks.visit(conn, token, user_agent=agent, method="GET", at=utc(9, 11))
    return bid


async def test_results_match_the_hand_counted_rows(site_at_noon: WebApi) -> None:
    web = site_at_noon
    rally, vote = await seed(web.pool)
    async with web.pool.acquire() as conn:
        failing = await failing_broadcast(conn)
    organizer = await web.staff("organizer")
    answers = {}
    for bid in (rally, vote, failing):
        response = await web.client.get(f"/api/v1/broadcasts/{bid}/results",
                                        headers=organizer.bearer)
        assert response.status == 200, await response.text()
        answers[bid] = await response.json()
    assert answers[vote] == {
        "broadcast_id": vote, "sent": 2, "delivered": 2, "failed": 0, "failed_by_reason": [],
        "not_sent": 0, "waiting": 1, "clicks": {"unique": 0, "total": 0, "people": 0},
        "replies": 1, "opt_outs": 1,
        "gifts": [{"currency": "USD", "count": 1, "amount_cents": 2_500}],
        "attribution_window_hours": 24}
    # Ana's GIVE text is her reply (as the dashboard counts it); her second gift came
    # exactly 24 h after the rally text: outside the window
    assert (answers[rally]["sent"], answers[rally]["replies"], answers[rally]["gifts"]) == (
        1, 1, [{"currency": "USD", "count": 1, "amount_cents": 1_000}])
    assert answers[failing] | {"broadcast_id": 0} == {
        "broadcast_id": 0, "sent": 5, "delivered": 2, "failed": 3,
        "failed_by_reason": [{"status": "rejected", "reason": "submit_sm: ESME_RTHROTTLED",
                              "count": 1},
                             {"status": "undeliverable", "reason": "", "count": 1},
                             {"status": "undeliverable", "reason": "011", "count": 1}],
        "not_sent": 1, "waiting": 0, "clicks": {"unique": 2, "total": 3, "people": 2},
        "replies": 0, "opt_outs": 0, "gifts": [], "attribution_window_hours": 24}
    assert CAL and BEN and ANA  # the story's people, named above
    missing = await web.client.get("/api/v1/broadcasts/999999/results",
                                   headers=organizer.bearer)
    assert missing.status == 404
    expert = await web.staff("expert")
    refused = await web.client.get(f"/api/v1/broadcasts/{vote}/results",
                                   headers=expert.bearer)
    assert refused.status == 403


async def test_the_page_shows_the_results(site_at_noon: WebApi) -> None:
    web = site_at_noon
    _, vote = await seed(web.pool)
    organizer = await web.staff("organizer")
    await web.login(organizer.user.email)
    page = await (await web.client.get(f"/broadcasts/{vote}")).text()
    assert '<td data-result="sent">2</td>' in page
    assert '<td data-result="replies">1</td>' in page
    assert '<td data-result="opt_outs">1</td>' in page
    assert '<td data-result="gifts-USD">1 for $25.00</td>' in page


async def test_finishing_emits_broadcast_completed_with_the_results_in_its_transaction(
    pool: asyncpg.Pool,
) -> None:
    await seed(pool)
    async with pool.acquire() as conn:
        failing = await failing_broadcast(conn)
        await conn.execute("UPDATE broadcasts SET materialized_at = now() WHERE id = $1",
                           failing)
        await webhook_subscriptions.insert(
            conn, url="https://crm.example.org/hook", description="", secret="s" * 40,
            event_types=("broadcast.completed",), created_by=None)
        expected = (await results.results_of(conn, failing)).as_data()
    ticker = BroadcastTicker(pool, policy=QuietHoursPolicy(), clock=lambda: NOW)
    await ticker.tick()
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT status FROM broadcasts WHERE id = $1",
                                   failing) == "done"
        events = await conn.fetch("SELECT event_type, payload::text AS payload, occurred_at"
                                  " FROM webhook_events")
    assert [e["event_type"] for e in events] == ["broadcast.completed"]
    assert json.loads(events[0]["payload"]) == {"program": "rise", "shortcode": US, **expected}
    assert abs(events[0]["occurred_at"] - NOW) < timedelta(seconds=1)
