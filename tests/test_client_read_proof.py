"""EsmeClient tells on_deliver's caller a deliver_sm_resp was read only once the SMSC proved it.

The proof is the SMSC's answer to a request written after the resp. Real TCP
against the small SMSC of tests/support/fake_smsc.py, taught here to close the
connection the moment it reads a deliver_sm_resp (the resp reached it, nothing
after it is answered).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from gateway.smpp.constants import CommandId, CommandStatus
from gateway.smpp.link import DeliverAnswer
from gateway.smpp.pdu import Pdu, make_deliver_sm
from gateway.smpp.session import ResponseReceived
from tests.support.fake_smsc import Connection, FakeSmsc, Harness, eventually

C = CommandId


class CuttingSmsc(FakeSmsc):
    """Closes a connection as soon as it reads a deliver_sm_resp, while `cut` is set."""

    cut = False

    def _handle(self, connection: Connection, event: object) -> None:
        super()._handle(connection, event)
        is_resp = (isinstance(event, ResponseReceived)
                   and event.request_command_id == C.DELIVER_SM)
        if self.cut and is_resp:
            connection.writer.close()


@pytest.fixture
async def cutting() -> AsyncIterator[Harness]:
    harness = Harness()
    harness.smsc = CuttingSmsc()
    harness.port = await harness.smsc.start()
    yield harness
    for client, task in harness.clients:
        await client.stop()
        async with asyncio.timeout(5):
            await task
    await harness.smsc.close()


async def test_a_resp_is_reported_read_after_the_smsc_answers_a_later_request(
    cutting: Harness,
) -> None:
    read: list[bytes] = []

    async def on_deliver(pdu: Pdu) -> DeliverAnswer:
        return DeliverAnswer(CommandStatus.ESME_ROK, lambda: read.append(pdu.short_message))

    await cutting.bound(on_deliver=on_deliver)
    [connection] = cutting.smsc.bound()
    connection.send(make_deliver_sm("15551234567", "12345", b"JOIN"))
    await eventually(lambda: read == [b"JOIN"])
    received = cutting.smsc.received
    # nothing else followed the resp, so the client asked with an enquire_link
    assert C.ENQUIRE_LINK in received[received.index(C.DELIVER_SM_RESP):]


async def test_a_resp_lost_with_its_connection_is_never_reported_read(
    cutting: Harness,
) -> None:
    read: list[bytes] = []

    async def on_deliver(pdu: Pdu) -> DeliverAnswer:
        return DeliverAnswer(CommandStatus.ESME_ROK, lambda: read.append(pdu.short_message))

    assert isinstance(cutting.smsc, CuttingSmsc)
    cutting.smsc.cut = True
    client = await cutting.bound(on_deliver=on_deliver)
    [first] = cutting.smsc.bound()
    first.send(make_deliver_sm("15551234567", "12345", b"CUT"))
    # the resp was written and reached the SMSC, which closed without answering more
    await eventually(lambda: len(cutting.smsc.deliver_resps) == 1
                     and len(cutting.smsc.connections) == 2 and client.bound)
    cutting.smsc.cut = False
    [second] = cutting.smsc.bound()
    second.send(make_deliver_sm("15551234567", "12345", b"KEPT"))
    await eventually(lambda: read == [b"KEPT"])
