"""One resend rule for the sender and the lease release (gateway/resend_rules.py).

The sender (pipeline/outbox.py) records a send it saw cut off; the lease
release (store/outbound.py) finds one a dead process left. Both must leave
the row the same way, above all a billed MT, which is never sent twice.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from gateway.pipeline import outbox
from gateway.resend_rules import (
    BILLED_UNKNOWN,
    CUT_OFF_CAUSE,
    RESEND_RULES,
    Action,
    Ending,
    rule_for,
)
from gateway.store import donations as donations_store
from gateway.store import inbound as inbound_store
from gateway.store import outbound as outbound_store
from gateway.store.donations import NewDonation
from gateway.store.inbound import NewInbound
from gateway.store.outbound import NewBilledMt, NewOutbound

HOLD = 120.0
NOW = datetime(2024, 5, 15, 15, 0, tzinfo=UTC)


def test_every_ending_has_a_rule_for_ordinary_and_billed_mts() -> None:
    assert set(RESEND_RULES) == {(ending, billed) for ending in Ending for billed in (False, True)}


def test_a_billed_mt_that_may_have_reached_the_smsc_is_never_requeued() -> None:
    billed = rule_for(Ending.CUT_OFF, billed=True)
    assert billed.action is Action.GIVE_UP and not billed.requeues
    assert billed.message("SubmitTimeout").startswith(BILLED_UNKNOWN + ":")
    assert rule_for(Ending.CUT_OFF, billed=False).action is Action.RESEND
    # what proves nothing was accepted is retried, billed or not
    for ending in (Ending.NOT_SENT, Ending.REFUSED_FOR_NOW):
        assert rule_for(ending, billed=True).action is Action.RETRY


@pytest.mark.parametrize(("ending", "billed"), sorted(RESEND_RULES, key=str))
def test_the_sender_records_each_ending_as_its_rule_says(ending: Ending, billed: bool) -> None:
    outcome = outbox.ended(7, ending, billed=billed, cause="why", hold=HOLD, retry_after=1.0)
    plan = outbox.plan_record([outcome])
    action = rule_for(ending, billed=billed).action
    assert bool(plan.requeued) == (action is not Action.GIVE_UP)
    assert bool(plan.failed) == (action is Action.GIVE_UP)
    expected_delay = {Action.RETRY: 1.0, Action.RESEND: HOLD}.get(action)
    assert outcome.requeue_after == expected_delay
    assert outcome.unsure == (ending is Ending.CUT_OFF)


async def _billed_mt(conn: asyncpg.Connection, msisdn: str) -> None:
    [mo_id] = await inbound_store.IdReserve("inbound_id_seq", block=1).take(conn, 1)
    await inbound_store.insert_batch(conn, [NewInbound(msisdn, "12345", "GIVE 10", 0, 1, NOW)],
                                     [mo_id])
    await donations_store.insert_donations(conn, [NewDonation(
        mo_id, msisdn, "12345", "rise", "Rise Up PAC", "carrier", 1000, "USD", NOW,
        NOW + timedelta(hours=24))])
    await outbound_store.insert_billed(conn, NewBilledMt(
        msisdn, "12345", "Thank you for giving $10", mo_id, "", {}, NOW))


async def _claim_two(conn: asyncpg.Connection, owner: str, numbers: tuple[str, str]) -> None:
    """An ordinary and a billed MT, claimed by `owner`."""
    await outbound_store.insert_batch(conn, [
        NewOutbound(numbers[0], "12345", "Thanks for joining!", 0, False, None, NOW)])
    await _billed_mt(conn, numbers[1])
    claimed, _ = await outbound_store.claim(conn, limit=10, owner=owner, lease_seconds=60)
    assert len(claimed) == 2


async def test_the_sender_and_the_lease_release_leave_a_cut_off_send_alike(
    pool: asyncpg.Pool,
) -> None:
    async with pool.acquire() as conn:
        await _claim_two(conn, "dead", ("+12125550101", "+12125550102"))
        await _claim_two(conn, "live", ("+12125550103", "+12125550104"))
        # a process that died left its leases: released at the next start
        released = await outbound_store.release_leases(
            conn, "dead", lease_seconds=60, hold_seconds=HOLD)
        # the live sender saw its sends cut off and records them
        live = await conn.fetch(
            "SELECT id, donation_id FROM outbound WHERE lease_owner = 'live' ORDER BY id")
        await outbox.write_record(conn, outbox.plan_record([
            outbox.ended(r["id"], Ending.CUT_OFF, billed=r["donation_id"] is not None,
                         cause=CUT_OFF_CAUSE, hold=HOLD)
            for r in live]))
        rows = await conn.fetch(
            """SELECT msisdn, donation_id IS NOT NULL AS billed, status, last_error,
                      final_at IS NOT NULL AS final, unsure_since IS NOT NULL AS unsure,
                      lease_owner, not_before > now() + make_interval(secs => $1 - 10) AS held
               FROM outbound ORDER BY msisdn""", HOLD)
    assert released == 2
    by_kind: dict[bool, list[tuple[object, ...]]] = {}
    for row in rows:
        by_kind.setdefault(row["billed"], []).append(tuple(dict(row).values())[2:])
    for billed, (from_release, from_sender) in by_kind.items():
        assert from_release == from_sender, f"billed={billed}"
    assert by_kind[False][0] == (
        "queued", "unsure: send cut off; waiting for a receipt before resending", False, True,
        None, True)
    assert by_kind[True][0] == (
        "failed", "billed_unknown: send cut off; reconcile, never resend", True, True, None,
        False)
