"""The consent ledger: append-only, linked to its confirmation MT and that MT's receipt."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.engine import decide, load_rules
from gateway.engine.types import ContactState, Inbound
from gateway.store import consent as consent_store
from gateway.store import contacts as contacts_store
from gateway.store import inbound as inbound_store
from gateway.store import outbound as outbound_store
from gateway.store.consent import CONSENT_KINDS, NewConsentEvent
from gateway.store.inbound import NewInbound
from gateway.store.outbound import NewOutbound

ROOT = Path(__file__).resolve().parents[1]
RULES = load_rules(ROOT / "keywords.yaml")
NOW = datetime(2024, 5, 1, 15, 0, tzinfo=UTC)
MSISDN = "+12125550123"


async def _mo_and_mt(conn: asyncpg.Connection, text: str, reply: str) -> tuple[int, int]:
    ids = await inbound_store.IdReserve("inbound_id_seq", block=1).take(conn, 1)
    await inbound_store.insert_batch(conn, [NewInbound(MSISDN, "12345", text, 0, 1, NOW)], ids)
    mo_id = ids[0]
    await outbound_store.insert_batch(
        conn, [NewOutbound(MSISDN, "12345", reply, 0, False, mo_id, NOW)]
    )
    mt_id: int = await conn.fetchval("SELECT max(id) FROM outbound")
    return mo_id, mt_id


def _row(kind: str, mo_id: int, reply_index: int | None, text: str = "JOIN") -> NewConsentEvent:
    return NewConsentEvent(
        msisdn=MSISDN, shortcode="12345", program="rise", program_name="Rise Up Alerts",
        kind=kind, inbound_id=mo_id, mo_text=text, keyword="JOIN",
        disclosure_text="Rise Up Alerts: reply Y...", disclosure_version="us-optin-v3",
        privacy_url="https://riseup.example.org/privacy", privacy_version="2024-05",
        reply_index=reply_index, occurred_at=NOW,
    )


async def test_rows_are_kept_in_order_with_every_field(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        mo_id, mt_id = await _mo_and_mt(conn, " join ", "reply Y")
        await consent_store.insert_batch(
            conn, [_row("opt_in_requested", mo_id, 0, " join "),
                   _row("opted_out", mo_id, None, " join ")]
        )
        rows = await consent_store.list_for_contact(conn, MSISDN, "12345")
    assert [r["kind"] for r in rows] == ["opt_in_requested", "opted_out"]
    first = rows[0]
    assert (first["inbound_id"], first["mo_text"], first["outbound_id"]) == (mo_id, " join ", mt_id)
    assert (first["disclosure_version"], first["privacy_version"]) == ("us-optin-v3", "2024-05")
    assert first["occurred_at"] == NOW
    assert first["confirmation_status"] == "queued"
    assert first["receipt_status"] is None
    assert rows[1]["outbound_id"] is None and rows[1]["confirmation_status"] is None


async def test_each_row_finds_its_mt_by_its_position_among_the_mos_replies(
    pool: asyncpg.Pool,
) -> None:
    async with pool.acquire() as conn, conn.transaction():
        first, second = await inbound_store.IdReserve("inbound_id_seq", block=2).take(conn, 2)
        await inbound_store.insert_batch(
            conn, [NewInbound(MSISDN, "12345", "Y", 0, 1, NOW),
                   NewInbound("+13125550100", "12345", "STOP", 0, 1, NOW)], [first, second]
        )
        await outbound_store.insert_batch(conn, [
            NewOutbound(MSISDN, "12345", "help", 0, False, first, NOW),
            NewOutbound(MSISDN, "12345", "you're in", 0, False, first, NOW),
            NewOutbound(MSISDN, "12345", "zip?", 0, False, first, NOW),
            NewOutbound("+13125550100", "12345", "bye", 0, True, second, NOW),
        ])
        stop = replace(_row("opted_out", second, 0, "STOP"), msisdn="+13125550100")
        await consent_store.insert_batch(conn, [
            _row("opt_in_confirmed", first, 1, "Y"), stop, _row("opt_in_requested", first, None),
        ])
        rows = await conn.fetch(
            "SELECT e.kind, o.body FROM consent_events e"
            " LEFT JOIN outbound o ON o.id = e.outbound_id ORDER BY e.id"
        )
    assert [(r["kind"], r["body"]) for r in rows] == [
        ("opt_in_confirmed", "you're in"), ("opted_out", "bye"), ("opt_in_requested", None)]


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE consent_events SET mo_text = 'STOP'",
        "UPDATE consent_events SET outbound_id = NULL",
        "DELETE FROM consent_events",
        "TRUNCATE consent_events",
        "TRUNCATE consent_events CASCADE",
    ],
)
async def test_the_ledger_refuses_every_change(pool: asyncpg.Pool, statement: str) -> None:
    async with pool.acquire() as conn:
        mo_id, mt_id = await _mo_and_mt(conn, "JOIN", "reply Y")
        await consent_store.insert_batch(conn, [_row("opt_in_requested", mo_id, 0)])
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await conn.execute(statement)
        rows = await consent_store.list_for_contact(conn, MSISDN, "12345")
    assert [(r["mo_text"], r["outbound_id"]) for r in rows] == [("JOIN", mt_id)]


async def test_unknown_kinds_are_refused(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        mo_id, _ = await _mo_and_mt(conn, "JOIN", "hi")
        with pytest.raises(asyncpg.CheckViolationError):
            await consent_store.insert_batch(conn, [_row("opt_in_repeated", mo_id, 0)])


async def _segments(conn: asyncpg.Connection, mt_id: int, statuses: list[str]) -> None:
    await conn.execute("UPDATE outbound SET status = 'submitted', segments = $2 WHERE id = $1",
                       mt_id, len(statuses))
    await conn.executemany(
        "INSERT INTO outbound_segments (outbound_id, seq, smsc_message_id, status, final_at)"
        " VALUES ($1, $2, $3, $4, CASE WHEN $4 <> 'submitted' THEN now() END)",
        [(mt_id, seq, f"m{mt_id}-{seq}", status) for seq, status in enumerate(statuses, 1)],
    )


@pytest.mark.parametrize(
    ("segments", "receipt"),
    [
        ([], None),
        (["submitted"], None),
        (["DELIVRD"], "DELIVRD"),
        (["DELIVRD", "submitted"], None),
        (["DELIVRD", "DELIVRD", "DELIVRD"], "DELIVRD"),
        (["DELIVRD", "UNDELIV", "REJECTD"], "UNDELIV"),
        (["submitted", "REJECTD"], "REJECTD"),
    ],
)
async def test_the_view_reads_the_receipt_of_every_segment(
    pool: asyncpg.Pool, segments: list[str], receipt: str | None
) -> None:
    async with pool.acquire() as conn:
        mo_id, mt_id = await _mo_and_mt(conn, "JOIN", "reply Y")
        await consent_store.insert_batch(conn, [_row("opt_in_requested", mo_id, 0)])
        if segments:
            await _segments(conn, mt_id, segments)
        [row] = await consent_store.list_for_contact(conn, MSISDN, "12345")
    assert row["receipt_status"] == receipt
    assert (row["receipt_at"] is not None) == (bool(segments) and "submitted" not in segments)
    assert row["smsc_message_ids"] == ([f"m{mt_id}-{n}" for n in range(1, len(segments) + 1)]
                                       if segments else None)


async def test_geo_columns_are_written_and_left_alone_when_unchanged(pool: asyncpg.Pool) -> None:
    from gateway.geo import Geo

    async with pool.acquire() as conn:
        await conn.execute("INSERT INTO contacts (msisdn, shortcode) VALUES ($1, '12345')", MSISDN)
        spanning = Geo(region="ID", country="US",
                       timezones=("America/Boise", "America/Los_Angeles"), source="area_code")
        await contacts_store.update_geo(conn, [(MSISDN, "12345", spanning)])
        row = await contacts_store.get_geo(conn, MSISDN, "12345")
        assert row is not None
        assert dict(row) == {"zip": None, "region": "ID", "country": "US",
                             "timezones": ["America/Boise", "America/Los_Angeles"],
                             "geo_source": "area_code"}
        before = await conn.fetchval(
            "SELECT xmin::text FROM contacts WHERE msisdn = $1", MSISDN)
        await contacts_store.update_geo(conn, [(MSISDN, "12345", spanning)])
        after = await conn.fetchval("SELECT xmin::text FROM contacts WHERE msisdn = $1", MSISDN)
        assert before == after  # same values: no new row version
        await contacts_store.update_geo(conn, [(MSISDN, "12345", Geo())])
        row = await contacts_store.get_geo(conn, MSISDN, "12345")
        assert row is not None
    assert dict(row) == {"zip": None, "region": None, "country": None, "timezones": None,
                         "geo_source": None}


# -- the engine side of the link: every consent event points at the MT it sent -----------

WORDS = ["JOIN", "jion", "Y", "yes", "STOP", "remove me", "START", "unstop", "HELP", "10001",
         "F", "skip", "ADHERER", "75011", "hello", "FACTS", "VOLUNTEER"]


@given(st.sampled_from(["12345", "38200"]),
       st.lists(st.tuples(st.sampled_from(WORDS), st.sampled_from([0, 5, 3600, 200_000])),
                max_size=20))
@settings(deadline=None)
def test_every_consent_event_points_at_the_reply_that_carried_it(
    shortcode: str, conversation: list[tuple[str, int]]
) -> None:
    state = ContactState(msisdn=MSISDN, shortcode=shortcode)
    now = NOW
    for mo_id, (text, gap) in enumerate(conversation, 1):
        now += timedelta(seconds=gap)
        decision = decide(state, Inbound(mo_id, MSISDN, shortcode, text, now), now=now,
                          rules=RULES)
        for event in decision.events:
            if event.name not in CONSENT_KINDS:
                assert "reply_index" not in event.to_json()
                continue
            index = event.to_json()["reply_index"]
            assert decision.replies[index].text == event.to_json()["disclosure_text"]
            if event.name == "opted_out":
                assert decision.replies[index].compliance
        state = decision.new_state


def test_a_stop_during_a_flood_from_an_opted_out_number_links_no_mt() -> None:
    state = ContactState(msisdn=MSISDN, shortcode="12345")
    limit = RULES.defaults.flood_limit_per_minute
    decisions = []
    for n in range(limit + 2):
        at = NOW + timedelta(seconds=n)
        decision = decide(state, Inbound(n, MSISDN, "12345", "STOP", at), now=at, rules=RULES)
        decisions.append(decision)
        state = decision.new_state
    last = decisions[-1]
    assert last.replies == ()  # the flood's one STOP reply this minute already went out
    assert [e.name for e in last.events] == ["compliance_reply_limited", "opted_out"]
    assert "reply_index" not in last.events[1].to_json()
    assert decisions[0].events[0].to_json()["reply_index"] == 0
