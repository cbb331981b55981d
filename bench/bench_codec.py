"""Codec micro-benchmark: decode+encode round trips per second, ours vs smpplib.

Why it exists: every MO, MT and delivery receipt crosses the codec twice, and
the project writes its own codec instead of using smpplib's. This prints the
numbers (JSON on stdout) that justify that choice for BENCHMARKS.md.

Run: python bench/bench_codec.py [--seconds 1.0]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from smpplib import smpp as smpplib_smpp

from gateway.smpp.constants import Tag
from gateway.smpp.pdu import Pdu, decode, encode, make_deliver_sm, make_submit_sm


class _SmpplibClient:
    sequence = 0

    def next_sequence(self) -> int:
        return 1


# name -> (smpplib command, fields as smpplib wants them, sequence, our equivalent Pdu)
_RECEIPT_TEXT = (
    b"id:0a1b2c3d sub:001 dlvrd:001 submit date:2401011200 done date:2401011201 "
    b"stat:DELIVRD err:000 text:Thanks for joini"
)
_CASES: dict[str, tuple[str, dict[str, Any], Pdu]] = {
    "submit_sm": (
        "submit_sm",
        {"source_addr": "12345", "destination_addr": "15551234567", "dest_addr_ton": 1,
         "dest_addr_npi": 1, "registered_delivery": 1,
         "short_message": b"Thanks for joining! Reply STOP to opt out."},
        make_submit_sm("12345", "15551234567", b"Thanks for joining! Reply STOP to opt out.",
                       sequence=7, dest_addr_ton=1, dest_addr_npi=1, registered_delivery=1),
    ),
    "deliver_sm": (
        "deliver_sm",
        {"source_addr": "15551234567", "destination_addr": "12345", "source_addr_ton": 1,
         "short_message": b"JOIN"},
        make_deliver_sm("15551234567", "12345", b"JOIN", sequence=7, source_addr_ton=1),
    ),
    "deliver_sm_receipt": (
        "deliver_sm",
        {"source_addr": "15551234567", "destination_addr": "12345", "esm_class": 4,
         "short_message": _RECEIPT_TEXT, "receipted_message_id": "0a1b2c3d", "message_state": 2},
        make_deliver_sm("15551234567", "12345", _RECEIPT_TEXT, sequence=7, esm_class=4,
                        tlvs={Tag.MESSAGE_STATE: b"\x02",  # smpplib's TLV order
                              Tag.RECEIPTED_MESSAGE_ID: b"0a1b2c3d\x00"}),
    ),
}


def _rate(step: Callable[[], object], seconds: float) -> float:
    """Calls per second, best of three runs of about `seconds` each."""
    best = 0.0
    for _ in range(3):
        count = 0
        start = time.perf_counter()
        deadline = start + seconds
        while True:
            for _ in range(200):
                step()
            count += 200
            now = time.perf_counter()
            if now >= deadline:
                break
        best = max(best, count / (now - start))
    return best


def _round_trip(decodes: float, encodes: float) -> int:
    return round(1.0 / (1.0 / decodes + 1.0 / encodes))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=1.0)
    args = parser.parse_args()
    client = _SmpplibClient()
    results: dict[str, Any] = {}
    for name, (command, fields, pdu) in _CASES.items():
        frame = encode(pdu)

        def smpplib_encode(command: str = command, fields: dict[str, Any] = fields) -> bytes:
            # smpplib cannot re-generate a PDU it parsed (strings come back as bytes),
            # so encoding is measured the way smpplib is used: build from fields.
            built = smpplib_smpp.make_pdu(command, client=client, **fields)
            built.sequence = 7
            return bytes(built.generate())

        def smpplib_decode(frame: bytes = frame) -> object:
            return smpplib_smpp.parse_pdu(frame, client=client)

        assert smpplib_encode() == frame, name
        assert decode(frame) == pdu, name
        ours_decode = _rate(lambda frame=frame: decode(frame), args.seconds)  # type: ignore[misc]
        ours_encode = _rate(lambda pdu=pdu: encode(pdu), args.seconds)  # type: ignore[misc]
        theirs_decode = _rate(smpplib_decode, args.seconds)
        theirs_encode = _rate(smpplib_encode, args.seconds)
        ours = _round_trip(ours_decode, ours_encode)
        theirs = _round_trip(theirs_decode, theirs_encode)
        results[name] = {
            "bytes": len(frame),
            "ours": {"decode_per_s": round(ours_decode), "encode_per_s": round(ours_encode),
                     "round_trip_per_s": ours},
            "smpplib": {"decode_per_s": round(theirs_decode),
                        "encode_per_s": round(theirs_encode), "round_trip_per_s": theirs},
            "round_trip_speedup": round(ours / theirs, 1),
        }
    print(json.dumps({
        "benchmark": "SMPP codec: decode, encode and decode+encode per second (best of 3)",
        "python": platform.python_version(),
        "machine": platform.machine(),
        "results": results,
    }, indent=2))


if __name__ == "__main__":
    main()
