"""Materializing a broadcast into the outbox: once per number, never to the opted out, and
at a decent local hour for each recipient (hand-checked times below)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg
import pytest

from gateway.audience import parse_audience
from gateway.broadcast import service
from gateway.broadcast.schedule import Scheduler
from gateway.engine.templates import parse_template
from gateway.store import broadcasts as broadcast_store
from gateway.store import outbound as outbound_store
from gateway.store.outbound import NewOutbound
from tests.support.broadcasts import (
    CODE,
    NOW,
    OPTED_OUT,
    PENDING,
    PEOPLE,
    POLICY,
    VARIABLES,
    create,
    materialize,
    seed,
    utc,
)

# Hand-checked (not_before, not_after) at NOW, in UTC.
EXPECTED_TIMES = {
    # 20:30 EDT, allowed until 21:00 EDT
    "new_york": (NOW, utc(2024, 7, 1, 1, 0)),
    # Florida ends at 20:00: 08:00 EDT the next morning, until 20:00 EDT
    "miami": (utc(2024, 7, 1, 12, 0), utc(2024, 7, 2, 0, 0)),
    # a New York zip, but a Miami area code: Florida's hours still apply
    "moved_from_miami": (utc(2024, 7, 1, 12, 0), utc(2024, 7, 2, 0, 0)),
    # Oklahoma (area code): 19:30 CDT is allowed, until 20:00 CDT
    "tulsa_area_code": (NOW, utc(2024, 7, 1, 1, 0)),
    # 19:30 CDT, until 21:00 CDT
    "chicago": (NOW, utc(2024, 7, 1, 2, 0)),
    # 17:30 PDT, until 21:00 PDT
    "los_angeles": (NOW, utc(2024, 7, 1, 4, 0)),
    # Boise or Los Angeles: until 21:00 in Boise (MDT), the earlier of the two ends
    "idaho_area_code": (NOW, utc(2024, 7, 1, 3, 0)),
    # 02:30 Paris on a Monday: 08:00 Paris, until 20:00 Paris
    "paris": (utc(2024, 7, 1, 6, 0), utc(2024, 7, 1, 18, 0)),
    # no location at all: every US zone, restricted hours (08:00 HST to 20:00 EDT)
    "nowhere": (utc(2024, 7, 1, 18, 0), utc(2024, 7, 2, 0, 0)),
    # no derived columns yet: the area code (305, Florida) decides
    "underived_miami": (utc(2024, 7, 1, 12, 0), utc(2024, 7, 2, 0, 0)),
}


@pytest.fixture
async def conn(pool: asyncpg.Pool) -> Any:
    async with pool.acquire() as connection:
        await seed(connection)
        yield connection


async def open_windows(conn: asyncpg.Connection, broadcast_id: int) -> None:
    """Rows timed at NOW (2024) have long-closed windows, which the claim refuses to send
    late; these tests are about who is claimed, so reopen their windows at the real now."""
    await conn.execute(
        "UPDATE outbound SET not_after = now() + interval '1 hour' WHERE broadcast_id = $1",
        broadcast_id,
    )


async def outbox(conn: asyncpg.Connection) -> dict[str, asyncpg.Record]:
    rows = await conn.fetch(
        "SELECT msisdn, shortcode, body, priority, broadcast_id, status, not_before, not_after"
        " FROM outbound ORDER BY id"
    )
    by_number = {r["msisdn"]: r for r in rows}
    assert len(by_number) == len(rows), "a number got two rows"
    return by_number


async def test_one_row_per_eligible_subscriber_none_for_the_opted_out(
    conn: asyncpg.Connection,
) -> None:
    broadcast_id = await create(conn)
    result = await materialize(conn, broadcast_id, batch_size=3)
    rows = await outbox(conn)
    assert set(rows) == {p[0] for p in PEOPLE.values()}
    assert OPTED_OUT not in rows and PENDING not in rows
    assert (result.inserted, result.recipients, result.batches) == (len(PEOPLE), len(PEOPLE), 4)
    for row in rows.values():
        assert (row["shortcode"], row["priority"], row["broadcast_id"], row["status"]) == (
            CODE, outbound_store.PRIORITY_BROADCAST, broadcast_id, "queued"
        )
    broadcast = await broadcast_store.get_broadcast(conn, broadcast_id)
    assert broadcast is not None and broadcast.materialized_at is not None
    assert broadcast.recipients == len(PEOPLE)


async def test_materializing_again_adds_nothing(conn: asyncpg.Connection) -> None:
    broadcast_id = await create(conn)
    await materialize(conn, broadcast_id, batch_size=4)
    again = await materialize(conn, broadcast_id, batch_size=4)
    assert again.inserted == 0
    # Even with its progress lost (the cursor reset), the unique constraint holds.
    await conn.execute(
        "UPDATE broadcasts SET materialized_through = NULL, materialized_at = NULL"
        " WHERE id = $1", broadcast_id,
    )
    rerun = await materialize(conn, broadcast_id, batch_size=4)
    assert rerun.inserted == 0 and rerun.recipients == len(PEOPLE)
    assert len(await outbox(conn)) == len(PEOPLE)


async def test_an_interrupted_materialization_resumes_at_its_cursor(
    conn: asyncpg.Connection,
) -> None:
    """The first batch committed, then the process died: the rerun does only the rest."""
    broadcast_id = await create(conn)
    broadcast = await broadcast_store.get_broadcast(conn, broadcast_id)
    assert broadcast is not None
    scheduler = Scheduler(POLICY, program_country="US", start=NOW)
    scheduler.add(await broadcast_store.list_zone_keys(conn, broadcast, None, now=NOW), NOW)
    first = await broadcast_store.materialize_batch(
        conn, broadcast, None, body=["hello"], timing=scheduler.timing(NOW), after="",
        batch_size=4, now=NOW,
    )
    assert (first.scanned, first.inserted) == (4, 4)
    stored = await broadcast_store.get_broadcast(conn, broadcast_id)
    assert stored is not None and stored.materialized_through == first.through
    result = await materialize(conn, broadcast_id, batch_size=4)
    assert result.inserted == len(PEOPLE) - 4
    assert result.recipients == len(PEOPLE)
    assert len(await outbox(conn)) == len(PEOPLE)


async def test_a_contact_that_moved_mid_run_is_timed_before_its_row_is_written(
    conn: asyncpg.Connection,
) -> None:
    broadcast_id = await create(conn)
    broadcast = await broadcast_store.get_broadcast(conn, broadcast_id)
    assert broadcast is not None
    scheduler = Scheduler(POLICY, program_country="US", start=NOW)
    scheduler.add(await broadcast_store.list_zone_keys(conn, broadcast, None, now=NOW), NOW)
    await conn.execute(
        "UPDATE contacts SET zip = '96813', region = 'HI', timezones = '{Pacific/Honolulu}'"
        " WHERE msisdn = $1", PEOPLE["new_york"][0],
    )
    blocked = await broadcast_store.materialize_batch(
        conn, broadcast, None, body=["hello"], timing=scheduler.timing(NOW), after="",
        batch_size=100, now=NOW,
    )
    assert blocked.inserted == 0 and blocked.through is None
    assert [k.timezones for k in blocked.untimed] == [("Pacific/Honolulu",)]
    assert await conn.fetchval("SELECT count(*) FROM outbound") == 0
    scheduler.add(blocked.untimed, NOW)
    done = await broadcast_store.materialize_batch(
        conn, broadcast, None, body=["hello"], timing=scheduler.timing(NOW), after="",
        batch_size=100, now=NOW,
    )
    assert done.inserted == len(PEOPLE) and done.untimed == ()


async def test_quiet_hours_per_recipient(conn: asyncpg.Connection) -> None:
    broadcast_id = await create(conn)
    await materialize(conn, broadcast_id, batch_size=100)
    rows = await outbox(conn)
    got = {
        name: (rows[p[0]]["not_before"], rows[p[0]]["not_after"]) for name, p in PEOPLE.items()
    }
    assert got == EXPECTED_TIMES


async def test_a_scheduled_broadcast_waits_for_its_time_and_then_for_quiet_hours(
    conn: asyncpg.Connection,
) -> None:
    at = utc(2024, 7, 1, 16, 0)  # noon in New York, 09:00 in Los Angeles, 18:00 in Paris
    broadcast_id = await create(conn, where="state in (NY, CA, 75)", at=at)
    await materialize(conn, broadcast_id)
    rows = await outbox(conn)
    assert rows[PEOPLE["new_york"][0]]["not_before"] == at
    assert rows[PEOPLE["los_angeles"][0]]["not_before"] == at
    assert rows[PEOPLE["paris"][0]]["not_before"] == at
    assert rows[PEOPLE["paris"][0]]["not_after"] == utc(2024, 7, 1, 18, 0)


async def test_the_text_is_rendered_in_sql_exactly_as_the_engine_renders_it(
    conn: asyncpg.Connection,
) -> None:
    text = 'Hi {first_name|friend}! {program} at {shortcode} {{braces}} "quoted" {volunteer_role|}.'
    broadcast_id = await create(conn, text=text)
    await materialize(conn, broadcast_id)
    rows = await outbox(conn)
    template = parse_template(text)
    for msisdn, profile, *_ in PEOPLE.values():
        assert rows[msisdn]["body"] == template.render({**profile, **VARIABLES})
    assert rows[PEOPLE["miami"][0]]["body"].startswith("Hi friend! Rise Up at 12345 {braces}")
    assert rows[PEOPLE["chicago"][0]]["body"].startswith("Hi 42!")


async def test_the_filter_narrows_the_recipients(conn: asyncpg.Connection) -> None:
    broadcast_id = await create(conn, where="state = FL or zip starts with 900")
    result = await materialize(conn, broadcast_id)
    assert set(await outbox(conn)) == {PEOPLE["miami"][0], PEOPLE["los_angeles"][0]}
    assert result.recipients == 2


async def test_stop_after_materialization_is_suppressed_at_send_time_and_replies_go_first(
    conn: asyncpg.Connection,
) -> None:
    broadcast_id = await create(conn, where="state in (NY, IL, CA)")
    await materialize(conn, broadcast_id)
    await open_windows(conn, broadcast_id)
    await conn.execute("UPDATE contacts SET opted_out = true WHERE msisdn = $1",
                       PEOPLE["chicago"][0])
    reply = NewOutbound(PEOPLE["chicago"][0], CODE, "You're opted out.", 0, True, None, NOW)
    await outbound_store.insert_batch(conn, [reply])
    await conn.execute("UPDATE broadcasts SET status = 'running' WHERE id = $1", broadcast_id)
    claimed, suppressed = await outbound_store.claim(conn, limit=100, owner="t", lease_seconds=60)
    assert claimed[0].body == "You're opted out." and claimed[0].priority == 0
    assert suppressed == 1
    assert PEOPLE["chicago"][0] not in {m.msisdn for m in claimed[1:]}
    progress = await broadcast_store.get_progress(conn, broadcast_id)
    assert progress is not None
    assert (progress["suppressed"], progress["sending"], progress["recipients"]) == (1, 3, 4)


async def test_only_a_running_broadcast_is_sent(conn: asyncpg.Connection) -> None:
    broadcast_id = await create(conn, where="state in (NY, IL, CA)")
    await materialize(conn, broadcast_id)
    await open_windows(conn, broadcast_id)
    for status in ("draft", "paused"):
        await conn.execute("UPDATE broadcasts SET status = $2 WHERE id = $1", broadcast_id, status)
        assert await outbound_store.claim(conn, limit=100, owner="t", lease_seconds=60) == ([], 0)
    await conn.execute("UPDATE broadcasts SET status = 'running' WHERE id = $1", broadcast_id)
    claimed, _ = await outbound_store.claim(conn, limit=100, owner="t", lease_seconds=60)
    assert {m.priority for m in claimed} == {outbound_store.PRIORITY_BROADCAST}


async def test_a_cancelled_broadcast_is_not_materialized_and_its_rows_count_as_cancelled(
    conn: asyncpg.Connection,
) -> None:
    broadcast_id = await create(conn, where="state = NY")
    await materialize(conn, broadcast_id)
    await conn.execute("UPDATE broadcasts SET status = 'cancelled' WHERE id = $1", broadcast_id)
    await conn.execute(
        "UPDATE outbound SET status = 'cancelled' WHERE broadcast_id = $1", broadcast_id
    )
    progress = await broadcast_store.get_progress(conn, broadcast_id)
    assert progress is not None and (progress["cancelled"], progress["queued"]) == (2, 0)
    other = await create(conn)
    await conn.execute("UPDATE broadcasts SET status = 'cancelled' WHERE id = $1", other)
    with pytest.raises(service.BroadcastError, match="cancelled"):
        await materialize(conn, other)


async def test_bad_filters_and_texts_are_refused_before_anything_is_stored(
    conn: asyncpg.Connection,
) -> None:
    from gateway.audience import AudienceError
    from gateway.broadcast.messages import BroadcastTextError

    with pytest.raises(AudienceError, match="column 7"):
        await create(conn, where="state FL")
    with pytest.raises(BroadcastTextError, match="unpaired"):
        await create(conn, text="Hi {first_name")
    with pytest.raises(service.BroadcastError, match="time zone"):
        await create(conn, at=datetime(2024, 7, 1, 12))
    assert await conn.fetchval("SELECT count(*) FROM broadcasts") == 0
    assert parse_audience("") is None
