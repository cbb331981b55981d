"""EsmeClient over real TCP against a tiny SMSC built from SmppSession(role="smsc")."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator

import pytest
from structlog.testing import capture_logs

from gateway.smpp.constants import CommandId, CommandStatus
from gateway.smpp.errors import SessionLost, SubmitRejected, SubmitTimeout
from gateway.smpp.pdu import Pdu, make_deliver_sm, make_submit_sm
from gateway.smpp.throttle import TokenBucket, backoff_delay
from tests.support.fake_smsc import Harness, eventually, round_trip

C = CommandId
S = CommandStatus


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    harness = Harness()
    harness.port = await harness.smsc.start()
    yield harness
    for client, task in harness.clients:
        await client.stop()
        async with asyncio.timeout(5):
            await task
    await harness.smsc.close()


def sm(text: bytes = b"hi") -> Pdu:
    return make_submit_sm("12345", "15551234567", text)


# -- bind ------------------------------------------------------------------------------


async def test_bind_and_submit(harness: Harness) -> None:
    client = await harness.bound()
    assert client.bound and len(harness.smsc.bound()) == 1
    resp = await client.submit(sm())
    assert resp.command_id == C.SUBMIT_SM_RESP and resp.get_str("message_id") == "m1"
    assert (client.submits, client.resps, client.window_in_use) == (1, 1, 0)
    assert harness.smsc.submits[0].short_message == b"hi"


async def test_bad_password_logs_one_clear_line_and_retries(harness: Harness) -> None:
    harness.smsc.password = "other"
    with capture_logs() as logs:
        client = harness.start()
        await eventually(lambda: harness.smsc.count(C.BIND_TRANSCEIVER) >= 3)
        assert not client.bound
    refusals = [entry for entry in logs if entry["event"] == "smpp_bind_refused"]
    assert len(refusals) >= 2
    assert refusals[0]["log_level"] == "error"
    assert refusals[0]["reason"] == (
        "bind refused: invalid password for system_id gw; check GATEWAY_SMPP_PASSWORD"
    )
    assert refusals[0]["status"] == "ESME_RINVPASWD"
    assert all("pw" not in str(value) for entry in logs for value in entry.values())
    harness.smsc.password = "pw"
    assert await client.wait_bound(5.0)


# -- submit ----------------------------------------------------------------------------


async def test_window_limits_outstanding_submits(harness: Harness) -> None:
    client = await harness.bound(smpp_window=2)
    harness.smsc.hold = True
    tasks = [asyncio.create_task(client.submit(sm())) for _ in range(5)]
    await eventually(lambda: len(harness.smsc.held) == 2)
    [connection] = harness.smsc.bound()
    await round_trip(harness.smsc, connection)  # the other three had every chance to slip through
    assert len(harness.smsc.held) == 2 and client.window_in_use == 2
    harness.smsc.hold = False
    harness.smsc.release()
    results = await asyncio.gather(*tasks)
    assert all(r.command_status == S.ESME_ROK for r in results)
    assert len(harness.smsc.submits) == 5 and client.window_in_use == 0


@pytest.mark.parametrize("status", [S.ESME_RTHROTTLED, S.ESME_RMSGQFUL])
async def test_throttled_submit_is_resent(harness: Harness, status: int) -> None:
    client = await harness.bound()
    harness.smsc.submit_statuses = [status, status]
    resp = await client.submit(sm())
    assert resp.command_status == S.ESME_ROK
    assert len(harness.smsc.submits) == 3 and client.resends == 2
    sequences = {pdu.sequence for pdu in harness.smsc.submits}
    assert len(sequences) == 3  # every resend is a new PDU


async def test_other_errors_raise_without_resend(harness: Harness) -> None:
    client = await harness.bound()
    harness.smsc.submit_statuses = [S.ESME_RINVDSTADR]
    with pytest.raises(SubmitRejected) as info:
        await client.submit(sm())
    assert info.value.command_status == S.ESME_RINVDSTADR and not info.value.temporary
    assert len(harness.smsc.submits) == 1


async def test_submit_timeout_frees_the_window(harness: Harness) -> None:
    client = await harness.bound(smpp_submit_timeout=0.1)
    harness.smsc.hold = True
    with pytest.raises(SubmitTimeout):
        await client.submit(sm())
    assert client.window_in_use == 0
    harness.smsc.release()  # a late answer is only a logged violation
    harness.smsc.hold = False
    assert (await client.submit(sm())).command_status == S.ESME_ROK


async def test_throttle_paces_submits(harness: Harness) -> None:
    client = await harness.bound(smpp_tps=200.0)
    results = await asyncio.gather(*(client.submit(sm()) for _ in range(6)))
    assert len(results) == 6 and client.submits == 6


# -- deliver ----------------------------------------------------------------------------


async def test_deliver_sm_answered_only_after_on_deliver_returns(harness: Harness) -> None:
    gate = asyncio.Event()
    seen: list[Pdu] = []

    async def on_deliver(pdu: Pdu) -> int:
        seen.append(pdu)
        await gate.wait()
        return S.ESME_ROK

    client = await harness.bound(on_deliver=on_deliver)
    [connection] = harness.smsc.bound()
    connection.send(make_deliver_sm("15551234567", "12345", b"JOIN"))
    await eventually(lambda: len(seen) == 1)
    await round_trip(harness.smsc, connection)  # a PDU after it is answered, it is not
    assert harness.smsc.deliver_resps == [] and seen[0].short_message == b"JOIN"
    gate.set()
    await eventually(lambda: len(harness.smsc.deliver_resps) == 1)
    assert harness.smsc.deliver_resps[0].command_status == S.ESME_ROK
    assert client.delivers == 1


async def test_failing_on_deliver_answers_temporary_error(harness: Harness) -> None:
    async def on_deliver(pdu: Pdu) -> int:
        raise RuntimeError("database down")

    await harness.bound(on_deliver=on_deliver)
    [connection] = harness.smsc.bound()
    connection.send(make_deliver_sm("15551234567", "12345", b"JOIN"))
    await eventually(lambda: len(harness.smsc.deliver_resps) == 1)
    assert harness.smsc.deliver_resps[0].command_status == S.ESME_RX_T_APPN


async def test_on_deliver_concurrency_is_bounded(harness: Harness) -> None:
    gate = asyncio.Event()
    running = 0
    peak = 0

    async def on_deliver(pdu: Pdu) -> int:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await gate.wait()
        running -= 1
        return S.ESME_ROK

    client = await harness.bound(on_deliver=on_deliver, smpp_window=1)
    [connection] = harness.smsc.bound()
    for n in range(6):
        connection.send(make_deliver_sm("15551234567", "12345", b"%d" % n))
    # the third deliver_sm waits for a slot, and the client reads nothing more meanwhile
    await eventually(lambda: running == 2 and client.delivers == 3)
    assert running == 2 and client.delivers == 3
    gate.set()
    await eventually(lambda: len(harness.smsc.deliver_resps) == 6)
    assert peak == 2


# -- link health ------------------------------------------------------------------------


async def test_enquire_link_both_ways(harness: Harness) -> None:
    await harness.bound(smpp_enquire_link_interval=0.05)
    await eventually(lambda: harness.smsc.count(C.ENQUIRE_LINK) >= 2)
    [connection] = harness.smsc.bound()
    connection.send(Pdu(C.ENQUIRE_LINK))
    await eventually(lambda: harness.smsc.count(C.ENQUIRE_LINK_RESP) >= 1)


async def test_dead_link_reconnects(harness: Harness) -> None:
    client = await harness.bound(smpp_enquire_link_interval=0.05, smpp_submit_timeout=0.3)
    harness.smsc.mute = True
    await eventually(lambda: client.connects >= 2)
    harness.smsc.mute = False
    await eventually(lambda: len(harness.smsc.bound()) == 1 and client.bound)


async def test_connection_drop_fails_waiters_and_reconnects(harness: Harness) -> None:
    client = await harness.bound()
    harness.smsc.hold = True
    pending = asyncio.create_task(client.submit(sm()))
    await eventually(lambda: len(harness.smsc.held) == 1)
    harness.smsc.held.clear()
    harness.smsc.drop()
    with pytest.raises(SessionLost):
        await pending
    await eventually(lambda: client.connects == 2 and client.bound)
    harness.smsc.hold = False
    assert len(harness.smsc.submits) == 1  # never resent on its own
    assert (await client.submit(sm())).command_status == S.ESME_ROK


async def test_unbind_from_smsc_is_answered_then_reconnects(harness: Harness) -> None:
    client = await harness.bound()
    [connection] = harness.smsc.bound()
    connection.send(Pdu(C.UNBIND))
    await eventually(lambda: harness.smsc.count(C.UNBIND_RESP) == 1)
    await eventually(lambda: client.connects == 2 and client.bound)


async def test_unencodable_submit_is_rejected_with_the_smsc_status(harness: Harness) -> None:
    client = await harness.bound()
    with pytest.raises(SubmitRejected) as info:
        await client.submit(sm(b"x" * 255))
    assert info.value.command_status == S.ESME_RINVMSGLEN
    assert harness.smsc.submits == [] and client.window_in_use == 0


async def test_garbage_gets_generic_nack_and_session_survives(harness: Harness) -> None:
    client = await harness.bound()
    [connection] = harness.smsc.bound()
    connection.writer.write(bytes.fromhex("00000010 00000042 00000000 00000063"))
    bad_deliver = bytes.fromhex("00000011 00000005 00000000 00000064 00")
    connection.writer.write(bad_deliver)
    await eventually(lambda: harness.smsc.count(C.GENERIC_NACK) == 2)
    assert client.violations == 2
    assert (await client.submit(sm())).command_status == S.ESME_ROK
    assert client.connects == 1


async def test_broken_framing_closes_and_reconnects(harness: Harness) -> None:
    client = await harness.bound()
    [connection] = harness.smsc.bound()
    connection.writer.write(bytes.fromhex("00000005 00000005 00000000 00000001"))
    await eventually(lambda: client.connects == 2 and client.bound)
    assert harness.smsc.count(C.GENERIC_NACK) == 1


# -- lifecycle ---------------------------------------------------------------------------


async def test_stop_unbinds_and_is_idempotent(harness: Harness) -> None:
    client = await harness.bound()
    await client.stop()
    assert harness.smsc.count(C.UNBIND) == 1 and not client.bound
    await client.stop()
    with pytest.raises(SessionLost):
        await client.submit(sm())


async def test_stop_lets_a_committing_mo_answer_before_unbind(harness: Harness) -> None:
    gate = asyncio.Event()
    started = asyncio.Event()

    async def on_deliver(pdu: Pdu) -> int:
        started.set()
        await gate.wait()
        return S.ESME_ROK

    client = await harness.bound(on_deliver=on_deliver, smpp_submit_timeout=5.0)
    [connection] = harness.smsc.bound()
    connection.send(make_deliver_sm("15551234567", "12345", b"YES"))
    await started.wait()
    stopping = asyncio.create_task(client.stop())
    await round_trip(harness.smsc, connection)  # answered while stopping; no unbind before it
    assert harness.smsc.count(C.UNBIND) == 0
    gate.set()
    await stopping
    received = harness.smsc.received
    assert received.index(C.DELIVER_SM_RESP) < received.index(C.UNBIND)
    assert harness.smsc.deliver_resps[0].command_status == S.ESME_ROK


async def test_split_bind_uses_two_connections(harness: Harness) -> None:
    delivered: list[Pdu] = []

    async def on_deliver(pdu: Pdu) -> int:
        delivered.append(pdu)
        return S.ESME_ROK

    client = await harness.bound(smpp_bind_mode="split", on_deliver=on_deliver)
    assert len(harness.smsc.bound(C.BIND_TRANSMITTER)) == 1
    [rx] = harness.smsc.bound(C.BIND_RECEIVER)
    assert (await client.submit(sm())).command_status == S.ESME_ROK
    rx.send(make_deliver_sm("15551234567", "12345", b"STOP"))
    await eventually(lambda: len(harness.smsc.deliver_resps) == 1)
    assert delivered[0].short_message == b"STOP" and client.connects == 2


# -- pacing and backoff (no network) ------------------------------------------------------


def test_token_bucket_spaces_evenly() -> None:
    bucket = TokenBucket(10.0, clock=lambda: 0.0)
    assert [round(bucket.reserve(0.0), 6) for _ in range(4)] == [0.0, 0.1, 0.2, 0.3]
    assert bucket.reserve(5.0) == 0.0  # idle time is not saved up into a burst
    assert bucket.reserve(5.0) == pytest.approx(0.1)
    unlimited = TokenBucket(0.0, clock=lambda: 0.0)
    assert {unlimited.reserve(0.0) for _ in range(100)} == {0.0}
    burst = TokenBucket(10.0, clock=lambda: 0.0, burst=3)
    assert [round(burst.reserve(1.0), 6) for _ in range(4)] == [0.0, 0.0, 0.0, 0.1]
    with pytest.raises(ValueError):
        TokenBucket(-1.0, clock=lambda: 0.0)


def test_backoff_grows_within_bounds() -> None:
    rng = random.Random(1)
    delays = [[backoff_delay(n, 0.5, 30.0, rng) for _ in range(50)] for n in range(12)]
    assert all(0.5 <= d <= 30.0 for row in delays for d in row)
    assert max(delays[0]) <= 0.5 * 2 and max(delays[-1]) > 10.0


# -- submit_soon: submit() without a task on the fast path -------------------------------


async def test_fast_path_shares_the_window_with_submit(harness: Harness) -> None:
    client = await harness.bound(smpp_window=2)
    harness.smsc.hold = True
    first = client.submit_soon(sm())
    assert not isinstance(first, asyncio.Task)  # sent at once, no task
    second = client.submit_soon(sm())
    third = asyncio.ensure_future(client.submit(sm()))
    fourth = client.submit_soon(sm())  # window full: submit() in a task
    assert isinstance(fourth, asyncio.Task)
    await eventually(lambda: len(harness.smsc.held) == 2)
    [connection] = harness.smsc.bound()
    await round_trip(harness.smsc, connection)
    assert len(harness.smsc.held) == 2 and client.window_in_use == 2
    harness.smsc.hold = False
    harness.smsc.release()
    results = await asyncio.gather(first, second, third, fourth)
    assert all(r.command_status == S.ESME_ROK for r in results)
    assert len(harness.smsc.submits) == 4 and client.window_in_use == 0


async def test_throttled_fast_submit_is_resent_like_submit(harness: Harness) -> None:
    client = await harness.bound()
    harness.smsc.submit_statuses = [S.ESME_RTHROTTLED, S.ESME_RMSGQFUL]
    resp = await client.submit_soon(sm())
    assert resp.command_status == S.ESME_ROK
    assert len(harness.smsc.submits) == 3 and client.resends == 2


async def test_fast_submit_rejected(harness: Harness) -> None:
    client = await harness.bound()
    harness.smsc.submit_statuses = [S.ESME_RINVDSTADR]
    with pytest.raises(SubmitRejected) as info:
        await client.submit_soon(sm())
    assert info.value.command_status == S.ESME_RINVDSTADR
    assert len(harness.smsc.submits) == 1 and client.window_in_use == 0


async def test_fast_submit_timeout_frees_the_window(harness: Harness) -> None:
    client = await harness.bound(smpp_submit_timeout=0.1)
    harness.smsc.hold = True
    with pytest.raises(SubmitTimeout):
        await client.submit_soon(sm())
    assert client.window_in_use == 0 and client.window_free == 4
    harness.smsc.release()
    harness.smsc.hold = False
    assert (await client.submit_soon(sm())).command_status == S.ESME_ROK


async def test_fast_submit_session_lost(harness: Harness) -> None:
    client = await harness.bound()
    harness.smsc.hold = True
    sent = client.submit_soon(sm())
    await eventually(lambda: len(harness.smsc.held) == 1)
    harness.smsc.drop()
    with pytest.raises(SessionLost):
        await sent
    assert client.window_in_use == 0


async def test_tps_cap_goes_through_submit(harness: Harness) -> None:
    client = await harness.bound(smpp_tps=200.0)
    sent = [client.submit_soon(sm()) for _ in range(4)]
    assert all(isinstance(s, asyncio.Task) for s in sent)
    assert len(await asyncio.gather(*sent)) == 4 and client.submits == 4


async def test_cancelled_caller_keeps_the_slot_until_the_resp(harness: Harness) -> None:
    client = await harness.bound(smpp_window=1)
    harness.smsc.hold = True
    sent = client.submit_soon(sm())
    await eventually(lambda: len(harness.smsc.held) == 1)
    sent.cancel()
    assert client.window_free == 0
    harness.smsc.hold = False
    harness.smsc.release()
    await eventually(lambda: client.window_free == 1)
    assert (await client.submit_soon(sm())).command_status == S.ESME_ROK
