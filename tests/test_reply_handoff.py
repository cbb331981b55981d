"""Replies handed by the MO lanes straight to their sender, written claimed
(pipeline/reply_handoff.py): without a claim when there is room, queued and claimed
in order when there is not, released and sent once when a lane's transaction ended
unknown, and a reservation given back by a batch that failed half-way."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

import asyncpg
from hypothesis import given
from hypothesis import strategies as st
from structlog.testing import capture_logs

from gateway.app import Gateway
from gateway.config import Settings
from gateway.engine import load_rules
from gateway.engine.holder import RulesHolder
from gateway.metrics import Metrics
from gateway.pipeline.ingest import Ingest
from gateway.pipeline.reply_handoff import Ticket
from gateway.smpp.constants import CommandStatus
from gateway.smpp.link import DeliverAnswer
from gateway.smpp.pdu import make_deliver_sm
from gateway.smpp.simulator import Faults, SmscSimulator
from gateway.store import one_statement
from gateway.store import outbound as outbound_store
from gateway.store.outbound import ClaimedMessage, Lease, NewOutbound
from tests.support.e2e import (
    SHORTCODE,
    Phone,
    gateway_settings,
    running_gateway,
    stop_gateway,
    wait_for,
)
from tests.support.poison import poison_ledger_for

CONFIRM_REQUEST = "Rise Up Alerts: reply Y to confirm you want campaign alerts."

# Every status an outbound row takes, in order, with the lease it had then.
TRAIL = """
CREATE TABLE test_trail (n serial, outbound_id bigint, status text, lease_owner text);
CREATE FUNCTION test_trail() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' OR NEW.status IS DISTINCT FROM OLD.status THEN
        INSERT INTO test_trail (outbound_id, status, lease_owner)
        VALUES (NEW.id, NEW.status, NEW.lease_owner);
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER test_trail AFTER INSERT OR UPDATE ON outbound
    FOR EACH ROW EXECUTE FUNCTION test_trail();
"""


async def trails(pool: asyncpg.Pool, msisdn: str) -> list[list[tuple[str, str | None]]]:
    """Per outbound row to `msisdn`, in id order: its (status, lease owner) in order."""
    rows = await pool.fetch(
        """SELECT t.outbound_id, t.status, t.lease_owner FROM test_trail t
           JOIN outbound o ON o.id = t.outbound_id WHERE o.msisdn = $1
           ORDER BY t.outbound_id, t.n""", msisdn)
    found: dict[int, list[tuple[str, str | None]]] = {}
    for r in rows:
        found.setdefault(r["outbound_id"], []).append((r["status"], r["lease_owner"]))
    return list(found.values())


async def test_a_reply_is_written_claimed_by_its_lane_and_sent_without_a_claim(
    gateway: Gateway, smsc: SmscSimulator
) -> None:
    await gateway.pool.execute(TRAIL)
    phone = Phone(smsc, "+15555550131")
    [ask] = await phone.text("JOIN", expect=1)
    assert ask.startswith(CONFIRM_REQUEST)

    async def submitted() -> bool:
        [trail] = await trails(gateway.pool, phone.msisdn)
        return ("submitted", None) in trail

    await wait_for(submitted)
    [trail] = await trails(gateway.pool, phone.msisdn)
    owner = gateway.settings.instance_name
    assert trail[:2] == [("sending", owner), ("submitted", None)]  # never 'queued'
    assert await gateway.pool.fetchval(
        "SELECT attempts FROM outbound WHERE msisdn = $1", phone.msisdn) == 1


async def test_without_room_a_reply_is_queued_and_later_ones_wait_behind_it(
    gateway: Gateway, smsc: SmscSimulator
) -> None:
    await gateway.pool.execute(TRAIL)
    outbox = gateway.outbox
    phone = Phone(smsc, "+15555550132")
    held = outbox.reserve(1_000_000)  # every slot, as lanes busy writing would hold them
    assert held > 0
    assert await smsc.inject_mo(phone.msisdn, SHORTCODE, "JOIN") == CommandStatus.ESME_ROK
    [join] = await trails(gateway.pool, phone.msisdn)
    assert join[0] == ("queued", None)  # no room: queued, for the claim
    outbox.settle(held, held, (), committed=False)  # the room is free again...
    assert outbox.reserve(1) == 0  # ...but a later reply would overtake the queued one
    async with asyncio.timeout(10):
        await smsc.wait_until(lambda: len(phone.received) == 1)
    assert phone.received[0].startswith(CONFIRM_REQUEST)

    # Once a claim has found the queue drained, replies are handed over again.
    confirmed = await phone.text("Y", expect=1)
    assert confirmed[0].startswith("Rise Up Alerts: you're in!")
    join, *replies = await trails(gateway.pool, phone.msisdn)
    owner = gateway.settings.instance_name
    assert join[:2] == [("queued", None), ("sending", owner)]
    assert replies and all(trail[0] == ("sending", owner) for trail in replies)


async def test_replies_written_claimed_in_a_transaction_whose_end_was_lost_go_out_once(
    gateway: Gateway, smsc: SmscSimulator
) -> None:
    """A lane whose COMMIT's answer was lost with its connection cannot know whether its
    replies exist: the sender releases its leases it does not know, and sends them once."""
    outbox = gateway.outbox
    phone = Phone(smsc, "+15555550133")
    ticket = Ticket(outbox)
    assert ticket.flags([True]) == [True]
    now = await gateway.pool.fetchval("SELECT now()")
    row = NewOutbound(phone.msisdn, SHORTCODE, "Found after all", 0, False, None, now)
    async with gateway.pool.acquire() as conn:
        written = await one_statement.fetch(
            conn, [outbound_store.replies_step([row], [True], outbox.lease)],
            outbound_store.HANDED_REPLIES)
    assert len(written) == 1  # committed, claimed by us, not known to the sender
    with capture_logs() as logs:
        ticket.cancel(lost=True)

        async def delivered() -> bool:
            status = await gateway.pool.fetchval(
                "SELECT status FROM outbound WHERE msisdn = $1", phone.msisdn)
            return bool(status == "delivered")

        await wait_for(delivered)
    assert phone.received == ["Found after all"]
    assert any(e["event"] == "outbox_lost_claims_released" for e in logs)
    assert await gateway.pool.fetchval(
        "SELECT attempts FROM outbound WHERE msisdn = $1", phone.msisdn) == 2


async def test_a_handed_reply_waiting_for_the_window_does_not_leave_after_a_stop(
    settings: Settings, smsc: SmscSimulator
) -> None:
    """Handed over, waiting in memory for the only window slot, then STOP: the reply is
    suppressed by the send gate and never sent; the STOP's confirmation goes."""
    smsc.faults = Faults(slow_resp=3.0)  # the first MT holds the only window slot
    gw = await running_gateway(gateway_settings(settings, smsc, smpp_window=1), smsc)
    try:
        await gw.pool.execute(TRAIL)
        first, number = "+15555550135", "+15555550136"
        now = await gw.pool.fetchval("SELECT now()")
        async with gw.pool.acquire() as conn:
            await outbound_store.insert_batch(
                conn, [NewOutbound(first, SHORTCODE, "Rally Saturday", 1, False, None, now)])
        gw.outbox.wake()

        async def slot_taken() -> bool:
            return bool(await gw.pool.fetchval(
                "SELECT status = 'sending' FROM outbound WHERE msisdn = $1", first))

        await wait_for(slot_taken)
        assert await smsc.inject_mo(number, SHORTCODE, "JOIN") == CommandStatus.ESME_ROK
        assert await smsc.inject_mo(number, SHORTCODE, "STOP") == CommandStatus.ESME_ROK

        async def settled() -> bool:
            rows = await gw.pool.fetch("SELECT status FROM outbound WHERE msisdn = $1", number)
            return len(rows) == 2 and {r["status"] for r in rows} <= {
                "submitted", "delivered", "suppressed"}

        await wait_for(settled)
        join, confirmation = await trails(gw.pool, number)
        owner = gw.settings.instance_name
        assert join == [("sending", owner), ("suppressed", None)]  # handed, then stopped
        assert confirmation[0] == ("sending", owner)
        texts = smsc.texts_to(number)
        assert len(texts) == 1 and not texts[0].startswith(CONFIRM_REQUEST)
    finally:
        await stop_gateway(gw)


# -- the lane's side, with a taker that records what it is told -------------------------


@dataclass
class RecordingTaker:
    """The `ReplyTaker` contract seen from outside: room given and taken back."""

    room: int
    lease: Lease = field(default_factory=lambda: Lease("lane-test", 60.0))
    settled: list[tuple[int, int, list[str], bool, bool]] = field(default_factory=list)

    def reserve(self, wanted: int) -> int:
        granted = min(wanted, self.room)
        self.room -= granted
        return granted

    def settle(self, reserved: int, wanted: int, messages: Sequence[ClaimedMessage], *,
               committed: bool, lost: bool = False) -> None:
        self.room += reserved
        self.settled.append((reserved, wanted, [m.msisdn for m in messages], committed, lost))


async def test_a_batch_that_fails_half_way_gives_its_room_back_and_the_retry_hands_over(
    pool: asyncpg.Pool, settings: Settings
) -> None:
    poisoned, fine = "+15555550139", ["+15555550140", "+15555550141"]
    await poison_ledger_for(pool, poisoned)
    taker = RecordingTaker(room=10)
    one = settings.model_copy(update={"ingest_lanes": 1, "ingest_linger_ms": 100.0})
    ingest = Ingest(pool, one, RulesHolder(load_rules(settings.keywords)), Metrics(),
                    handoff=taker)
    ingest.start()

    async def deliver(number: str) -> int:
        pdu = make_deliver_sm(number[1:], SHORTCODE, b"JOIN", source_addr_ton=1,
                              source_addr_npi=1)
        answer = await ingest.handle_mo(pdu)
        return answer.status if isinstance(answer, DeliverAnswer) else answer

    try:
        statuses = await asyncio.gather(*(deliver(n) for n in (fine[0], poisoned, fine[1])))
    finally:
        await ingest.close()
    assert statuses == [CommandStatus.ESME_ROK, CommandStatus.ESME_RX_P_APPN,
                        CommandStatus.ESME_ROK]
    assert taker.room == 10  # every reservation ended
    assert taker.settled == [
        (3, 3, [], False, False),  # the batch: rolled back, nothing handed
        (1, 1, [fine[0]], True, False),  # then one by one
        (1, 1, [], False, False),
        (1, 1, [fine[1]], True, False),
    ]
    rows = await pool.fetch("SELECT msisdn, status, lease_owner FROM outbound ORDER BY id")
    assert [tuple(r) for r in rows] == [(n, "sending", "lane-test") for n in fine]


async def test_an_opt_outs_confirmation_is_handed_over_though_the_number_opted_out(
    pool: asyncpg.Pool, settings: Settings
) -> None:
    """What could leave now is written claimed: not a reply to a number that has opted
    out (the claim suppresses it), except the opt-out's own confirmation."""
    taker = RecordingTaker(room=10)
    ingest = Ingest(pool, settings, RulesHolder(load_rules(settings.keywords)),
                    Metrics(), handoff=taker)
    ingest.start()
    number = "+15555550142"
    try:
        pdu = make_deliver_sm(number[1:], SHORTCODE, b"STOP", source_addr_ton=1,
                              source_addr_npi=1)
        await ingest.handle_mo(pdu)
    finally:
        await ingest.close()
    rows = await pool.fetch(
        "SELECT compliance, status FROM outbound WHERE msisdn = $1 ORDER BY id", number)
    assert [tuple(r) for r in rows] == [(True, "sending")]
    assert await pool.fetchval(
        "SELECT opted_out FROM contacts WHERE msisdn = $1", number) is True


@given(sendable=st.lists(st.booleans(), max_size=12), room=st.integers(0, 12))
def test_a_ticket_hands_the_first_sendable_replies_the_room_allows(
    sendable: list[bool], room: int
) -> None:
    taker = RecordingTaker(room=room)
    ticket = Ticket(taker)
    flags = ticket.flags(sendable)
    granted = min(room, sum(sendable))
    assert len(flags) == len(sendable)
    assert sum(flags) == granted == ticket.reserved
    assert all(s for s, f in zip(sendable, flags, strict=True) if f)  # only sendable ones
    first = [i for i, s in enumerate(sendable) if s][:granted]
    assert [i for i, f in enumerate(flags) if f] == first
    ticket.cancel(lost=False)
    assert taker.room == room
