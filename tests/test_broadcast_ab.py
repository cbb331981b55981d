"""A/B tests: disjoint random shares of the test fraction, the winner only to the rest.

2,000 subscribers, three variants to 30 % of them: each tested number gets
one variant (its own links), the shares are near equal, the draw is the same
on a rerun; the winner by clicks goes to everyone else, and nobody gets two
texts. The gateway's tick runs the whole life on an injected clock.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta

import asyncpg
import pytest

from gateway.broadcast import ab_test, service
from gateway.broadcast.compose_checks import ComposeError
from gateway.broadcast.control import BroadcastTicker
from gateway.broadcast.policy import QuietHoursPolicy
from gateway.store import broadcasts as store
from tests.support.broadcasts import CODE, NOW, RULES, materialize
from tests.support.webapi import WebApi

BASE = "https://go.example.org/"
PEOPLE = 2_000
TEXTS = ("Rally Saturday: https://example.org/a Reply STOP to end",
         "Come Saturday! https://example.org/b?v=2 Reply STOP to end",
         "Saturday rally, bring a friend https://example.org/c Reply STOP to end")
DESTINATIONS = {1: "https://example.org/a", 2: "https://example.org/b?v=2",
                3: "https://example.org/c"}


async def seed_many(conn: asyncpg.Connection) -> list[str]:
    numbers = [f"+1212555{n:04d}" for n in range(PEOPLE)]
    state = json.dumps({"v": 1, "subs": {"rise": {"status": "subscribed"}}, "profile": {}})
    await conn.executemany(
        "INSERT INTO contacts (msisdn, shortcode, opted_out, state, region, country, timezones,"
        " geo_source) VALUES ($1, $2, false, $3::jsonb, 'NY', 'US', '{America/New_York}', 'zip')",
        [(m, CODE, state) for m in numbers])
    return numbers


async def create_ab(conn: asyncpg.Connection, *, auto: bool = True) -> int:
    test = ab_test.AbTest(TEXTS, test_percent=30, metric="clicks", wait=timedelta(hours=1),
                          auto=auto)
    return await service.create(
        conn, rules=RULES, now=NOW, program="rise", shortcode=CODE, where="", text=TEXTS[0],
        created_by="organizer@example.org", ab=test)


async def rows(conn: asyncpg.Connection, broadcast_id: int) -> dict[str, tuple[int, str]]:
    found = await conn.fetch("SELECT msisdn, variant, body FROM outbound WHERE broadcast_id = $1",
                             broadcast_id)
    by_number = {r["msisdn"]: (r["variant"], r["body"]) for r in found}
    assert len(by_number) == len(found), "a number got two texts"
    return by_number


@pytest.fixture
async def conn(pool: asyncpg.Pool) -> asyncpg.Connection:
    async with pool.acquire() as connection:
        await seed_many(connection)
        yield connection


async def test_variants_go_to_disjoint_random_shares_and_the_winner_only_to_the_rest(
    conn: asyncpg.Connection,
) -> None:
    broadcast_id = await create_ab(conn, auto=False)
    await conn.execute("UPDATE broadcasts SET status = 'running' WHERE id = $1", broadcast_id)
    await materialize(conn, broadcast_id, link_base=BASE)
    tested = await rows(conn, broadcast_id)
    assert 0.25 * PEOPLE < len(tested) < 0.35 * PEOPLE
    shares = Counter(variant for variant, _ in tested.values())
    assert set(shares) == {1, 2, 3}
    assert all(0.27 * len(tested) < n < 0.40 * len(tested) for n in shares.values()), shares
    links = await conn.fetch("SELECT msisdn, token, destination FROM short_links"
                             " WHERE broadcast_id = $1", broadcast_id)
    assert {r["msisdn"] for r in links} == set(tested)
    for link in links:
        variant, body = tested[link["msisdn"]]
        assert link["destination"] == DESTINATIONS[variant]
        assert body == TEXTS[variant - 1].replace(DESTINATIONS[variant], BASE + link["token"])
    broadcast = await store.get_broadcast(conn, broadcast_id)
    assert broadcast is not None and broadcast.ab_phase == "waiting"
    assert await materialize(conn, broadcast_id, link_base=BASE) is not None
    assert await rows(conn, broadcast_id) == tested  # waiting: nothing more is written

    # the draw is reproducible: written again from scratch, everyone gets the same variant
    await conn.execute("DELETE FROM short_links WHERE broadcast_id = $1", broadcast_id)
    await conn.execute("DELETE FROM outbound WHERE broadcast_id = $1", broadcast_id)
    await conn.execute("UPDATE broadcasts SET ab_phase = 'testing', ab_decide_at = NULL,"
                       " materialized_through = NULL, recipients = 0 WHERE id = $1", broadcast_id)
    await materialize(conn, broadcast_id, link_base=BASE)
    again = await rows(conn, broadcast_id)
    assert {m: v for m, (v, _) in again.items()} == {m: v for m, (v, _) in tested.items()}

    # the texts went out; a fifth of variant 2's recipients clicked, fewer of the others'
    await conn.execute("UPDATE outbound SET status = 'delivered', submitted_at = $2"
                       " WHERE broadcast_id = $1", broadcast_id, NOW)
    for variant, every in ((1, 20), (2, 5), (3, 10)):
        await conn.execute(
            "UPDATE short_links l SET clicks = 1, first_clicked_at = $3 FROM outbound o"
            " WHERE o.broadcast_id = $1 AND l.broadcast_id = $1 AND l.msisdn = o.msisdn"
            " AND o.variant = $2 AND right(o.msisdn, 4)::int % $4 = 0",
            broadcast_id, variant, NOW, every)
    assert await service.decide(conn, broadcast_id) == 2
    with pytest.raises(service.BroadcastError):
        await service.decide(conn, broadcast_id, winner=3)  # chosen once
    await materialize(conn, broadcast_id, link_base=BASE)
    everyone = await rows(conn, broadcast_id)
    assert len(everyone) == PEOPLE
    assert {m: everyone[m] for m in again} == again  # the tested kept their one text
    rest = {m: v for m, v in everyone.items() if m not in again}
    assert {variant for variant, _ in rest.values()} == {2}
    broadcast = await store.get_broadcast(conn, broadcast_id)
    assert broadcast is not None and broadcast.materialized_at is not None


async def test_the_gateway_chooses_and_sends_the_winner_when_the_wait_is_over(
    pool: asyncpg.Pool, conn: asyncpg.Connection,
) -> None:
    broadcast_id = await create_ab(conn)
    await conn.execute("UPDATE broadcasts SET status = 'running' WHERE id = $1", broadcast_id)
    now = [NOW]
    ticker = BroadcastTicker(pool, policy=QuietHoursPolicy(), clock=lambda: now[0],
                             link_base=BASE)
    await ticker.tick()
    tested = await rows(conn, broadcast_id)
    assert 0 < len(tested) < PEOPLE
    now[0] = NOW + timedelta(minutes=59)
    await ticker.tick()
    assert await rows(conn, broadcast_id) == tested
    now[0] = NOW + timedelta(minutes=61)
    await ticker.tick()
    broadcast = await store.get_broadcast(conn, broadcast_id)
    assert broadcast is not None and broadcast.ab_phase == "decided"
    assert broadcast.ab_winner == 1  # nothing sent or clicked yet: a tie goes to the first
    everyone = await rows(conn, broadcast_id)
    assert len(everyone) == PEOPLE
    assert {v for m, (v, _) in everyone.items() if m not in tested} == {1}


async def test_an_organizer_can_pick_the_winner_and_bad_tests_are_refused(
    conn: asyncpg.Connection,
) -> None:
    broadcast_id = await create_ab(conn, auto=False)
    await conn.execute("UPDATE broadcasts SET status = 'running' WHERE id = $1", broadcast_id)
    await materialize(conn, broadcast_id)
    with pytest.raises(ComposeError):
        await service.decide(conn, broadcast_id, winner=4)
    assert await service.decide(conn, broadcast_id, winner=3) == 3
    for bad, field in [
        (ab_test.AbTest(TEXTS[:1], 30, "clicks", timedelta(hours=1)), "variants"),
        (ab_test.AbTest((*TEXTS, "d", "e"), 30, "clicks", timedelta(hours=1)), "variants"),
        (ab_test.AbTest((TEXTS[0], TEXTS[0]), 30, "clicks", timedelta(hours=1)), "variants"),
        (ab_test.AbTest(TEXTS, 95, "clicks", timedelta(hours=1)), "test_percent"),
        (ab_test.AbTest(TEXTS, 30, "likes", timedelta(hours=1)), "metric"),
        (ab_test.AbTest(TEXTS, 30, "clicks", timedelta(0)), "wait"),
    ]:
        with pytest.raises(ComposeError) as refused:
            ab_test.checked(bad)
        assert refused.value.field == field


def test_the_winner_is_the_best_rate_and_fewest_opt_outs_win() -> None:
    stats = [ab_test.VariantStats(1, 100, 10, 5, 1, 4), ab_test.VariantStats(2, 50, 6, 2, 1, 1),
             ab_test.VariantStats(3, 100, 13, 5, 0, 3)]
    assert ab_test.winner("clicks", stats, 3) == 3  # 13 % beats 12 % (6 of 50)
    assert ab_test.winner("replies", stats, 3) == 1  # 5 % ties 5 %: the lower number
    assert ab_test.winner("gifts", stats, 3) == 2  # 2 % of 50
    assert ab_test.winner("opt_outs", stats, 3) == 2  # 2 % is the fewest
    assert ab_test.winner("clicks", [], 3) == 1
    assert ab_test.winner("clicks", [*stats[:2], ab_test.VariantStats(3, 100, 12, 0, 0, 0)],
                          3) == 2  # 12 % each: the lower number


async def test_the_api_creates_an_ab_test_and_picks_its_winner(
    web: WebApi, conn: asyncpg.Connection,
) -> None:
    organizer = await web.staff("organizer")
    made = await web.client.post("/api/v1/broadcasts", headers=organizer.bearer, json={
        "program": "rise", "text": TEXTS[0], "ab_test": {
            "variants": list(TEXTS[1:]), "test_percent": 25, "metric": "replies",
            "wait_hours": 2, "auto": False}})
    assert made.status == 201, await made.text()
    broadcast = (await made.json())["broadcast"]
    assert (broadcast["ab_phase"], broadcast["ab_test_percent"], broadcast["ab_metric"],
            broadcast["ab_wait_hours"], broadcast["ab_auto"]) == ("testing", 25, "replies",
                                                                   2.0, False)
    bad = await web.client.post("/api/v1/broadcasts", headers=organizer.bearer, json={
        "program": "rise", "text": TEXTS[0], "ab_test": {
            "variants": [TEXTS[0]], "test_percent": 25, "metric": "replies", "wait_hours": 2}})
    assert bad.status == 400 and (await bad.json())["error"]["field"] == "variants"
    early = await web.client.post(f"/api/v1/broadcasts/{broadcast['id']}/winner",
                                  headers=organizer.bearer, json={"winner": 2})
    assert early.status == 400  # still testing: nothing to choose yet
    await conn.execute("UPDATE broadcasts SET status = 'running' WHERE id = $1",
                       broadcast["id"])
    await materialize(conn, broadcast["id"])
    chosen = await web.client.post(f"/api/v1/broadcasts/{broadcast['id']}/winner",
                                   headers=organizer.bearer, json={"winner": 2})
    assert chosen.status == 200, await chosen.text()
    assert (await chosen.json())["winner"] == 2
    assert await conn.fetchval("SELECT count(*) FROM audit_log WHERE action ="
                               " 'broadcast.winner_chosen'") == 1
