"""`gateway smsc`: the simulator's command line (options, MO load on demand).

Why apart from the simulator: the tests and the benchmark build
`SmscSimulator` directly; only the terminal needs argument parsing and
printing, and the simulator module stays about the SMSC itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json

from gateway.cli_errors import port, port_or_off
from gateway.smpp.receipts import STATE_CODES
from gateway.smpp.simulator import Faults, SmscSimulator


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=port, default=2775)
    parser.add_argument("--system-id", default="gateway")
    parser.add_argument("--password", default="secret", help="must match GATEWAY_SMPP_PASSWORD")
    parser.add_argument("--receipt-delay", type=float, default=1.0, help="seconds")
    parser.add_argument("--shortcode", default="12345", help="destination of phone-port MOs")
    parser.add_argument("--phone-port", type=port_or_off, default=None,
                        help="default: --port + 1; -1: off")
    parser.add_argument("--drop-after", type=int, default=0, help="drop a connection on PDU N")
    parser.add_argument("--drop-times", type=int, default=None, help="drop only this often")
    parser.add_argument("--drop-on-mo-resp", type=int, default=0, metavar="N",
                        help="drop the connection on the Nth deliver_sm_resp to an MO, unread")
    parser.add_argument("--throttle-every", type=int, default=0)
    parser.add_argument("--slow-resp", type=float, default=0.0, help="seconds per submit_sm_resp")
    parser.add_argument("--malformed-every", type=int, default=0)
    parser.add_argument("--receipt-stat", default="DELIVRD", choices=sorted(STATE_CODES))
    parser.add_argument("--intermediate", action="store_true", help="ENROUTE before final")
    parser.add_argument("--inject", type=int, default=0, metavar="COUNT",
                        help="send COUNT MOs once a receiver binds")
    parser.add_argument("--numbers", type=int, default=100, help="distinct phones for --inject")
    parser.add_argument("--rate", type=float, default=None, help="MOs per second (default: max)")
    parser.add_argument("--window", type=int, default=50, help="unanswered MOs at most")
    parser.add_argument("--text", action="append", default=None, help="MO text (repeatable)")


def load_numbers(count: int) -> list[str]:
    """Fictional North American numbers (555 exchange): +15550000000, +15550000001..."""
    return [f"+1555{i:07d}" for i in range(count)]


def _phone_port(smsc_port: int, requested: int | None) -> int | None:
    """Default: the SMSC port + 1 (ephemeral with an ephemeral SMSC port); negative: off."""
    if requested is None:
        return smsc_port + 1 if smsc_port else 0
    return None if requested < 0 else requested


async def run_simulator(
    host: str, port: int, system_id: str, password: str, receipt_delay: float, *,
    faults: Faults | None = None, phone_port: int | None = None, shortcode: str = "12345",
    inject: int = 0, numbers: int = 100, rate: float | None = None, window: int = 50,
    texts: list[str] | None = None,
) -> None:
    """Serve until cancelled; with `inject`, send that MO load once a receiver binds."""
    simulator = SmscSimulator(
        host, port, credentials={system_id: password}, receipt_delay=receipt_delay,
        faults=faults, phone_port=_phone_port(port, phone_port), shortcode=shortcode,
    )
    await simulator.start()
    phone = simulator.phone.port if simulator.phone else "off"
    print(f"SMSC simulator on {host}:{simulator.port} (phone port {phone}); Ctrl-C stops",
          flush=True)
    try:
        if inject:
            await simulator.wait_for_receiver()
            stats = await simulator.inject_load(
                inject, load_numbers(numbers), rate=rate, window=window, texts=texts
            )
            print(json.dumps({"inject": stats.as_dict()}), flush=True)
        await asyncio.Event().wait()
    finally:
        await simulator.stop()


async def main(args: argparse.Namespace) -> int:
    faults = Faults(
        drop_after_pdus=args.drop_after, drop_times=args.drop_times,
        throttle_every=args.throttle_every, slow_resp=args.slow_resp,
        malformed_every=args.malformed_every, receipt_stat=args.receipt_stat,
        intermediate_receipts=args.intermediate, drop_on_mo_resp=args.drop_on_mo_resp,
    )
    await run_simulator(
        args.host, args.port, args.system_id, args.password, args.receipt_delay,
        faults=faults, phone_port=args.phone_port, shortcode=args.shortcode,
        inject=args.inject, numbers=args.numbers, rate=args.rate, window=args.window,
        texts=args.text,
    )
    return 0
