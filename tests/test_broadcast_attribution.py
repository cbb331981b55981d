"""The attribution rule (migration 340 `broadcast_attributed`) against its statement, in SQL.

The rule: an act of a contact at time t is credited to the broadcast whose text
was sent to that contact (number and short code) most recently at or before t
and less than 24 hours before t; a tie on the send time goes to the later
outbox row; a text never sent, or sent to another number, credits nothing.
Hypothesis draws send times around the edges (the same second, 24 h exactly,
one second either side) and the function must agree with that statement.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.store.dashboard_stats import attributed_broadcast

GIVER, OTHER, CODE = "+12125550101", "+12125550199", "12345"
GIFT_AT = datetime(2024, 7, 10, 12, 0, tzinfo=UTC)
DAY = 86_400

# seconds before the gift a text went out (negative: after it); None: never sent
before = st.one_of(st.sampled_from([0, 1, DAY - 1, DAY, DAY + 1, -1]),
                   st.integers(min_value=-3_600, max_value=3 * DAY))
send = st.tuples(before | st.none(), st.sampled_from([GIVER, GIVER, OTHER]), st.booleans())


def expected(sends: list[tuple[int | None, str, bool]]) -> int | None:
    """The index of the credited send, by the rule as written above."""
    best: tuple[int, int] | None = None  # (sent at, index): later wins, then later row
    for index, (ago, to, same_code) in enumerate(sends):
        if ago is None or to != GIVER or not same_code or not 0 <= ago < DAY:
            continue
        if best is None or (-ago, index) > (-best[0], best[1]):
            best = (ago, index)
    return None if best is None else best[1]


async def credited(url: str, sends: list[tuple[int | None, str, bool]]) -> int | None:
    conn = await asyncpg.connect(url)
    try:
        tx = conn.transaction()
        await tx.start()
        ids = []
        for ago, to, same_code in sends:
            bid = await conn.fetchval(
                "INSERT INTO broadcasts (program, shortcode, template, created_by)"
                " VALUES ('rise', $1, 'news', 'organizer@example.org') RETURNING id", CODE)
            sent = None if ago is None else GIFT_AT - timedelta(seconds=ago)
            await conn.execute(
                "INSERT INTO outbound (msisdn, shortcode, body, broadcast_id, status,"
                " submitted_at) VALUES ($1, $2, 'news', $3, $4, $5)",
                to, CODE if same_code else "38200", bid,
                "queued" if sent is None else "submitted", sent)
            ids.append(bid)
        found = await attributed_broadcast(conn, GIVER, CODE, GIFT_AT)
        await tx.rollback()
        return None if found is None else ids.index(found)
    finally:
        await conn.close()


@given(st.lists(send, min_size=0, max_size=4))
@settings(deadline=None, max_examples=80,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_the_latest_text_sent_within_24_hours_gets_the_gift(
    db_url: str, sends: list[tuple[int | None, str, bool]],
) -> None:
    assert asyncio.run(credited(db_url, sends)) == expected(sends)


def test_the_edges_as_examples(db_url: str) -> None:
    def run(sends: list[tuple[int | None, str, bool]]) -> int | None:
        return asyncio.run(credited(db_url, sends))

    assert run([(0, GIVER, True)]) == 0  # sent the same second: inside
    assert run([(DAY - 1, GIVER, True)]) == 0  # just inside
    assert run([(DAY, GIVER, True)]) is None  # exactly 24 h: outside
    assert run([(-1, GIVER, True)]) is None  # sent after the gift
    assert run([(60, OTHER, True)]) is None  # a non-recipient
    assert run([(60, GIVER, False)]) is None  # the text went out on another short code
    assert run([(None, GIVER, True)]) is None  # never sent
    assert run([(3_600, GIVER, True), (60, GIVER, True), (7_200, GIVER, True)]) == 1
    assert run([(60, GIVER, True), (60, GIVER, True)]) == 1  # a tie: the later row
