"""A tiny SMSC for the SMPP client's tests: our own sans-I/O session in the SMSC's role.

Why not the full simulator (gateway/smpp/simulator.py): these tests need to
hold, refuse or drop single PDUs at will and read every command id in the
order it arrived, which a faithful SMSC does not offer.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import SecretStr

from gateway.config import Settings
from gateway.smpp.client import EsmeClient
from gateway.smpp.constants import CommandId, CommandStatus
from gateway.smpp.pdu import Framer, Pdu, decode, response_for
from gateway.smpp.session import PduReceived, ResponseReceived, SmppSession

C = CommandId
S = CommandStatus


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.session = SmppSession("smsc")
        self.bind_id = 0

    def send(self, pdu: Pdu) -> None:
        self.writer.write(self.session.send(pdu))


class FakeSmsc:
    """Just enough SMSC: checks the password, answers submits as told, records everything."""

    def __init__(self, password: str = "pw") -> None:
        self.password = password
        self.connections: list[Connection] = []
        self.received: list[int] = []  # command ids, in arrival order, from every connection
        self.submits: list[Pdu] = []
        self.deliver_resps: list[Pdu] = []
        self.held: list[tuple[Connection, Pdu]] = []
        self.submit_statuses: list[int] = []  # answers for the next submits, then ESME_ROK
        self.hold = False  # keep submit_sm unanswered
        self.mute = False  # read and discard everything (a dead peer)
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port: int = self.server.sockets[0].getsockname()[1]
        return port

    async def close(self) -> None:
        self.drop()
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    def drop(self) -> None:
        for connection in self.connections:
            connection.writer.close()

    def bound(self, bind_id: int = C.BIND_TRANSCEIVER) -> list[Connection]:
        return [c for c in self.connections if c.session.bound and c.bind_id == bind_id]

    def count(self, command_id: int) -> int:
        return self.received.count(command_id)

    def release(self, status: int = S.ESME_ROK) -> None:
        for connection, pdu in self.held:
            connection.send(response_for(pdu, status, message_id=f"m{pdu.sequence}"))
        self.held.clear()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connection = Connection(reader, writer)
        self.connections.append(connection)
        framer = Framer()
        try:
            while data := await reader.read(65536):
                if self.mute:
                    continue
                self.received += [decode(f).command_id for f in framer.feed(data)]
                for event in connection.session.receive_data(data):
                    self._handle(connection, event)
                writer.write(connection.session.data_to_send())
        except (OSError, ValueError):
            pass
        finally:
            connection.session.connection_lost()
            writer.close()

    def _handle(self, connection: Connection, event: object) -> None:
        if isinstance(event, ResponseReceived) and event.request_command_id == C.DELIVER_SM:
            self.deliver_resps.append(event.pdu)
        if not isinstance(event, PduReceived):
            return
        pdu = event.pdu
        if pdu.command_id in (C.BIND_TRANSCEIVER, C.BIND_TRANSMITTER, C.BIND_RECEIVER):
            ok = pdu.get_str("password") == self.password
            connection.bind_id = pdu.command_id
            connection.send(response_for(pdu, S.ESME_ROK if ok else S.ESME_RINVPASWD,
                                         **({"system_id": "FAKE"} if ok else {})))
        elif pdu.command_id == C.SUBMIT_SM:
            self.submits.append(pdu)
            if self.hold:
                self.held.append((connection, pdu))
                return
            status = self.submit_statuses.pop(0) if self.submit_statuses else S.ESME_ROK
            connection.send(response_for(pdu, status, message_id=f"m{len(self.submits)}"))


async def eventually(predicate: Callable[[], bool], within: float = 5.0) -> None:
    """Polls: the conditions live in several objects and no one event covers them all."""
    async with asyncio.timeout(within):
        while not predicate():  # noqa: ASYNC110
            await asyncio.sleep(0.005)


def make_settings(port: int, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": "postgresql://test", "smpp_port": port, "smpp_system_id": "gw",
        "smpp_password": SecretStr("pw"), "smpp_window": 4, "smpp_submit_timeout": 2.0,
        "smpp_enquire_link_interval": 5.0, "smpp_reconnect_min": 0.01,
        "smpp_reconnect_max": 0.05, "smpp_bind_refused_delay": 0.05,
    }
    values.update(overrides)
    return Settings(**values)


async def accept_all(pdu: Pdu) -> int:
    return S.ESME_ROK


class Harness:
    def __init__(self) -> None:
        self.smsc = FakeSmsc()
        self.clients: list[tuple[EsmeClient, asyncio.Task[None]]] = []
        self.port = 0

    def start(
        self, on_deliver: Callable[[Pdu], Awaitable[int]] = accept_all, **overrides: Any
    ) -> EsmeClient:
        client = EsmeClient(make_settings(self.port, **overrides), on_deliver=on_deliver,
                            rng=random.Random(7))
        self.clients.append((client, asyncio.create_task(client.run())))
        return client

    async def bound(self, **overrides: Any) -> EsmeClient:
        client = self.start(**overrides)
        assert await client.wait_bound(5.0)
        return client


async def round_trip(smsc: FakeSmsc, connection: Connection) -> None:
    """Send the client an enquire_link and wait for its enquire_link_resp.

    The check for "the client sent nothing more", without a sleep: the client
    writes one connection in order, so whatever it had decided to send before
    it answered has arrived before its answer. A PDU still missing after the
    round trip is one it was holding back.
    """
    answered = smsc.count(C.ENQUIRE_LINK_RESP)
    connection.send(Pdu(C.ENQUIRE_LINK))
    await eventually(lambda: smsc.count(C.ENQUIRE_LINK_RESP) > answered)
