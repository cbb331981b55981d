from __future__ import annotations

import argparse
import asyncio
import io
import json
from collections.abc import AsyncIterator, Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.config import Settings, load_settings
from gateway.smpp import chat
from gateway.smpp import simulator as simulator_module
from gateway.smpp.client import EsmeClient
from gateway.smpp.constants import CommandId, CommandStatus, Tag
from gateway.smpp.pdu import Pdu, make_bind, make_enquire_link, make_submit_sm, make_unbind
from gateway.smpp.receipts import is_receipt, parse_receipt
from gateway.smpp.session import (
    BindRefused,
    Bound,
    Event,
    PduReceived,
    ProtocolViolation,
    ResponseReceived,
    SmppSession,
    Unbound,
)
from gateway.smpp.simulator import Faults, SmscSimulator
from gateway.smpp.simulator_cli import add_arguments, main
from gateway.smpp.udh import Reassembler, parse_concat
from gateway.smstext import decode, split

CREDENTIALS = {"gateway": "pw1"}
GUARD = 5.0  # seconds: a hung test fails instead of blocking the suite; not a timing assertion


class Esme:
    """A bare ESME over TCP on A's sans-I/O session: nothing hides what the simulator does."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.session = SmppSession("esme")
        self.reader, self.writer = reader, writer
        self.deliveries: asyncio.Queue[Pdu] = asyncio.Queue()
        self.violations: list[ProtocolViolation] = []
        self.auto_ack: int | None = None  # status to answer every deliver_sm with
        self.on_delivery: Callable[[Pdu], None] | None = None  # a scripted phone user
        self.tasks: list[asyncio.Task[Pdu]] = []
        self.answers: dict[int, asyncio.Future[Event]] = {}
        self.closed = asyncio.Event()
        self._task = asyncio.create_task(self._read())

    @classmethod
    async def connect(cls, port: int) -> Esme:
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    async def _read(self) -> None:
        try:
            while data := await self.reader.read(65536):
                events = self.session.receive_data(data)
                self.writer.write(self.session.data_to_send())
                for event in events:
                    self._on_event(event)
        except ConnectionError:
            pass
        finally:
            self.closed.set()

    def _on_event(self, event: Event) -> None:
        if isinstance(event, PduReceived):
            if self.on_delivery is not None:
                self.on_delivery(event.pdu)
            elif self.auto_ack is not None:
                self.ack(event.pdu, self.auto_ack)
            self.deliveries.put_nowait(event.pdu)
        elif isinstance(event, ProtocolViolation):
            self.violations.append(event)
        elif isinstance(event, ResponseReceived | Bound | BindRefused | Unbound):
            future = self.answers.pop(event.pdu.sequence, None)
            if future is not None:
                future.set_result(event)

    async def call(self, pdu: Pdu) -> Event:
        self.writer.write(self.session.send(pdu))
        future: asyncio.Future[Event] = asyncio.get_running_loop().create_future()
        self.answers[pdu.sequence] = future
        async with asyncio.timeout(GUARD):
            return await future

    async def bind(self, password: str = "pw1", *, kind: int = CommandId.BIND_TRANSCEIVER,
                   system_id: str = "gateway") -> Event:
        return await self.call(make_bind(kind, system_id, password))

    async def submit(self, pdu: Pdu) -> Pdu:
        event = await self.call(pdu)
        assert isinstance(event, ResponseReceived)
        return event.pdu

    def ack(self, pdu: Pdu, status: int = 0) -> None:
        resp = Pdu(CommandId.DELIVER_SM_RESP, status, pdu.sequence, {"message_id": ""})
        self.writer.write(self.session.send(resp))

    async def next_delivery(self) -> Pdu:
        async with asyncio.timeout(GUARD):
            return await self.deliveries.get()

    def reply(self, mo: Pdu, text: str) -> None:
        """Ack the MO and answer its sender, as the gateway would."""
        self.ack(mo)
        mt = make_submit_sm("12345", "+" + mo.get_str("source_addr"), text.encode())
        self.tasks.append(asyncio.create_task(self.submit(mt)))

    async def close(self) -> None:
        await asyncio.gather(*self.tasks)
        self.writer.close()
        self._task.cancel()
        await asyncio.gather(self._task, self.writer.wait_closed(), return_exceptions=True)


@pytest.fixture
async def sim() -> AsyncIterator[SmscSimulator]:
    simulator = SmscSimulator("127.0.0.1", 0, credentials=CREDENTIALS, receipt_delay=0.01,
                              phone_port=0)
    await simulator.start()
    yield simulator
    await simulator.stop()


@pytest.fixture
async def esme(sim: SmscSimulator) -> AsyncIterator[Esme]:
    client = await Esme.connect(sim.port)
    assert isinstance(await client.bind(), Bound)
    yield client
    await client.close()


def sms(destination: str, text: str, *, registered: int = 1, ref: int = 1) -> list[Pdu]:
    result = split(text, ref)
    return [
        make_submit_sm("12345", destination, part, esm_class=result.esm_class,
                       data_coding=result.data_coding, registered_delivery=registered)
        for part in result.parts
    ]


# --- binds -------------------------------------------------------------------


@pytest.mark.parametrize(("system_id", "password", "status"), [
    ("gateway", "wrong", CommandStatus.ESME_RINVPASWD),
    ("nobody", "pw1", CommandStatus.ESME_RINVSYSID),
])
async def test_bad_credentials_refused(
    sim: SmscSimulator, system_id: str, password: str, status: int
) -> None:
    client = await Esme.connect(sim.port)
    event = await client.bind(password, system_id=system_id)
    assert isinstance(event, BindRefused) and event.status == status
    assert isinstance(await client.bind(), Bound)  # still open: the ESME may retry
    await client.close()


async def test_enquire_link_and_unbind_answered(sim: SmscSimulator, esme: Esme) -> None:
    assert isinstance(await esme.call(make_enquire_link()), ResponseReceived)
    event = await esme.call(make_unbind())
    assert isinstance(event, Unbound) and not event.by_peer
    async with asyncio.timeout(GUARD):
        await esme.closed.wait()


# --- submit_sm and receipts ----------------------------------------------------


async def test_submit_gets_unique_hex_id_then_receipt(sim: SmscSimulator, esme: Esme) -> None:
    first = await esme.submit(sms("+15550000001", "Merci !")[0])
    second = await esme.submit(sms("+15550000001", "Encore")[0])
    ids = [first.get_str("message_id"), second.get_str("message_id")]
    assert ids[0] != ids[1] and all(int(i, 16) >= 0 for i in ids)

    receipts = [await esme.next_delivery(), await esme.next_delivery()]
    for delivery in receipts:
        esme.ack(delivery)
        assert is_receipt(delivery.get_int("esm_class"))
        parsed = parse_receipt(delivery.get_int("esm_class"), delivery.short_message, {})
        assert parsed.stat == "DELIVRD" and parsed.final
        assert delivery.tlv_str(Tag.RECEIPTED_MESSAGE_ID) == parsed.message_id
        assert delivery.get_str("source_addr") == "+15550000001"
    receipted = [parse_receipt(4, d.short_message, d.tlvs).message_id for d in receipts]
    assert sorted(receipted) == sorted(ids)
    assert [r.text for r in sim.submitted] == ["Merci !", "Encore"]
    assert sim.destination_counts()["+15550000001"] == 2


async def test_receipts_pending_until_answered_or_given_up(
    sim: SmscSimulator, esme: Esme, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The benchmark waits for receipts_pending to reach 0: an answered receipt and one
    given up after its last error answer both settle; one not yet answered does not."""
    monkeypatch.setattr(simulator_module, "_RECEIPT_RETRY_DELAY", 0.01)
    monkeypatch.setattr(simulator_module, "_RECEIPT_MAX_ATTEMPTS", 2)
    await esme.submit(sms("+15550000003", "answered")[0])
    await esme.submit(sms("+15550000003", "refused")[0])
    assert sim.receipts_scheduled == 2
    first = await esme.next_delivery()
    second = await esme.next_delivery()
    answered, refused = sorted((first, second), key=lambda d: b"refused" in d.short_message)
    assert sim.receipts_pending == 2
    esme.ack(answered)
    esme.ack(refused, CommandStatus.ESME_RX_T_APPN)
    again = await esme.next_delivery()  # the same receipt, tried once more
    assert again.short_message == refused.short_message
    assert sim.receipts_pending == 1 and sim.receipts_acked == 1
    esme.ack(again, CommandStatus.ESME_RX_T_APPN)
    async with asyncio.timeout(GUARD):
        await sim.wait_until(lambda: sim.receipts_pending == 0)
    assert (sim.receipts_acked, sim.receipts_abandoned) == (1, 1)


async def test_no_receipt_unless_asked(sim: SmscSimulator, esme: Esme) -> None:
    await esme.submit(sms("+15550000002", "no receipt", registered=0)[0])
    await esme.submit(sms("+15550000002", "failure only", registered=2)[0])
    await esme.submit(sms("+15550000002", "marker", registered=1)[0])
    delivery = await esme.next_delivery()
    assert b"text:marker" in delivery.short_message
    assert esme.deliveries.empty()


async def test_long_submit_is_reassembled_into_one_record(sim: SmscSimulator, esme: Esme) -> None:
    text = "Bonjour Hélène, votre don de 10 € compte. Merci 😀 " * 4
    parts = sms("+33612345678", text, registered=0, ref=200)
    assert len(parts) >= 3
    for part in reversed(parts):
        await esme.submit(part)
    record = sim.submitted[-1]
    assert (record.text, record.segments, len(record.message_ids)) == (text, len(parts), len(parts))
    assert sim.texts_to("33612345678") == [text]


async def test_intermediate_then_final_failure_receipt(sim: SmscSimulator, esme: Esme) -> None:
    sim.faults = Faults(receipt_stat="UNDELIV", intermediate_receipts=True)
    await esme.submit(sms("+15550000003", "hello")[0])
    first, second = await esme.next_delivery(), await esme.next_delivery()
    receipts = [
        parse_receipt(d.get_int("esm_class"), d.short_message, d.tlvs) for d in (first, second)
    ]
    assert [(r.stat, r.intermediate, r.final) for r in receipts] == [
        ("ENROUTE", True, False), ("UNDELIV", False, True),
    ]


async def test_throttle_every_second_submit(sim: SmscSimulator, esme: Esme) -> None:
    sim.faults = Faults(throttle_every=2)
    statuses = [(await esme.submit(p)).command_status
                for p in sms("+1", "a", registered=0) + sms("+1", "b", registered=0)]
    assert statuses == [0, CommandStatus.ESME_RTHROTTLED]
    assert [r.text for r in sim.submitted] == ["a"]


async def test_drop_after_closes_without_accepting(sim: SmscSimulator) -> None:
    sim.faults = Faults(drop_after_pdus=3, drop_times=1)  # bind, submit, then drop on submit 2
    client = await Esme.connect(sim.port)
    await client.bind()
    await client.submit(sms("+15550000004", "kept", registered=0)[0])
    client.writer.write(client.session.send(sms("+15550000004", "lost", registered=0)[0]))
    async with asyncio.timeout(GUARD):
        await client.closed.wait()
    assert [r.text for r in sim.submitted] == ["kept"]
    assert sim.drops == 1

    again = await Esme.connect(sim.port)  # drop_times=1: the next connection lives
    await again.bind()
    await again.submit(sms("+15550000004", "lost", registered=0)[0])
    assert [r.text for r in sim.submitted] == ["kept", "lost"]
    assert sim.duplicates() == {}
    await again.close()
    await client.close()


async def test_split_binds_send_receipts_to_receiver(sim: SmscSimulator) -> None:
    tx, rx = await Esme.connect(sim.port), await Esme.connect(sim.port)
    await tx.bind(kind=CommandId.BIND_TRANSMITTER)
    await rx.bind(kind=CommandId.BIND_RECEIVER)
    await tx.submit(sms("+15550000005", "split")[0])
    assert is_receipt((await rx.next_delivery()).get_int("esm_class"))
    assert tx.deliveries.empty()
    await tx.close()
    await rx.close()


# --- MO injection ------------------------------------------------------------------


async def test_inject_mo_returns_the_esme_status(sim: SmscSimulator, esme: Esme) -> None:
    task = asyncio.create_task(sim.inject_mo("+15550000006", "12345", "JOIN"))
    delivery = await esme.next_delivery()
    assert (delivery.get_str("source_addr"), delivery.get_int("source_addr_ton")) == (
        "15550000006", 1,
    )
    assert decode(delivery.short_message, delivery.get_int("data_coding")) == "JOIN"
    esme.ack(delivery, CommandStatus.ESME_RX_T_APPN)
    async with asyncio.timeout(GUARD):
        assert await task == CommandStatus.ESME_RX_T_APPN
    assert sim.mos[-1].status == CommandStatus.ESME_RX_T_APPN and sim.mos[-1].acked_at


async def test_long_mo_arrives_in_parts_the_client_can_reassemble(
    sim: SmscSimulator, esme: Esme
) -> None:
    text = "Je veux aider : où puis-je m'inscrire ? Ça m'intéresse 🙂 " * 4
    esme.auto_ack = 0
    task = asyncio.create_task(sim.inject_mo("+33612345678", "12345", text))
    reassembler, whole = Reassembler(timeout=60), None
    while whole is None:
        delivery = await esme.next_delivery()
        info, body = parse_concat(delivery.get_int("esm_class"), delivery.short_message, {})
        assert info is not None
        whole = reassembler.add("k", info, body, now=0)
    assert decode(whole, 8) == text
    assert await task == 0


async def test_unacked_mo_is_redelivered_after_disconnect(sim: SmscSimulator) -> None:
    first = await Esme.connect(sim.port)
    await first.bind()
    task = asyncio.create_task(sim.inject_mo("+15550000007", "12345", "STOP"))
    await first.next_delivery()
    await first.close()  # never answered

    second = await Esme.connect(sim.port)
    await second.bind()
    redelivered = await second.next_delivery()
    assert redelivered.short_message == b"STOP"
    second.ack(redelivered)
    async with asyncio.timeout(GUARD):
        assert await task == 0
    assert sim.redeliveries == 1
    await second.close()


async def test_malformed_pdu_precedes_mo(sim: SmscSimulator, esme: Esme) -> None:
    sim.faults = Faults(malformed_every=1)
    esme.auto_ack = 0
    async with asyncio.timeout(GUARD):
        assert await sim.inject_mo("+15550000008", "12345", "HELP") == 0
    assert len(esme.violations) == 1  # our session saw the garbage and answered it
    assert (await esme.next_delivery()).short_message == b"HELP"


async def test_load_with_window_and_reply_latency(sim: SmscSimulator, esme: Esme) -> None:
    numbers = ["+15550000010", "+15550000011", "+15550000012"]
    esme.on_delivery = lambda mo: esme.reply(mo, "Welcome")
    async with asyncio.timeout(GUARD):
        stats = await sim.inject_load(30, numbers, window=4, texts=["JOIN", "YES"])
        await sim.wait_for_submits(30)
    assert stats.acked == 30 and stats.count == 30
    assert len(stats.ack_latencies) == 30
    assert sim.destination_counts() == {n: 10 for n in numbers}
    assert len(sim.reply_latencies) == 30


async def test_mo_waits_for_a_receiver_to_bind(sim: SmscSimulator) -> None:
    task = asyncio.create_task(sim.inject_mo("+15550000009", "12345", "late"))
    await asyncio.sleep(0)
    assert not task.done()
    client = await Esme.connect(sim.port)
    client.auto_ack = 0
    await client.bind(kind=CommandId.BIND_RECEIVER)
    async with asyncio.timeout(GUARD):
        assert await task == 0
    await client.close()


# --- phone port and chat ---------------------------------------------------------------


async def test_phone_port_round_trip(sim: SmscSimulator, esme: Esme) -> None:
    assert sim.phone is not None
    reader, writer = await asyncio.open_connection("127.0.0.1", sim.phone.port)
    writer.write(chat.format_line("+15550000020", "JOIN\tnow"))
    delivery = await esme.next_delivery()
    assert decode(delivery.short_message, delivery.get_int("data_coding")) == "JOIN\tnow"
    esme.ack(delivery)
    async with asyncio.timeout(GUARD):
        assert chat.parse_line(await reader.readline()) == ["#ack", "+15550000020", "ESME_ROK"]
    long_reply = "Bienvenue ! Répondez avec votre code postal. " * 5
    for part in sms("15550000020", long_reply, registered=0):
        await esme.submit(part)
    async with asyncio.timeout(GUARD):
        line = chat.parse_line(await reader.readline())
    assert line == ["15550000020", long_reply, "12345"]
    writer.close()
    await writer.wait_closed()


class Screen(io.StringIO):
    """The chat's stdout; tells the test when a line shows up."""

    def __init__(self) -> None:
        super().__init__()
        self.changed = asyncio.Event()

    def write(self, text: str) -> int:
        self.changed.set()
        return super().write(text)

    async def wait_for(self, needle: str) -> None:
        async with asyncio.timeout(GUARD):
            while needle not in self.getvalue():
                self.changed.clear()
                await self.changed.wait()


async def test_chat_main_sends_typed_lines_and_prints_replies(
    sim: SmscSimulator, esme: Esme
) -> None:
    assert sim.phone is not None
    esme.on_delivery = lambda mo: esme.reply(mo, "You said " + mo.short_message.decode())
    keyboard, screen = asyncio.StreamReader(), Screen()
    parser = argparse.ArgumentParser()
    chat.add_arguments(parser)
    args = parser.parse_args(["--phone-port", str(sim.phone.port), "--linger", "0"])
    phone = asyncio.create_task(chat.main(args, stdin=keyboard, out=screen))
    keyboard.feed_data(b"hi there\n")
    await screen.wait_for("[12345] You said hi there")
    keyboard.feed_eof()
    async with asyncio.timeout(GUARD):
        assert await phone == 0


async def test_chat_reports_unreachable_simulator() -> None:
    parser = argparse.ArgumentParser()
    chat.add_arguments(parser)
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    args = parser.parse_args(["--phone-port", str(port)])
    assert await chat.main(args, stdin=asyncio.StreamReader(), out=io.StringIO()) == 1


@pytest.mark.parametrize("text", ["plain", "tab\there", "new\nline", "back\\slash", "", "\\"])
def test_line_escaping_round_trips(text: str) -> None:
    assert chat.parse_line(chat.format_line("a", text)) == ["a", text]


# --- with A's EsmeClient -----------------------------------------------------------


def client_settings(port: int, password: str) -> Settings:
    return load_settings(
        {}, database_url="postgresql://127.0.0.1/unused", smpp_port=port,
        smpp_system_id="gateway", smpp_password=password,
        smpp_reconnect_min=0.05, smpp_reconnect_max=0.1,
    )


async def test_esme_client_binds_submits_and_receives(sim: SmscSimulator) -> None:
    received: asyncio.Queue[Pdu] = asyncio.Queue()

    async def on_deliver(pdu: Pdu) -> int:
        received.put_nowait(pdu)
        return 0

    client = EsmeClient(client_settings(sim.port, "pw1"), on_deliver=on_deliver)
    runner = asyncio.create_task(client.run())
    try:
        assert await client.wait_bound(GUARD)
        resp = await client.submit(sms("+15550000030", "Thanks for joining")[0])
        async with asyncio.timeout(GUARD):
            receipt = await received.get()
            assert await sim.inject_mo("+15550000030", "12345", "STOP") == 0
            mo = await received.get()
        parsed = parse_receipt(receipt.get_int("esm_class"), receipt.short_message, receipt.tlvs)
        assert parsed.message_id == resp.get_str("message_id")
        assert mo.short_message == b"STOP"
    finally:
        await client.stop()
        await runner


async def test_esme_client_with_wrong_password_stays_unbound(sim: SmscSimulator) -> None:
    async def on_deliver(pdu: Pdu) -> int:
        return 0

    client = EsmeClient(client_settings(sim.port, "nope"), on_deliver=on_deliver)
    runner = asyncio.create_task(client.run())
    try:
        assert not await client.wait_bound(0.3)
        assert sim.bound_sessions == 0
    finally:
        await client.stop()
        await runner


@given(st.lists(st.text(), min_size=1, max_size=4))
def test_any_fields_survive_the_line_protocol(fields: list[str]) -> None:
    assert chat.parse_line(chat.format_line(*fields)) == fields


async def test_cli_main_serves_and_injects_once_a_client_binds(
    capsys: pytest.CaptureFixture[str],
) -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--port", "0", "--password", "pw1", "--phone-port", "-1",
                              "--inject", "3", "--numbers", "2", "--text", "HELP"])
    server = asyncio.create_task(main(args))
    output = ""
    async with asyncio.timeout(GUARD):
        while "SMSC simulator on" not in output:
            await asyncio.sleep(0.01)
            output += capsys.readouterr().out
    port = int(output.split("127.0.0.1:")[1].split()[0])
    client = await Esme.connect(port)
    client.auto_ack = 0
    await client.bind()
    async with asyncio.timeout(GUARD):
        while '"inject"' not in output:
            await asyncio.sleep(0.01)
            output += capsys.readouterr().out
    stats = json.loads(output[output.index('{"inject"'):].splitlines()[0])["inject"]
    assert (stats["count"], stats["acked"]) == (3, 3)
    assert [(await client.next_delivery()).short_message for _ in range(3)] == [b"HELP"] * 3
    server.cancel()
    await asyncio.gather(server, return_exceptions=True)
    await client.close()
