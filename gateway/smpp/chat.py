"""`gateway chat`: a terminal phone, and the simulator's phone port it dials.

The simulator owns the SMSC socket the gateway binds to, so a phone cannot
be a second SMPP client; instead the simulator opens a small line protocol
("phone port", default SMSC port + 1). Both ends live here so the protocol
is defined in one place:

    phone -> simulator   REGISTER<TAB>number          receive MTs for number
                         from<TAB>text[<TAB>to]       send an MO (registers `from`)
    simulator -> phone   to<TAB>text<TAB>from         an MT, already reassembled
                         #ack<TAB>from<TAB>STATUS     the gateway's deliver_sm_resp
                         #error<TAB>reason            a line we could not use

Text fields escape backslash, tab and newline (\\\\, \\t, \\n) so one message is
one line whatever the supporter typed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TextIO

from gateway.cli_errors import port
from gateway.logs import get_logger
from gateway.smpp.constants import status_name

InjectMo = Callable[[str, str, str], Awaitable[int]]
_ESCAPES = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}
_UNESCAPES = {"\\": "\\", "t": "\t", "n": "\n", "r": "\r"}


def escape(text: str) -> str:
    return "".join(_ESCAPES.get(c, c) for c in text)


def unescape(text: str) -> str:
    out: list[str] = []
    chars = iter(text)
    for char in chars:
        out.append(_UNESCAPES.get(next(chars, "\\"), "\\") if char == "\\" else char)
    return "".join(out)


def format_line(*fields: str) -> bytes:
    return ("\t".join(escape(f) for f in fields) + "\n").encode("utf-8")


def parse_line(line: bytes) -> list[str]:
    return [unescape(f) for f in line.decode("utf-8", "replace").rstrip("\r\n").split("\t")]


def number_key(number: str) -> str:
    """'+15555550100' and '15555550100' are one phone: SMSCs differ on the '+'."""
    return number.strip().lstrip("+")


class PhoneServer:
    """The simulator's side of the phone port: lines in become MOs, MTs go out as lines."""

    def __init__(self, inject: InjectMo, *, shortcode: str, log: Any = None) -> None:
        self._inject = inject
        self.shortcode = shortcode
        self._log = log or get_logger("gateway.smsc.phone")
        self._server: asyncio.Server | None = None
        self._phones: dict[asyncio.StreamWriter, set[str]] = {}
        self._handlers: set[asyncio.Task[Any]] = set()
        self.port = 0

    async def start(self, host: str, port: int) -> None:
        self._server = await asyncio.start_server(self._handle, host, port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for writer in list(self._phones):
                writer.close()
            await asyncio.gather(*self._handlers, return_exceptions=True)
            await self._server.wait_closed()
            self._server = None

    def deliver(self, to: str, text: str, sender: str) -> int:
        """Show an MT on every phone registered for `to`; returns how many saw it."""
        line = format_line(to, text, sender)
        shown = 0
        for writer, numbers in self._phones.items():
            if number_key(to) in numbers and not writer.is_closing():
                writer.write(line)
                shown += 1
        return shown

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        numbers: set[str] = set()
        self._phones[writer] = numbers
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        try:
            while line := await reader.readline():
                fields = parse_line(line)
                if fields[0] == "REGISTER" and len(fields) == 2 and fields[1]:
                    numbers.add(number_key(fields[1]))
                elif len(fields) in (2, 3) and fields[0] and not fields[0].startswith("#"):
                    numbers.add(number_key(fields[0]))
                    to = fields[2] if len(fields) == 3 and fields[2] else self.shortcode
                    # Awaited in the read loop: one phone's texts reach the gateway in order.
                    status = await self._inject(fields[0], to, fields[1])
                    writer.write(format_line("#ack", fields[0], status_name(status)))
                else:
                    writer.write(format_line("#error", "expected from<TAB>text or REGISTER"))
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            del self._phones[writer]
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
            if task is not None:
                self._handlers.discard(task)


# -- the terminal phone -------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--number", default="+15555550100", help="this phone's number")
    parser.add_argument("--host", default="127.0.0.1", help="simulator host")
    parser.add_argument("--phone-port", type=port, default=2776, help="simulator phone port")
    parser.add_argument("--shortcode", default=None, help="send to this code (default: sim's)")
    parser.add_argument("--linger", type=float, default=2.0,
                        help="seconds to keep showing replies after input ends (piped input)")


async def _stdin_reader() -> asyncio.StreamReader:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader


async def _show_incoming(reader: asyncio.StreamReader, out: TextIO) -> None:
    while line := await reader.readline():
        fields = parse_line(line)
        if fields[0] == "#ack":
            if fields[-1] != "ESME_ROK":
                print(f"  (not delivered: {fields[-1]})", file=out, flush=True)
        elif fields[0] == "#error":
            print(f"  (simulator: {fields[-1]})", file=out, flush=True)
        elif len(fields) >= 2:
            sender = fields[2] if len(fields) > 2 else "?"
            print(f"[{sender}] {fields[1]}", file=out, flush=True)
    print("  (simulator closed the line)", file=out, flush=True)


async def main(
    args: argparse.Namespace,
    *,
    stdin: asyncio.StreamReader | None = None,
    out: TextIO = sys.stdout,
) -> int:
    """Read lines from the keyboard, send each as an MO, print replies as they come."""
    try:
        reader, writer = await asyncio.open_connection(args.host, args.phone_port)
    except OSError as err:
        print(f"cannot reach the simulator phone port {args.host}:{args.phone_port}: {err}; "
              "is `gateway smsc` running?", file=sys.stderr)
        return 1
    keyboard = stdin or await _stdin_reader()
    writer.write(format_line("REGISTER", args.number))
    incoming = asyncio.create_task(_show_incoming(reader, out))
    print(f"phone {args.number}: type a text and press enter; Ctrl-D quits", file=out, flush=True)
    try:
        while not incoming.done():
            typed = asyncio.create_task(keyboard.readline())
            await asyncio.wait({typed, incoming}, return_when=asyncio.FIRST_COMPLETED)
            if not typed.done():
                typed.cancel()
                break
            line = typed.result()
            if not line:
                # Input ended (Ctrl-D or a pipe): replies may still be on their way.
                await asyncio.wait({incoming}, timeout=args.linger)
                break
            text = line.decode("utf-8", "replace").rstrip("\r\n")
            if text:
                fields = [args.number, text] + ([args.shortcode] if args.shortcode else [])
                writer.write(format_line(*fields))
                await writer.drain()
    finally:
        incoming.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await incoming
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    return 0
