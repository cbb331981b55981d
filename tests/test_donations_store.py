"""Donations in PostgreSQL: the append-only ledger, its invariants, the queues and the totals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from gateway.billing.ledger import derive_state
from gateway.billing.policy import DonationPolicy, DonorTotals
from gateway.engine import load_rules
from gateway.store import donations as store
from gateway.store import inbound as inbound_store
from gateway.store import outbound as outbound_store
from gateway.store.donations import DonorDetails, NewDonation, NewDonationEvent
from gateway.store.inbound import NewInbound
from gateway.store.outbound import NewOutbound
from tests.support.donation_histories import legal_histories

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2024, 5, 15, 15, 0, tzinfo=UTC)
MSISDN = "+12125550123"
COMMITTEE = "Rise Up PAC"


async def new_mos(conn: asyncpg.Connection, count: int, msisdn: str = MSISDN) -> list[int]:
    ids = await inbound_store.IdReserve("inbound_id_seq", block=count).take(conn, count)
    await inbound_store.insert_batch(
        conn, [NewInbound(msisdn, "12345", "GIVE 10", 0, 1, NOW)] * count, ids)
    return ids


def donation(mo_id: int, *, method: str = "carrier", amount: int = 1000,
             msisdn: str = MSISDN, committee: str = COMMITTEE,
             at: datetime = NOW) -> NewDonation:
    return NewDonation(mo_id, msisdn, "12345", "rise", committee, method, amount, "USD", at,
                       at + timedelta(hours=24))


def event(donation_id: int, kind: str, at: datetime = NOW, amount: int | None = None, *,
          method: str | None = None, inbound_id: int | None = None,
          reply_index: int | None = None, external_ref: str | None = None) -> NewDonationEvent:
    return NewDonationEvent(donation_id, kind, at, amount, "USD" if amount else None,
                            {"method": method} if method else {}, inbound_id=inbound_id,
                            reply_index=reply_index, external_ref=external_ref)


async def requested(conn: asyncpg.Connection, *, method: str = "carrier", amount: int = 1000,
                    msisdn: str = MSISDN, at: datetime = NOW, confirm: bool = False) -> int:
    [mo_id] = await new_mos(conn, 1, msisdn)
    await store.insert_donations(conn, [donation(mo_id, method=method, amount=amount,
                                                 msisdn=msisdn, at=at)])
    events = [event(mo_id, "requested", at, amount, method=method)]
    if confirm:
        events.append(event(mo_id, "confirmed", at + timedelta(minutes=1)))
    await store.insert_events(conn, events)
    return mo_id


async def test_a_gift_from_request_to_bill_projects_its_status(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        [mo_id] = await new_mos(conn, 1)
        await outbound_store.insert_batch(conn, [
            NewOutbound(MSISDN, "12345", "Reply YES to give $10...", 0, False, mo_id, NOW)])
        await store.insert_donations(conn, [donation(mo_id)])
        yes_at = NOW + timedelta(minutes=3)
        inserted = await store.insert_events(conn, [
            event(mo_id, "requested", NOW, 1000, method="carrier", inbound_id=mo_id),
            event(mo_id, "confirmation_sent", NOW, inbound_id=mo_id, reply_index=0),
            event(mo_id, "confirmed", yes_at),
            event(mo_id, "billing_submitted", yes_at, external_ref="smsc-1"),
            event(mo_id, "billed", yes_at + timedelta(minutes=1), 1000),
        ])
        assert [e.kind for e in inserted] == ["requested", "confirmation_sent", "confirmed",
                                              "billing_submitted", "billed"]
        row = await store.get_donation(conn, mo_id)
        events = (await store.list_events(conn, [mo_id]))[mo_id]
        mt_id = await conn.fetchval("SELECT id FROM outbound WHERE in_reply_to = $1", mo_id)
        assert await store.get_donation(conn, 10**12) is None
    assert row is not None
    assert (row.status, row.confirmed_at) == ("billed", yes_at)
    assert events[1].outbound_id == mt_id  # the confirmation request's MT, by reply_index
    assert events[0].data == {"method": "carrier"}
    state = derive_state(events)  # the stored rows are ledger events as they are
    assert (state.status, state.confirmed_at, state.amount_cents) == ("billed", yes_at, 1000)


async def test_the_ledger_is_append_only(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        ref = await requested(conn, confirm=True)
        for statement in (
            "UPDATE donation_events SET amount_cents = 1 WHERE donation_id = $1",
            "DELETE FROM donation_events WHERE donation_id = $1",
            "UPDATE donations SET amount_cents = 1 WHERE id = $1",
            "UPDATE donations SET status = 'charged' WHERE id = $1",
            "UPDATE donations SET confirmed_at = now() WHERE id = $1",
            "DELETE FROM donations WHERE id = $1",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="refused"):
                await conn.execute(statement, ref)
        for table in ("donation_events", "donations"):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute(f"TRUNCATE {table} CASCADE")
        assert len((await store.list_events(conn, [ref]))[ref]) == 2


async def test_repeats_and_late_events_are_dropped_not_doubled(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        ref = await requested(conn, method="card", amount=2500, confirm=True)
        again = await store.insert_events(conn, [event(ref, "confirmed"),
                                                 event(ref, "requested", NOW, 2500,
                                                       method="card")])
        assert again == []
        first = await store.insert_events(conn, [event(ref, "charge_requested")])
        second = await store.insert_events(conn, [event(ref, "charge_requested")])
        assert [e.kind for e in first] == ["charge_requested"] and second == []
        await store.insert_events(conn, [event(ref, "charged", NOW, 2500, external_ref="pi_1")])
        late = await store.insert_events(conn, [
            event(ref, "charged", NOW, 2500, external_ref="pi_1"),  # a redelivered webhook
            event(ref, "failed"), event(ref, "expired"), event(ref, "cancelled"),
        ])
        assert late == []
        refunds = await store.insert_events(conn, [
            event(ref, "refunded", NOW, 1000, external_ref="re_1"),
            event(ref, "refunded", NOW, 1000, external_ref="re_1"),  # the same refund twice
            event(ref, "refunded", NOW, 1500, external_ref="re_2"),
        ])
        assert [e.kind for e in refunds] == ["refunded", "refunded"]
        row = await store.get_donation(conn, ref)
        assert row is not None and row.status == "refunded"
        # A YES that lost the race with the expiry sweep changes nothing.
        other = await requested(conn)
        await store.insert_events(conn, [event(other, "expired")])
        assert await store.insert_events(conn, [event(other, "confirmed")]) == []
        row = await store.get_donation(conn, other)
        assert row is not None and (row.status, row.confirmed_at) == ("expired", None)


async def test_the_database_refuses_a_charge_without_a_yes(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        ref = await requested(conn)
        with pytest.raises(asyncpg.CheckViolationError, match="without a confirmed event"):
            await store.insert_events(conn, [event(ref, "billing_submitted")])
        with pytest.raises(asyncpg.CheckViolationError, match="before any money was taken"):
            await store.insert_events(conn, [event(ref, "refunded", NOW, 100)])
        assert [e.kind for e in (await store.list_events(conn, [ref]))[ref]] == ["requested"]


async def test_claiming_confirmed_gifts_skips_those_another_worker_holds(
    pool: asyncpg.Pool,
) -> None:
    async with pool.acquire() as setup:
        refs = [await requested(setup, confirm=True) for _ in range(3)]
        await requested(setup)  # not confirmed: never claimed
        with pytest.raises(RuntimeError, match="inside `async with conn"):
            await store.claim_to_charge(setup, limit=10)
    async with pool.acquire() as first, pool.acquire() as second:
        async with first.transaction():
            mine = await store.claim_to_charge(first, limit=2)
            assert [d.id for d in mine] == refs[:2]
            async with second.transaction():
                theirs = await store.claim_to_charge(second, limit=10)
                assert [d.id for d in theirs] == refs[2:]
            await store.insert_events(first, [event(d.id, "billing_submitted") for d in mine])
        async with second.transaction():
            assert [d.id for d in await store.claim_to_charge(second, limit=10)] == refs[2:]


async def test_the_expiry_sweep_ends_unanswered_requests_once(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        stale = await requested(conn)
        fresh = await requested(conn, at=NOW + timedelta(hours=20))
        confirmed = await requested(conn, confirm=True)
        held = await requested(conn, method="card", confirm=True)
        await store.insert_events(conn, [event(held, "details_requested",
                                               NOW + timedelta(hours=2))])
        later = NOW + timedelta(hours=26)
        async with conn.transaction():
            expired = await store.expire_due(conn, before=later, details_within_s=86400,
                                             limit=100)
        assert expired == [stale]
        async with conn.transaction():
            assert await store.expire_due(conn, before=later, details_within_s=86400,
                                          limit=100) == []
            much_later = NOW + timedelta(days=3)
            assert sorted(await store.expire_due(conn, before=much_later,
                                                 details_within_s=86400, limit=100)) == [fresh,
                                                                                          held]
        rows = {d.id: d for d in await store.list_donations(conn, [stale, confirmed, held])}
        events = await store.list_events(conn, [stale, held])
    assert rows[confirmed].status == "confirmed"
    assert events[stale][-1].occurred_at == NOW + timedelta(hours=24)  # at its deadline
    assert events[held][-1].occurred_at == NOW + timedelta(hours=26)  # details + 24 h
    assert derive_state(events[held]).outcome == "expired"


async def test_the_donor_lock_is_held_until_commit(pool: asyncpg.Pool) -> None:
    probe = "SELECT pg_try_advisory_xact_lock(hashtextextended($1 || ' ' || $2, 7413))"
    async with pool.acquire() as first, pool.acquire() as second:
        with pytest.raises(RuntimeError):
            await store.lock_donor(first, MSISDN, COMMITTEE)
        async with first.transaction():
            await store.lock_donor(first, MSISDN, COMMITTEE)
            async with second.transaction():
                assert await second.fetchval(probe, MSISDN, COMMITTEE) is False
                assert await second.fetchval(probe, MSISDN, "Other PAC") is True
        async with second.transaction():
            assert await second.fetchval(probe, MSISDN, COMMITTEE) is True


async def test_donor_totals_match_the_pure_sum(pool: asyncpg.Pool) -> None:
    policy = DonationPolicy.from_rules(load_rules(ROOT / "keywords.yaml"), "rise")
    windows = policy.windows(NOW)
    counted: list[tuple[int, str, datetime]] = []
    async with pool.acquire() as conn:
        gifts = [  # (method, amount, days before NOW, outcome, refund)
            ("carrier", 1000, 1, "billed", 0), ("carrier", 500, 20, "billed", 0),
            ("carrier", 1000, 2, "failed", 0), ("card", 2500, 3, "charged", 1000),
            ("card", 5000, 400, "charged", 0), ("carrier", 1000, 900, "billed", 0),
            ("card", 3000, 1, None, 0),  # confirmed, not yet charged: not counted
            ("carrier", 500, 0, "in flight", 0),  # billing submitted: counted
        ]
        for method, amount, days, outcome, refund in gifts:
            at = NOW - timedelta(days=days)
            ref = await requested(conn, method=method, amount=amount, at=at, confirm=True)
            confirmed_at = at + timedelta(minutes=1)
            attempt = "billing_submitted" if method == "carrier" else "charge_requested"
            later = []
            if outcome is not None:
                later.append(event(ref, attempt, confirmed_at))
            if outcome in ("billed", "charged", "failed"):
                later.append(event(ref, outcome, confirmed_at,
                                   amount if outcome != "failed" else None))
            if refund:
                later.append(event(ref, "refunded", confirmed_at, refund))
            await store.insert_events(conn, later)
            if outcome not in (None, "failed"):
                counted.append((amount - refund, method, confirmed_at))
        await requested(conn, msisdn="+13125550100", confirm=True)  # someone else
        totals = await store.donor_totals(conn, [(MSISDN, COMMITTEE), ("+1999", COMMITTEE)],
                                          month=windows.month, cycle=windows.cycle,
                                          election=windows.election)
    expected = DonorTotals.from_history(counted, windows)
    got = totals[(MSISDN, COMMITTEE)]
    assert (got.month_by_phone_cents, got.cycle_by_phone_cents, got.cycle_cents,
            got.election_cents) == (expected.month_by_phone_cents,
                                    expected.cycle_by_phone_cents, expected.cycle_cents,
                                    expected.election_cents)
    assert got.month_by_phone_cents == 1000 + 500  # the failed and the 20-day-old ones are out
    assert totals[("+1999", COMMITTEE)] == store.WindowTotals()


async def test_donor_details_newest_first(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        ref = await requested(conn, confirm=True)
        await store.insert_donor_details(conn, [
            DonorDetails(MSISDN, COMMITTEE, "sms", NOW, name="Ada Lovelace"),
            DonorDetails(MSISDN, COMMITTEE, "web", NOW, name="Ada Lovelace",
                         street="1 Main St", city="Albany", region="NY", postal_code="12207",
                         country="US", employer="Analytical Engines", occupation="Engineer",
                         donation_id=ref),
        ])
        found = await store.list_donor_details(conn, [(MSISDN, COMMITTEE), ("+1", COMMITTEE)])
    assert list(found) == [(MSISDN, COMMITTEE)]
    assert found[(MSISDN, COMMITTEE)].facts() == {
        "name": "Ada Lovelace", "address": "1 Main St, Albany, NY, 12207",
        "employer": "Analytical Engines", "occupation": "Engineer"}
    assert DonorDetails(MSISDN, COMMITTEE, "sms", NOW, street="1 Main St").facts()[
        "address"] is None


# -- the SQL projection and report agree with the ledger on every legal history -----------


async def test_the_projected_status_and_the_report_match_the_ledger(pool: asyncpg.Pool) -> None:
    histories = [h for method in ("carrier", "card") for h in legal_histories(method, 8, NOW)]
    assert len(histories) > 100
    async with pool.acquire() as conn, conn.transaction():
        ids = await new_mos(conn, len(histories))
        await store.insert_donations(conn, [
            donation(i, method=str(h[0].data["method"])) for i, h in zip(ids, histories,
                                                                         strict=True)])
        inserted = await store.insert_events(conn, [
            NewDonationEvent(i, e.kind, e.occurred_at, e.amount_cents, e.currency, e.data)
            for i, h in zip(ids, histories, strict=True) for e in h])
        assert len(inserted) == sum(len(h) for h in histories)  # nothing legal is dropped
        rows = {d.id: d for d in await store.list_donations(conn, ids)}
        report = {r["id"]: r for r in await conn.fetch(
            "SELECT * FROM donation_report WHERE id = ANY($1::bigint[])", ids)}
    for donation_id, history in zip(ids, histories, strict=True):
        state = derive_state(history)
        line = report[donation_id]
        assert rows[donation_id].status == state.status, [e.kind for e in history]
        assert rows[donation_id].confirmed_at == state.confirmed_at
        assert (line["outcome"], line["outcome_at"]) == (state.outcome, state.outcome_at)
        assert (line["refunded_cents"], line["disputed"]) == (state.refunded_cents,
                                                              state.disputed)
        assert line["confirmed_at"] == state.confirmed_at
        paid = state.outcome in ("billed", "charged")
        assert line["net_cents"] == (state.amount_cents - state.refunded_cents if paid else 0)
