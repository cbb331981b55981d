"""The FL/OK/MD frequency cap (at most 3 messages per 24 h on one subject), enforced when sending.

Counted from what the claim actually hands to the sender, on real PostgreSQL:
materialization marks the capped recipients' rows (from the quiet-hours
policy), and the claim holds back a fourth message on the same subject until
the oldest of the three leaves the 24 hours.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.broadcast import service
from gateway.broadcast.policy import QuietHoursPolicy
from gateway.broadcast.quiet_hours import next_allowed_by_frequency
from gateway.engine import parse_rules
from gateway.store import outbound as outbound_store

CODE = "12345"
# keywords.yaml, plus a second program on the same short code (a second subject)
_KEYWORDS = (Path(__file__).resolve().parents[1] / "keywords.yaml").read_text(encoding="utf-8")
RULES = parse_rules(_KEYWORDS.replace("\n  ensemble:\n", """
  other:
    name: Other Alerts
    shortcodes: ["12345"]
    support: help@other.example.org
    frequency: Up to 2 msgs/mo
    privacy: {url: "https://other.example.org/privacy", version: "1"}
    disclosure_version: us-optin-v3
    texts:
      confirmation: >-
        {program}: you're in! {frequency}. Msg&data rates may apply.
        Reply HELP for help, STOP to cancel.
      help: >-
        {program}: {support}. {frequency}. Msg&data rates may apply. Reply STOP to cancel.
      opted_out: "{program}: you are unsubscribed."

  ensemble:
""", 1))
NOW = datetime(2024, 7, 1, 16, 0, tzinfo=UTC)  # noon in Miami and New York
MIAMI = "+13055550002"  # zip state FL: capped
NEW_YORK = "+12125550001"  # not capped
TULSA = "+19185550004"  # no zip; area code 918 is Oklahoma: capped


async def seed(conn: asyncpg.Connection) -> None:
    state = json.dumps({"v": 1, "subs": {"rise": {"status": "subscribed"},
                                         "other": {"status": "subscribed"}}, "profile": {}})
    await conn.executemany(
        """INSERT INTO contacts (msisdn, shortcode, opted_out, state, zip, region, country,
                                 timezones, geo_source)
           VALUES ($1, $2, false, $3::jsonb, $4, $5, 'US', $6, $7)""",
        [(MIAMI, CODE, state, "33101", "FL", ["America/New_York"], "zip"),
         (NEW_YORK, CODE, state, "10001", "NY", ["America/New_York"], "zip"),
         (TULSA, CODE, state, None, None, None, None)],
    )


@pytest.fixture
async def conn(pool: asyncpg.Pool) -> Any:
    async with pool.acquire() as connection:
        await seed(connection)
        yield connection


async def running_broadcast(conn: asyncpg.Connection, program: str = "rise") -> int:
    broadcast_id = await service.create(
        conn, rules=RULES, program=program, shortcode=CODE, where="", text=f"{program} news",
        created_by="organizer@example.org", now=NOW,
    )
    await service.materialize(conn, broadcast_id, policy=QuietHoursPolicy(),
                              variables={"program": program}, clock=lambda: NOW)
    # timed in 2024: reopen the window at the real now, keep the claim honest otherwise
    await conn.execute(
        "UPDATE outbound SET not_before = now() - interval '1 minute',"
        " not_after = now() + interval '1 hour' WHERE broadcast_id = $1", broadcast_id)
    await conn.execute("UPDATE broadcasts SET status = 'running' WHERE id = $1", broadcast_id)
    return broadcast_id


async def send_everything_claimable(conn: asyncpg.Connection) -> Counter[str]:
    """Claim and 'submit' until two claims in a row return nothing; count sends per number.

    Twice: a claim that holds one capped row leaves that number's next row for
    the following claim (which then holds it too).
    """
    sent: Counter[str] = Counter()
    empty = 0
    for _ in range(50):
        claimed, _ = await outbound_store.claim(conn, limit=100, owner="t", lease_seconds=60)
        empty = 0 if claimed else empty + 1
        if empty == 2:
            return sent
        await outbound_store.mark_submitted(conn, [(m.id, [f"smsc-{m.id}"]) for m in claimed])
        sent.update(m.msisdn for m in claimed)
    raise AssertionError("the claim never ran dry")


async def test_materialization_marks_only_the_capped_recipients(conn: asyncpg.Connection) -> None:
    await running_broadcast(conn)
    rows = {r["msisdn"]: r for r in await conn.fetch(
        "SELECT msisdn, subject, subject_cap, subject_period_s FROM outbound")}
    assert (rows[MIAMI]["subject_cap"], rows[MIAMI]["subject_period_s"]) == (3, 86_400)
    assert (rows[TULSA]["subject_cap"], rows[TULSA]["subject_period_s"]) == (3, 86_400)
    assert rows[NEW_YORK]["subject_cap"] is None
    assert {r["subject"] for r in rows.values()} == {"rise"}


async def test_a_fourth_message_on_one_subject_waits_24_hours_after_the_first(
    conn: asyncpg.Connection,
) -> None:
    for _ in range(5):
        await running_broadcast(conn)
    sent = await send_everything_claimable(conn)
    assert sent == Counter({NEW_YORK: 5, MIAMI: 3, TULSA: 3})

    held = await conn.fetch(
        "SELECT msisdn, status, not_before, last_error FROM outbound"
        " WHERE status = 'queued' ORDER BY msisdn")
    assert [r["msisdn"] for r in held] == [MIAMI, MIAMI, TULSA, TULSA]
    first_sent = await conn.fetchval(
        "SELECT min(submitted_at) FROM outbound WHERE msisdn = $1", MIAMI)
    for row in held:
        assert row["not_before"] >= first_sent + timedelta(hours=24) - timedelta(seconds=1)
        assert "frequency cap" in row["last_error"]


async def test_the_cap_counts_per_subject(conn: asyncpg.Connection) -> None:
    for _ in range(3):
        await running_broadcast(conn, "rise")
    await running_broadcast(conn, "other")
    sent = await send_everything_claimable(conn)
    assert sent[MIAMI] == 4  # three on "rise", one on "other"


async def test_sends_older_than_the_period_no_longer_count(conn: asyncpg.Connection) -> None:
    for _ in range(4):
        await running_broadcast(conn)
    first = await send_everything_claimable(conn)
    assert first[MIAMI] == 3
    # the three sends happened a day ago: the held fourth may go now
    await conn.execute(
        "UPDATE outbound SET submitted_at = now() - interval '25 hours' WHERE status = 'submitted'")
    await conn.execute(
        "UPDATE outbound SET not_before = now() WHERE status = 'queued'")
    again = await send_everything_claimable(conn)
    assert again == Counter({MIAMI: 1, TULSA: 1})


async def test_two_capped_rows_for_one_number_in_one_claim_never_both_pass(
    conn: asyncpg.Connection,
) -> None:
    """Two already sent, two waiting: one claim must not count the same two sends for both."""
    for _ in range(4):
        await running_broadcast(conn)
    await conn.execute(
        "UPDATE outbound SET not_before = now() + interval '1 hour'"
        " WHERE msisdn <> $1 OR id NOT IN (SELECT id FROM outbound WHERE msisdn = $1"
        "                                   ORDER BY id LIMIT 2)", MIAMI)
    assert (await send_everything_claimable(conn))[MIAMI] == 2
    await conn.execute("UPDATE outbound SET not_before = now() WHERE status = 'queued'")
    claimed, _ = await outbound_store.claim(conn, limit=100, owner="t", lease_seconds=60)
    assert Counter(m.msisdn for m in claimed)[MIAMI] == 1


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(history=st.lists(
    st.tuples(st.integers(min_value=0, max_value=60).filter(lambda h: h != 48),
              st.sampled_from(["rise", "other"])),
    max_size=7))
async def test_the_claim_agrees_with_the_property_tested_pure_rule(
    conn: asyncpg.Connection, history: list[tuple[int, str]],
) -> None:
    """Earlier sends (half hours ago, subject); the claim sends or holds as
    `next_allowed_by_frequency` says (the exact 24 h boundary is left out: the
    claim's clock runs a few milliseconds after the one used here)."""
    broadcast_id = await conn.fetchval("SELECT max(id) FROM broadcasts")
    if broadcast_id is None:  # the first example makes one running broadcast for all
        broadcast_id = await running_broadcast(conn)
    await conn.execute("DELETE FROM outbound")
    now: datetime = await conn.fetchval("SELECT now()")
    sends = [(now - timedelta(minutes=30 * half_hours), subject)
             for half_hours, subject in history]
    await conn.executemany(
        "INSERT INTO outbound (msisdn, shortcode, body, status, submitted_at, subject)"
        " VALUES ($1, $2, 'earlier', 'submitted', $3, $4)",
        [(MIAMI, CODE, at, subject) for at, subject in sends])
    await conn.execute(
        "INSERT INTO outbound (msisdn, shortcode, body, priority, broadcast_id, not_before,"
        " subject, subject_cap, subject_period_s)"
        " VALUES ($1, $2, 'next', 1, $3, now() - interval '1 minute', 'rise', 3, 86400)",
        MIAMI, CODE, broadcast_id)

    claimed, _ = await outbound_store.claim(conn, limit=10, owner="t", lease_seconds=60)

    expected = next_allowed_by_frequency(now, sends, "rise", QuietHoursPolicy().restricted)
    if expected == now:
        assert [m.body for m in claimed] == ["next"]
    else:
        assert claimed == []
        held = await conn.fetchval("SELECT not_before FROM outbound WHERE body = 'next'")
        assert held == expected


async def test_a_claim_racing_another_instance_never_sends_a_fourth(
    conn: asyncpg.Connection, pool: asyncpg.Pool,
) -> None:
    """Two sent to Miami, two waiting; another instance is mid-claim on the third.

    Its claim has not committed, so this claim's snapshot cannot see it: were
    it to count on its own, it would find two sends and send the fourth. It
    must leave the number alone while the other claim holds it, and count the
    other's send once it has committed.
    """
    for _ in range(4):
        await running_broadcast(conn)
    await conn.execute(
        "UPDATE outbound SET not_before = now() + interval '1 hour'"
        " WHERE msisdn <> $1 OR id NOT IN (SELECT id FROM outbound WHERE msisdn = $1"
        "                                   ORDER BY id LIMIT 2)", MIAMI)
    assert (await send_everything_claimable(conn))[MIAMI] == 2
    await conn.execute("UPDATE outbound SET not_before = now() WHERE status = 'queued'")
    third, fourth = [r["id"] for r in await conn.fetch(
        "SELECT id FROM outbound WHERE msisdn = $1 AND status = 'queued' ORDER BY id", MIAMI)]

    async with pool.acquire() as other:  # the other instance, between its lock and its commit
        await other.execute("SELECT pg_advisory_lock($1, hashtext($2))",
                            outbound_store.CAPPED_LOCK_SPACE, MIAMI)
        claim_in_flight = other.transaction()
        await claim_in_flight.start()
        await other.execute("SELECT id FROM outbound WHERE id = $1 FOR UPDATE", third)
        await other.execute(
            "UPDATE outbound SET status = 'sending', lease_owner = 'other',"
            " lease_until = now() + interval '1 minute' WHERE id = $1", third)
        claimed, _ = await outbound_store.claim(conn, limit=100, owner="t", lease_seconds=60)
        assert MIAMI not in {m.msisdn for m in claimed}  # left for the next claim
        assert NEW_YORK in {m.msisdn for m in claimed}  # everyone else goes on
        await claim_in_flight.commit()
        await other.execute("SELECT pg_advisory_unlock($1, hashtext($2))",
                            outbound_store.CAPPED_LOCK_SPACE, MIAMI)

    claimed, _ = await outbound_store.claim(conn, limit=100, owner="t", lease_seconds=60)
    assert MIAMI not in {m.msisdn for m in claimed}  # three counted now: held
    held = await conn.fetchrow("SELECT status, last_error FROM outbound WHERE id = $1", fourth)
    assert held["status"] == "queued" and "frequency cap" in held["last_error"]


async def test_inside_a_transaction_the_claims_locks_last_until_it_commits(
    conn: asyncpg.Connection, pool: asyncpg.Pool,
) -> None:
    await running_broadcast(conn)
    async with pool.acquire() as other:
        async with conn.transaction():
            claimed, _ = await outbound_store.claim(conn, limit=10, owner="t", lease_seconds=60)
            assert MIAMI in {m.msisdn for m in claimed}
            assert not await other.fetchval(  # another instance cannot take Miami yet
                "SELECT pg_try_advisory_lock($1, hashtext($2))",
                outbound_store.CAPPED_LOCK_SPACE, MIAMI)
        assert await other.fetchval(
            "SELECT pg_try_advisory_lock($1, hashtext($2))",
            outbound_store.CAPPED_LOCK_SPACE, MIAMI)
        await other.execute("SELECT pg_advisory_unlock_all()")
