"""The demo's phone simulator page: type as a supporter, see the gateway's replies.

It speaks the SMSC simulator's phone-port line protocol (gateway/smpp/chat.py,
the same as `gateway chat`): one TCP connection per web process, every
number typed on the page REGISTERed on it, MOs sent as `from<TAB>text<TAB>to`
(`to`: the short code chosen on the page, any the keywords file runs),
MTs arriving as `to<TAB>text<TAB>from` and kept per number (the last
`KEEP` of each) until the page polls for them.

Why off unless GATEWAY_WEB_PHONE_SIMULATOR names the phone port: in
production the SMSC is a carrier's and has no phone port; a page that
could inject texts as any number must not exist there. Disabled, every
route here answers 404.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any

from aiohttp import web

from gateway.logs import get_logger
from gateway.phone import InvalidNumber, to_e164
from gateway.plain_words import N_, reason, said
from gateway.smpp.chat import format_line, number_key, parse_line
from gateway.web.body import read_payload
from gateway.web.context import rules_in_force
from gateway.web.errors import ApiError, bad_request, not_found
from gateway.web.pages.frame import SITE, PageTable, View

log = get_logger(__name__)
pages = PageTable()

KEEP = 200  # messages kept per number
ACK_WAIT = 10.0  # seconds to wait for the gateway's deliver_sm_resp
MAX_TEXT = 1_000
DEFAULT_NUMBER = "+12125550100"
BRIDGE = "phone_bridge"


@dataclass(slots=True)
class PhoneMessage:
    id: int
    direction: str  # "out" (the supporter typed it) or "in" (the gateway's reply)
    text: str
    status: str  # out: "sending", then ESME_ROK or the refusal; in: the sender (short code)
    to: str = ""  # out: the short code texted


class PhoneBridge:
    """One line to the simulator's phone port, shared by every page of this process."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._ids = itertools.count(1)
        self._messages: dict[str, deque[PhoneMessage]] = {}
        self._acks: dict[str, deque[asyncio.Future[str]]] = {}
        self._writer: asyncio.StreamWriter | None = None
        self._reading: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    async def _connected(self) -> asyncio.StreamWriter:
        async with self._lock:
            if self._writer is None or self._writer.is_closing():
                try:
                    reader, writer = await asyncio.open_connection(self.host, self.port)
                except OSError as err:
                    raise ApiError(503, "simulator_unreachable",
                                   said(N_("cannot reach the SMSC simulator's phone port "
                                           "%(host)s:%(port)s: %(value)s"),
                                        host=self.host, port=self.port,
                                        value=err.strerror or err)) from None
                for key in self._messages:  # a new line knows none of our numbers yet
                    writer.write(format_line("REGISTER", "+" + key))
                self._writer = writer
                self._reading = asyncio.create_task(self._read(reader))
            return self._writer

    async def watch(self, number: str) -> None:
        """Show this number's incoming texts from now on."""
        key = number_key(number)
        if key not in self._messages:
            self._messages[key] = deque(maxlen=KEEP)
            writer = await self._connected()
            writer.write(format_line("REGISTER", number))
            await writer.drain()

    async def send(self, number: str, text: str, shortcode: str) -> PhoneMessage:
        """Text `shortcode` as `number`; returns once the gateway has the MO (or not)."""
        await self.watch(number)
        key = number_key(number)
        waiter: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        writer = await self._connected()
        # Listed before it is sent: a reply can beat the ack, and must show below it.
        message = PhoneMessage(next(self._ids), "out", text, "sending", shortcode)
        self._messages[key].append(message)
        self._acks.setdefault(key, deque()).append(waiter)
        writer.write(format_line(number, text, shortcode))
        await writer.drain()
        try:
            message.status = await asyncio.wait_for(asyncio.shield(waiter), ACK_WAIT)
        except TimeoutError:
            message.status = "no answer from the gateway yet"
        return message

    def messages(self, number: str, after: int = 0) -> list[PhoneMessage]:
        return [m for m in self._messages.get(number_key(number), ()) if m.id > after]

    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            while line := await reader.readline():
                fields = parse_line(line)
                if fields[0] == "#ack" and len(fields) == 3:
                    waiting = self._acks.get(number_key(fields[1]))
                    if waiting:
                        done = waiting.popleft()
                        if not done.done():
                            done.set_result(fields[2])
                elif fields[0] == "#error":
                    log.warning("phone_simulator_refused", reason=fields[-1])
                elif len(fields) >= 2 and number_key(fields[0]) in self._messages:
                    sender = fields[2] if len(fields) > 2 else "?"
                    self._messages[number_key(fields[0])].append(
                        PhoneMessage(next(self._ids), "in", fields[1], sender))
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            for waiting in self._acks.values():
                while waiting:
                    waiter = waiting.popleft()
                    if not waiter.done():
                        waiter.set_result("simulator closed the line")

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(ConnectionError):
                await self._writer.wait_closed()
        if self._reading is not None:
            self._reading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reading


def bridge_of(view: View) -> PhoneBridge:
    """The process's bridge; 404 when the setting is off (production)."""
    port = view.context.settings.web_phone_simulator
    if port is None:
        raise not_found(N_("the phone simulator (set GATEWAY_WEB_PHONE_SIMULATOR in a demo)"))
    extras = view.site.extras
    bridge = extras.get(BRIDGE)
    if not isinstance(bridge, PhoneBridge):
        bridge = extras[BRIDGE] = PhoneBridge(view.context.settings.smpp_host, port)
    return bridge


async def close_bridge(app: web.Application) -> None:
    bridge = app[SITE].extras.pop(BRIDGE, None)
    if isinstance(bridge, PhoneBridge):
        await bridge.close()


def _number(view: View, raw: str) -> str:
    try:
        return to_e164(raw or DEFAULT_NUMBER, default_region=view.context.settings.default_region)
    except InvalidNumber as err:
        raise bad_request(reason(err), field="number") from None


def _shortcodes(view: View) -> dict[str, str]:
    """Every short code the keywords file runs, with its programs' names, in file order."""
    rules = rules_in_force(view.context)
    return {code: ", ".join(p.name for p in found.programs)
            for code, found in rules.shortcodes.items()}


def _shortcode(view: View, raw: str) -> str:
    codes = _shortcodes(view)
    if not raw:
        default = view.context.settings.shortcode
        return default if default in codes or not codes else next(iter(codes))
    if raw not in codes:
        known = ", ".join(codes) or "none"
        raise bad_request(said(N_("%(raw)s is not a short code of the keywords file (known: "
                                  "%(known)s)"), raw=raw, known=known),
                          field="shortcode")
    return raw


@pages.get("/phone", name="page.phone")
async def phone_page(view: View) -> web.StreamResponse:
    bridge = bridge_of(view)
    number = _number(view, view.query("number"))
    await bridge.watch(number)
    return view.render("phone.html", title=N_("Phone simulator"), number=number,
                       shortcodes=_shortcodes(view),
                       shortcode=_shortcode(view, view.query("shortcode")),
                       messages=bridge.messages(number))


@pages.post("/phone/send", name="page.phone.send", json=True)
async def phone_send(view: View) -> web.StreamResponse:
    """A form post (no JavaScript: back to the page) or the page's fetch (JSON)."""
    bridge = bridge_of(view)
    if view.request.content_type == "application/json":
        payload, _ = await read_payload(view.request)
        raw_number, text = str(payload.get("number", "")), str(payload.get("text", ""))
        raw_code = str(payload.get("shortcode", ""))
    else:
        raw_number, text = view.field("number"), view.field("text")
        raw_code = view.field("shortcode")
    number = _number(view, raw_number)
    shortcode = _shortcode(view, raw_code)
    text = text.strip()
    if not text or len(text) > MAX_TEXT:
        raise bad_request(said(N_("type a text of 1 to %(max_text)s characters"),
                               max_text=MAX_TEXT), field="text")
    message = await bridge.send(number, text, shortcode)
    if view.request.content_type == "application/json":
        return web.json_response({"number": number, "message": asdict(message)})
    return view.redirect("/phone", number=number, shortcode=shortcode)


@pages.get("/phone/messages", name="page.phone.messages", json=True)
async def phone_messages(view: View) -> web.StreamResponse:
    bridge = bridge_of(view)
    number = _number(view, view.query("number"))
    try:
        after = int(view.query("after", "0") or 0)
    except ValueError:
        raise bad_request(N_("after is a message id (a whole number)"), field="after") from None
    await bridge.watch(number)
    found: list[dict[str, Any]] = [asdict(m) for m in bridge.messages(number, after)]
    return web.json_response({"number": number, "messages": found})
