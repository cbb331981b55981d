"""A lane batch in few round trips keeps every guarantee (pipeline/ingest.py, decide.py).

The batch's writes are one statement (store/one_statement.py) and its reads
one more (store/lane_reads.py). These tests drive real batches through an
`Ingest` on a real database: a STOP among other texts of the same and other
numbers keeps each number's order and is never overwritten; a batch whose
one statement fails half-way leaves nothing and its other MOs commit when
retried one by one; a batch costs the same statements whatever its size.
The write's plan is pinned under a generic plan (what the plan cache holds
after five executions); the read's, a function with its plan pinned, in
tests/test_plans_outlive_growth.py.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from gateway.config import Settings
from gateway.engine import load_rules
from gateway.engine.holder import RulesHolder
from gateway.metrics import Metrics
from gateway.pipeline.ingest import Ingest
from gateway.smpp.constants import CommandStatus
from gateway.smpp.link import DeliverAnswer
from gateway.smpp.pdu import make_deliver_sm
from gateway.store import consent, contacts, inbound, one_statement, outbound, timeline
from gateway.store.db import create_pool
from tests.support.e2e import SHORTCODE
from tests.support.poison import poison_ledger_for

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Lane:
    """A pool whose connections log every statement they send."""

    pool: asyncpg.Pool
    statements: list[str] = field(default_factory=list)

    def ingest(self, settings: Settings) -> Ingest:
        """An Ingest whose one lane waits long enough to take every text below in one batch."""
        one = settings.model_copy(update={"ingest_lanes": 1, "ingest_linger_ms": 100.0})
        return Ingest(self.pool, one, RulesHolder(load_rules(settings.keywords)), Metrics())


async def deliver_together(ingest: Ingest, texts: list[tuple[str, str]]) -> list[int]:
    """Hand every (number, text) to the lanes at once, in this order; their statuses."""
    async def one(number: str, body: str) -> int:
        pdu = make_deliver_sm(number[1:], SHORTCODE, body.encode(), source_addr_ton=1,
                              source_addr_npi=1)
        answer = await ingest.handle_mo(pdu)
        return answer.status if isinstance(answer, DeliverAnswer) else answer
    return list(await asyncio.gather(*(one(n, t) for n, t in texts)))


@pytest.fixture
async def lane(db_url: str) -> AsyncIterator[Lane]:
    statements: list[str] = []

    async def init(conn: asyncpg.Connection) -> None:
        conn.add_query_logger(lambda q: statements.append(q.query))

    pool = await create_pool(db_url, min_size=1, max_size=4, init=init)
    try:
        yield Lane(pool, statements)
    finally:
        await pool.close()


A, B, C, D = "+15555550101", "+15555550102", "+15555550103", "+15555550104"


async def test_a_stop_among_other_texts_of_one_batch_keeps_order_and_is_never_overwritten(
    lane: Lane, settings: Settings
) -> None:
    ingest = lane.ingest(settings)
    ingest.start()
    texts = [(A, "JOIN"), (B, "JOIN"), (A, "Y"), (C, "STOP"), (A, "STOP"), (B, "STOP"),
             (D, "JOIN"), (A, "hello"), (A, "HELP")]
    try:
        statuses = await deliver_together(ingest, texts)
    finally:
        await ingest.close()
    assert statuses == [CommandStatus.ESME_ROK] * len(texts)
    assert ingest.lanes[0].batches == 1  # one batch, so one transaction, decided them all
    async with lane.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(DISTINCT xmin::text) FROM inbound") == 1
        mos = await conn.fetch("SELECT id, msisdn, body FROM inbound ORDER BY id")
        opted_out = dict(await conn.fetch("SELECT msisdn, opted_out FROM contacts"))
        ledger = await conn.fetch(
            "SELECT c.msisdn, c.kind, c.inbound_id, c.disclosure_text, o.in_reply_to, o.body"
            " FROM consent_events c LEFT JOIN outbound o ON o.id = c.outbound_id ORDER BY c.id")
        replies = await conn.fetch("SELECT msisdn, in_reply_to FROM outbound ORDER BY id")
        events = await conn.fetch("SELECT msisdn, inbound_id FROM contact_events ORDER BY id")
    # arrival order per number, in ids
    assert [(m["msisdn"], m["body"]) for m in mos] == texts
    assert opted_out == {A: True, B: True, C: True, D: False}
    kinds: dict[str, list[str]] = {}
    for row in ledger:
        kinds.setdefault(row["msisdn"], []).append(row["kind"])
        # each ledger row points at its own MO's reply that carried the disclosure
        assert row["in_reply_to"] == row["inbound_id"], row
        assert row["body"] == row["disclosure_text"], row
    assert kinds[A] == ["opt_in_requested", "opt_in_confirmed", "opted_out"]
    assert kinds[B] == ["opt_in_requested", "opted_out"]
    assert kinds[D] == ["opt_in_requested"]
    for number in (A, B, C, D):  # replies and timeline rows follow their MOs' order
        mine = [r["in_reply_to"] for r in replies if r["msisdn"] == number]
        assert mine == sorted(mine) and mine
        seen = [e["inbound_id"] for e in events if e["msisdn"] == number]
        assert seen == sorted(seen) and seen


async def test_a_batch_that_fails_half_way_rolls_back_whole_and_the_others_commit_on_retry(
    lane: Lane, settings: Settings
) -> None:
    """The ledger's step is the last of the batch's one statement: when a row there fails,
    the MOs, states and replies written before it in the same statement are gone too."""
    poisoned, fine = "+15555550109", ["+15555550110", "+15555550111"]
    async with lane.pool.acquire() as conn:
        await poison_ledger_for(conn, poisoned)
    ingest = lane.ingest(settings)
    ingest.start()
    try:
        statuses = await deliver_together(
            ingest, [(fine[0], "JOIN"), (poisoned, "JOIN"), (fine[1], "JOIN")])
    finally:
        await ingest.close()
    assert statuses == [CommandStatus.ESME_ROK, CommandStatus.ESME_RX_P_APPN,
                        CommandStatus.ESME_ROK]
    async with lane.pool.acquire() as conn:
        for table in ("inbound", "contacts", "contact_events", "outbound", "consent_events"):
            rows = await conn.fetch(f"SELECT msisdn FROM {table} ORDER BY msisdn")
            assert [r["msisdn"] for r in rows].count(poisoned) == 0, table
            assert sorted({r["msisdn"] for r in rows}) == fine, table
        assert await conn.fetchval("SELECT count(*) FROM inbound") == 2  # nothing twice
        assert await conn.fetchval("SELECT count(*) FROM inbound_unacked") == 2
        # committed one by one, after the batch's transaction rolled back
        assert await conn.fetchval("SELECT count(DISTINCT xmin::text) FROM inbound") == 2


async def test_a_batch_costs_the_same_statements_whatever_its_size(
    lane: Lane, settings: Settings
) -> None:
    """Round trips per batch do not grow with the batch, and no statement's text depends
    on its size (asyncpg's prepared-statement cache is hit by every batch)."""
    ingest = lane.ingest(settings)
    ingest.start()
    seen: list[list[str]] = []
    try:
        for first, size in ((200, 2), (300, 3), (400, 30)):  # the first also reserves ids
            lane.statements.clear()
            await deliver_together(ingest, [(f"+1555555{first + n:04d}", "JOIN")
                                            for n in range(size)])
            seen.append([" ".join(q.split())[:40] for q in lane.statements])
    finally:
        await ingest.close()
    assert seen[1] == seen[2]
    # BEGIN, the batch's read (the numbers' locks, then states and unread records: one
    # plan per connection, where a simple query with the locks was planned every time),
    # its write, COMMIT
    assert len(seen[2]) == 4, seen[2]
    assert seen[2][0] == "BEGIN" and seen[2][1].startswith("SELECT * FROM lane_read(")


async def test_the_batch_write_finds_the_replies_of_the_ledger_rows_in_one_pass(
    db_url: str
) -> None:
    """The ledger's step joins the replies' step by (MO, reply number): a hash or merge
    join, never a scan of the replies for each ledger row."""
    now = datetime.now(UTC)
    sql, args = one_statement.statement([
        inbound.insert_step([], []), inbound.unacked_step([]),
        contacts.upsert_step([], now=now), timeline.insert_step([]),
        outbound.replies_step([]), consent.after_replies_step([])])
    conn = await asyncpg.connect(db_url)
    try:
        await conn.execute("SET plan_cache_mode = force_generic_plan")
        await conn.execute("PREPARE lane_write AS " + sql)
        plan = json.loads(await conn.fetchval(
            f"EXPLAIN (FORMAT JSON) EXECUTE lane_write({', '.join(['NULL'] * len(args))})"
        ))[0]["Plan"]
        text = json.dumps(plan)
        assert '"CTE Name": "replies"' in text
        assert '"Node Type": "Nested Loop"' not in text
        assert sorted(n["Relation Name"] for n in _modify_tables(plan)) == sorted(
            ["inbound", "inbound_unacked", "contacts", "contact_events", "outbound",
             "consent_events"])
    finally:
        await conn.close()


def _modify_tables(node: dict[str, Any]) -> list[dict[str, Any]]:
    found = [node] if node["Node Type"] == "ModifyTable" else []
    for child in node.get("Plans", []):
        found.extend(_modify_tables(child))
    return found


def test_a_step_given_the_wrong_number_of_arguments_is_refused_before_sending() -> None:
    step = one_statement.Step("INSERT INTO t SELECT * FROM unnest($1::int[], $2::int[])", [[1]])
    with pytest.raises(ValueError, match="takes 2 parameters, was given 1"):
        one_statement.statement([step, step])
