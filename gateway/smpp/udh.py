"""Long MO reassembly: find the concatenation info, join parts, expire leftovers.

Pure. Two ways an SMSC marks a part: a User Data Header inside short_message
(esm_class UDHI bit) or the SAR TLVs. Bytes are joined *before* decoding, so a
UCS-2 character or GSM escape pair that the sender's SMSC cut across parts
still decodes whole.

The durable copy of parts lives in PostgreSQL (the pipeline's); `Reassembler`
is the in-memory version for the simulator, the chat phone and logic tests.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field

from gateway.smpp.constants import ESM_UDHI, Tag

IEI_CONCAT_8BIT = 0x00
IEI_CONCAT_16BIT = 0x08


class UdhError(ValueError):
    """The header or SAR TLVs cannot be parsed; answer the PDU with an error status.

    The receiver maps this to ESME_RINVMSGLEN-like statuses (its choice); the
    message text says which field was wrong so the SMSC operator can find it.
    """


@dataclass(frozen=True, slots=True)
class ConcatInfo:
    ref: int
    total: int
    seq: int  # 1-based


def _concat_from_udh(header: bytes) -> ConcatInfo | None:
    info: ConcatInfo | None = None
    pos = 0
    while pos < len(header):
        if pos + 2 > len(header):
            raise UdhError(f"UDH truncated: information element header at offset {pos}")
        iei, length = header[pos], header[pos + 1]
        data = header[pos + 2 : pos + 2 + length]
        if len(data) != length:
            raise UdhError(f"UDH truncated: element 0x{iei:02X} claims {length} octets")
        if iei == IEI_CONCAT_8BIT:
            if length != 3:
                raise UdhError(f"UDH concatenation element has length {length}, expected 3")
            info = ConcatInfo(data[0], data[1], data[2])
        elif iei == IEI_CONCAT_16BIT:
            if length != 4:
                raise UdhError(f"UDH 16-bit concatenation element has length {length}, expected 4")
            info = ConcatInfo(int.from_bytes(data[:2], "big"), data[2], data[3])
        pos += 2 + length
    return info


def _concat_from_sar(tlvs: Mapping[int, bytes]) -> ConcatInfo | None:
    fields = (Tag.SAR_MSG_REF_NUM, Tag.SAR_TOTAL_SEGMENTS, Tag.SAR_SEGMENT_SEQNUM)
    present = [tag in tlvs for tag in fields]
    if not any(present):
        return None
    if not all(present):
        raise UdhError("incomplete SAR TLVs: need sar_msg_ref_num, total_segments and seqnum")
    ref, total, seq = (tlvs[tag] for tag in fields)
    if (len(ref), len(total), len(seq)) != (2, 1, 1):
        raise UdhError("SAR TLV with wrong length (ref 2 octets, total and seqnum 1 each)")
    return ConcatInfo(int.from_bytes(ref, "big"), total[0], seq[0])


def parse_concat(
    esm_class: int, short_message: bytes, tlvs: Mapping[int, bytes]
) -> tuple[ConcatInfo | None, bytes]:
    """Return the concatenation info (None for a whole message) and the body without UDH.

    A message that says "part 1 of 1" is a whole message (None). A zero total,
    zero sequence or sequence past the total is a UdhError, not a part we
    would wait for forever.
    """
    payload = short_message
    if not payload and Tag.MESSAGE_PAYLOAD in tlvs:
        payload = tlvs[Tag.MESSAGE_PAYLOAD]
    info: ConcatInfo | None = None
    body = payload
    if esm_class & ESM_UDHI:
        if not payload:
            raise UdhError("UDHI set but the message is empty")
        header_len = payload[0]
        if header_len + 1 > len(payload):
            raise UdhError(f"UDH length {header_len} exceeds message length {len(payload) - 1}")
        info = _concat_from_udh(payload[1 : 1 + header_len])
        body = payload[1 + header_len :]
    if info is None:
        info = _concat_from_sar(tlvs)
    if info is None:
        return None, body
    if info.total == 0 or info.seq == 0 or info.seq > info.total:
        raise UdhError(f"invalid concatenation: part {info.seq} of {info.total}")
    if info.total == 1:
        return None, body
    return info, body


def assemble(parts: Mapping[int, bytes], total: int) -> bytes | None:
    """Join parts 1..total in order; None until every one is there."""
    if any(seq not in parts for seq in range(1, total + 1)):
        return None
    return b"".join(parts[seq] for seq in range(1, total + 1))


@dataclass(slots=True)
class PartialMessage:
    """What is left of a long message whose parts never all arrived."""

    key: Hashable
    ref: int
    total: int
    first_seen: float
    parts: dict[int, bytes] = field(default_factory=dict)


class Reassembler:
    """Collect parts per (key, ref, total); the caller's key names the sender.

    `now` is passed in (seconds, any monotonic origin) so tests need no clock.
    A timeout counts from the first part: a message cannot stay half-open
    forever by trickling parts.
    """

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._pending: dict[tuple[Hashable, int, int], PartialMessage] = {}

    def __len__(self) -> int:
        return len(self._pending)

    def add(self, key: Hashable, info: ConcatInfo, body: bytes, now: float) -> bytes | None:
        slot = (key, info.ref, info.total)
        partial = self._pending.get(slot)
        if partial is None:
            partial = PartialMessage(key, info.ref, info.total, now)
            self._pending[slot] = partial
        partial.parts.setdefault(info.seq, body)  # a duplicate keeps the first copy
        whole = assemble(partial.parts, info.total)
        if whole is not None:
            del self._pending[slot]
        return whole

    def expire(self, now: float) -> list[PartialMessage]:
        stale = [s for s, p in self._pending.items() if now - p.first_seen >= self.timeout]
        return [self._pending.pop(s) for s in stale]
