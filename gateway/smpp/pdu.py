"""SMPP 3.4 PDU codec: bytes <-> Pdu, strict, with no per-field objects.

Why our own codec instead of smpplib's: smpplib does not check
command_length, silently returns cut fields from truncated PDUs and raises
KeyError/TypeError on unexpected TLVs; it is also the hot path (every MO,
MT and receipt passes through it twice). smpplib stays the reference: the
tests cross-check round trips against it. Every decode failure raises
PduError carrying the command_status the session answers with.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from gateway.smpp.constants import (
    HEADER_LENGTH,
    INTERFACE_VERSION,
    MAX_COMMAND_LENGTH,
    MAX_SHORT_MESSAGE,
    RESPONSE_BIT,
    TLV_FIXED_LENGTH,
    CommandId,
    CommandStatus,
    command_name,
)
from gateway.smpp.errors import FramingError, PduError

_HEADER = struct.Struct(">IIII")
_TLV_HEADER = struct.Struct(">HH")
_OCTETS = [bytes((n,)) for n in range(256)]

# Field kinds in a body layout.
_CSTR = 0  # C-octet string; size = max length including the NUL
_INT8 = 1  # 1-octet integer
_SM = 2  # sm_length octet followed by short_message bytes

_Layout = tuple[tuple[str, int, int], ...]

_BIND: _Layout = (
    ("system_id", _CSTR, 16), ("password", _CSTR, 9), ("system_type", _CSTR, 13),
    ("interface_version", _INT8, 1), ("addr_ton", _INT8, 1), ("addr_npi", _INT8, 1),
    ("address_range", _CSTR, 41),
)
_BIND_RESP: _Layout = (("system_id", _CSTR, 16),)
_SM_BODY: _Layout = (
    ("service_type", _CSTR, 6), ("source_addr_ton", _INT8, 1), ("source_addr_npi", _INT8, 1),
    ("source_addr", _CSTR, 21), ("dest_addr_ton", _INT8, 1), ("dest_addr_npi", _INT8, 1),
    ("destination_addr", _CSTR, 21), ("esm_class", _INT8, 1), ("protocol_id", _INT8, 1),
    ("priority_flag", _INT8, 1), ("schedule_delivery_time", _CSTR, 17),
    ("validity_period", _CSTR, 17), ("registered_delivery", _INT8, 1),
    ("replace_if_present_flag", _INT8, 1), ("data_coding", _INT8, 1),
    ("sm_default_msg_id", _INT8, 1), ("short_message", _SM, MAX_SHORT_MESSAGE),
)
_DATA_SM: _Layout = (
    ("service_type", _CSTR, 6), ("source_addr_ton", _INT8, 1), ("source_addr_npi", _INT8, 1),
    ("source_addr", _CSTR, 65), ("dest_addr_ton", _INT8, 1), ("dest_addr_npi", _INT8, 1),
    ("destination_addr", _CSTR, 65), ("esm_class", _INT8, 1),
    ("registered_delivery", _INT8, 1), ("data_coding", _INT8, 1),
)
_MESSAGE_ID: _Layout = (("message_id", _CSTR, 65),)
_EMPTY: _Layout = ()

# command_id -> (mandatory layout, optional parameters allowed)
LAYOUTS: dict[int, tuple[_Layout, bool]] = {
    CommandId.GENERIC_NACK: (_EMPTY, False),
    CommandId.BIND_RECEIVER: (_BIND, False),
    CommandId.BIND_TRANSMITTER: (_BIND, False),
    CommandId.BIND_TRANSCEIVER: (_BIND, False),
    CommandId.BIND_RECEIVER_RESP: (_BIND_RESP, True),
    CommandId.BIND_TRANSMITTER_RESP: (_BIND_RESP, True),
    CommandId.BIND_TRANSCEIVER_RESP: (_BIND_RESP, True),
    CommandId.OUTBIND: ((("system_id", _CSTR, 16), ("password", _CSTR, 9)), False),
    CommandId.QUERY_SM: (
        (("message_id", _CSTR, 65), ("source_addr_ton", _INT8, 1),
         ("source_addr_npi", _INT8, 1), ("source_addr", _CSTR, 21)), False,
    ),
    CommandId.QUERY_SM_RESP: (
        (("message_id", _CSTR, 65), ("final_date", _CSTR, 17), ("message_state", _INT8, 1),
         ("error_code", _INT8, 1)), False,
    ),
    CommandId.SUBMIT_SM: (_SM_BODY, True),
    CommandId.SUBMIT_SM_RESP: (_MESSAGE_ID, True),
    CommandId.DELIVER_SM: (_SM_BODY, True),
    CommandId.DELIVER_SM_RESP: (_MESSAGE_ID, True),
    CommandId.DATA_SM: (_DATA_SM, True),
    CommandId.DATA_SM_RESP: (_MESSAGE_ID, True),
    CommandId.UNBIND: (_EMPTY, False),
    CommandId.UNBIND_RESP: (_EMPTY, False),
    CommandId.ENQUIRE_LINK: (_EMPTY, False),
    CommandId.ENQUIRE_LINK_RESP: (_EMPTY, False),
    CommandId.ALERT_NOTIFICATION: (
        (("source_addr_ton", _INT8, 1), ("source_addr_npi", _INT8, 1),
         ("source_addr", _CSTR, 65), ("esme_addr_ton", _INT8, 1), ("esme_addr_npi", _INT8, 1),
         ("esme_addr", _CSTR, 65)), True,
    ),
}

# A field too long is answered with its own status where SMPP names one.
_FIELD_STATUS: dict[str, int] = {
    "system_id": CommandStatus.ESME_RINVSYSID,
    "password": CommandStatus.ESME_RINVPASWD,
    "system_type": CommandStatus.ESME_RINVSYSTYP,
    "service_type": CommandStatus.ESME_RINVSERTYP,
    "source_addr": CommandStatus.ESME_RINVSRCADR,
    "destination_addr": CommandStatus.ESME_RINVDSTADR,
    "message_id": CommandStatus.ESME_RINVMSGID,
    "schedule_delivery_time": CommandStatus.ESME_RINVSCHED,
    "validity_period": CommandStatus.ESME_RINVEXPIRY,
    "short_message": CommandStatus.ESME_RINVMSGLEN,
}


@dataclass(slots=True)
class Pdu:
    """One SMPP PDU. `params` holds mandatory fields by SMPP name; `tlvs` raw optionals."""

    command_id: int
    command_status: int = 0
    sequence: int = 0
    params: dict[str, object] = field(default_factory=dict)
    tlvs: dict[int, bytes] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return command_name(self.command_id)

    @property
    def is_response(self) -> bool:
        return bool(self.command_id & RESPONSE_BIT)

    def get_str(self, name: str) -> str:
        """A C-octet string field; '' when absent (e.g. an error response without body)."""
        value = self.params.get(name, "")
        if not isinstance(value, str):
            raise TypeError(f"{self.name}.{name} is {type(value).__name__}, not str")
        return value

    def get_int(self, name: str) -> int:
        value = self.params.get(name, 0)
        if not isinstance(value, int):
            raise TypeError(f"{self.name}.{name} is {type(value).__name__}, not int")
        return value

    @property
    def short_message(self) -> bytes:
        value = self.params.get("short_message", b"")
        if not isinstance(value, bytes):
            raise TypeError(f"{self.name}.short_message is {type(value).__name__}, not bytes")
        return value

    def tlv_int(self, tag: int) -> int | None:
        """Big-endian integer value of a TLV, None when absent."""
        raw = self.tlvs.get(tag)
        return None if raw is None else int.from_bytes(raw, "big")

    def tlv_str(self, tag: int) -> str | None:
        """A C-octet string TLV (receipted_message_id...), tolerating a missing NUL."""
        raw = self.tlvs.get(tag)
        if raw is None:
            return None
        end = raw.find(b"\x00")
        return (raw if end < 0 else raw[:end]).decode("latin-1")


def decode(frame: bytes, *, max_length: int = MAX_COMMAND_LENGTH) -> Pdu:
    """Parse exactly one PDU; raise PduError on anything not strictly SMPP 3.4."""
    size = len(frame)
    if size < HEADER_LENGTH:
        raise PduError(CommandStatus.ESME_RINVCMDLEN, 0, 0, f"PDU of {size} bytes is too short")
    if not isinstance(frame, bytes):
        frame = bytes(frame)
    length, command_id, status, sequence = _HEADER.unpack_from(frame)
    if length != size or length > max_length:
        raise PduError(
            CommandStatus.ESME_RINVCMDLEN, sequence, command_id,
            f"command_length {length} does not match a frame of {size} bytes (max {max_length})",
        )
    spec = LAYOUTS.get(command_id)
    if spec is None:
        raise PduError(CommandStatus.ESME_RINVCMDID, sequence, command_id, "unknown command_id")
    layout, tlvs_allowed = spec
    params: dict[str, object] = {}
    pos = HEADER_LENGTH
    if pos == size and status and command_id & RESPONSE_BIT:
        # SMPP 3.4 lets an error response omit its body.
        return Pdu(command_id, status, sequence, params, {})
    for name, kind, limit in layout:
        if kind == _CSTR:
            end = frame.find(b"\x00", pos, pos + limit)
            if end < 0:
                if pos + limit <= size:
                    raise PduError(
                        _FIELD_STATUS.get(name, CommandStatus.ESME_RINVPARLEN), sequence,
                        command_id, f"{name} longer than {limit - 1} octets or not NUL-terminated",
                    )
                raise PduError(
                    CommandStatus.ESME_RINVCMDLEN, sequence, command_id, f"PDU ends inside {name}"
                )
            params[name] = frame[pos:end].decode("latin-1")
            pos = end + 1
        elif pos >= size:
            raise PduError(
                CommandStatus.ESME_RINVCMDLEN, sequence, command_id, f"PDU ends before {name}"
            )
        elif kind == _INT8:
            params[name] = frame[pos]
            pos += 1
        else:
            sm_length = frame[pos]
            end = pos + 1 + sm_length
            if sm_length > limit:
                raise PduError(
                    CommandStatus.ESME_RINVMSGLEN, sequence, command_id,
                    f"sm_length {sm_length} exceeds {limit}",
                )
            if end > size:
                raise PduError(
                    CommandStatus.ESME_RINVMSGLEN, sequence, command_id,
                    f"sm_length {sm_length} runs past the end of the PDU",
                )
            params[name] = frame[pos + 1 : end]
            pos = end
    tlvs: dict[int, bytes] = {}
    if pos < size:
        if not tlvs_allowed:
            raise PduError(
                CommandStatus.ESME_RINVCMDLEN, sequence, command_id,
                f"{size - pos} unexpected bytes after the body",
            )
        _decode_tlvs(frame, pos, tlvs, command_id, sequence)
    return Pdu(command_id, status, sequence, params, tlvs)


def _decode_tlvs(frame: bytes, pos: int, tlvs: dict[int, bytes], command_id: int, seq: int) -> None:
    size = len(frame)
    while pos < size:
        if pos + 4 > size:
            raise PduError(
                CommandStatus.ESME_RINVOPTPARSTREAM, seq, command_id,
                f"{size - pos} stray bytes where an optional parameter header should be",
            )
        tag, length = _TLV_HEADER.unpack_from(frame, pos)
        pos += 4
        end = pos + length
        if end > size:
            raise PduError(
                CommandStatus.ESME_RINVOPTPARSTREAM, seq, command_id,
                f"optional parameter 0x{tag:04x} of length {length} runs past the end of the PDU",
            )
        expected = TLV_FIXED_LENGTH.get(tag)
        if expected is not None and expected != length:
            raise PduError(
                CommandStatus.ESME_RINVPARLEN, seq, command_id,
                f"optional parameter 0x{tag:04x} has length {length}, expected {expected}",
            )
        if tag in tlvs:
            raise PduError(
                CommandStatus.ESME_RINVOPTPARSTREAM, seq, command_id,
                f"optional parameter 0x{tag:04x} appears twice",
            )
        tlvs[tag] = frame[pos:end]
        pos = end


def encode(pdu: Pdu) -> bytes:
    """Serialize a Pdu; missing mandatory fields take their zero value.

    Raises PduError for values that cannot go on the wire (too long, wrong
    type, unknown field name): these are bugs in the caller, never silently cut.
    """
    spec = LAYOUTS.get(pdu.command_id)
    if spec is None:
        raise PduError(CommandStatus.ESME_RINVCMDID, pdu.sequence, pdu.command_id, "unknown id")
    layout, tlvs_allowed = spec
    params = pdu.params
    parts: list[bytes] = []
    if params or not (pdu.command_status and pdu.command_id & RESPONSE_BIT):
        used = 0
        append = parts.append
        for name, kind, limit in layout:
            value = params.get(name)
            if value is None:
                append(b"\x00")
                continue
            used += 1
            # Fast paths for the usual types; anything else goes through the checks below.
            if kind == _CSTR:
                if type(value) is str and value.isascii() and len(value) < limit:
                    raw = value.encode("ascii")
                    if b"\x00" not in raw:
                        append(raw + b"\x00")
                        continue
            elif kind == _INT8:
                if type(value) is int and 0 <= value <= 0xFF:
                    append(_OCTETS[value])
                    continue
            elif type(value) is bytes and len(value) <= limit:
                append(_OCTETS[len(value)] + value)
                continue
            append(_encode_field(pdu, name, kind, limit, value))
        unknown = sorted(set(params) - {n for n, _, _ in layout}) if used != len(params) else []
        if unknown:
            raise PduError(
                CommandStatus.ESME_RSYSERR, pdu.sequence, pdu.command_id,
                f"fields {unknown} do not exist in {pdu.name}",
            )
    if pdu.tlvs:
        if not tlvs_allowed:
            raise PduError(
                CommandStatus.ESME_ROPTPARNOTALLWD, pdu.sequence, pdu.command_id,
                f"{pdu.name} takes no optional parameters",
            )
        for tag, raw in pdu.tlvs.items():
            if len(raw) > 0xFFFF or not 0 <= tag <= 0xFFFF:
                raise PduError(
                    CommandStatus.ESME_RINVPARLEN, pdu.sequence, pdu.command_id,
                    f"optional parameter 0x{tag:x} too long or tag out of range",
                )
            parts.append(_TLV_HEADER.pack(tag, len(raw)))
            parts.append(raw)
    body = b"".join(parts)
    try:
        header = _HEADER.pack(
            HEADER_LENGTH + len(body), pdu.command_id, pdu.command_status, pdu.sequence
        )
    except struct.error as err:
        raise PduError(
            CommandStatus.ESME_RSYSERR, 0, pdu.command_id, f"header out of range: {err}"
        ) from None
    return header + body


def _encode_field(pdu: Pdu, name: str, kind: int, limit: int, value: object) -> bytes:
    """The careful path for values the fast path in encode() did not take."""
    if kind == _CSTR:
        if isinstance(value, str):
            try:
                raw = value.encode("latin-1")
            except UnicodeEncodeError:
                raw = b"\x00"  # forces the error below
            if len(raw) < limit and b"\x00" not in raw:
                return raw + b"\x00"
        # The value itself stays out of the message: it may be a phone number.
        reason = f"{name} is not a str of at most {limit - 1} latin-1 octets without NUL"
    elif kind == _INT8:
        if isinstance(value, int) and 0 <= value <= 0xFF:
            return _OCTETS[value]
        reason = f"{name} is not an int 0..255"
    else:
        if isinstance(value, bytes | bytearray) and len(value) <= limit:
            return _OCTETS[len(value)] + value
        reason = f"{name} must be bytes of at most {limit} octets"
    raise PduError(
        _FIELD_STATUS.get(name, CommandStatus.ESME_RINVPARLEN), pdu.sequence, pdu.command_id, reason
    )


class Framer:
    """Splits a TCP byte stream into PDU frames by command_length.

    After a FramingError the stream has lost sync and cannot be recovered;
    every later feed() raises again and the caller must close the connection.
    """

    __slots__ = ("_broken", "_buffer", "max_length")

    def __init__(self, max_length: int = MAX_COMMAND_LENGTH) -> None:
        self.max_length = max_length
        self._buffer = bytearray()
        self._broken: FramingError | None = None

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    def feed(self, data: bytes) -> list[bytes]:
        if self._broken is not None:
            raise self._broken
        buffer = self._buffer
        buffer += data
        frames: list[bytes] = []
        pos = 0
        available = len(buffer)
        while available - pos >= 4:
            length = int.from_bytes(buffer[pos : pos + 4], "big")
            if length < HEADER_LENGTH or length > self.max_length:
                header = bytes(buffer[pos : pos + HEADER_LENGTH])
                command_id = int.from_bytes(header[4:8], "big") if len(header) >= 8 else 0
                sequence = int.from_bytes(header[12:16], "big") if len(header) >= 16 else 0
                del buffer[:]
                self._broken = FramingError(
                    CommandStatus.ESME_RINVCMDLEN, sequence, command_id,
                    f"command_length {length} outside {HEADER_LENGTH}..{self.max_length}",
                )
                self._broken.complete_frames = frames
                raise self._broken
            if available - pos < length:
                break
            frames.append(bytes(buffer[pos : pos + length]))
            pos += length
        if pos:
            del buffer[:pos]
        return frames


def next_sequence(previous: int) -> int:
    """Sequence numbers run 1..0x7FFFFFFF and wrap (SMPP 3.4 §5.1.4)."""
    return 1 if previous >= 0x7FFFFFFF else previous + 1


# -- constructors ------------------------------------------------------------


def make_bind(
    command_id: int, system_id: str, password: str, system_type: str = "", *,
    addr_ton: int = 0, addr_npi: int = 0, address_range: str = "", sequence: int = 0,
) -> Pdu:
    return Pdu(command_id, 0, sequence, {
        "system_id": system_id, "password": password, "system_type": system_type,
        "interface_version": INTERFACE_VERSION, "addr_ton": addr_ton, "addr_npi": addr_npi,
        "address_range": address_range,
    })


def _sm_params(
    source_addr: str, destination_addr: str, short_message: bytes, extra: dict[str, object]
) -> dict[str, object]:
    params: dict[str, object] = {
        "service_type": "", "source_addr_ton": 0, "source_addr_npi": 0,
        "source_addr": source_addr, "dest_addr_ton": 0, "dest_addr_npi": 0,
        "destination_addr": destination_addr, "esm_class": 0, "protocol_id": 0,
        "priority_flag": 0, "schedule_delivery_time": "", "validity_period": "",
        "registered_delivery": 0, "replace_if_present_flag": 0, "data_coding": 0,
        "sm_default_msg_id": 0, "short_message": short_message,
    }
    unknown = set(extra) - set(params)
    if unknown:
        raise TypeError(f"unknown submit_sm/deliver_sm fields: {sorted(unknown)}")
    params.update(extra)
    return params


def make_submit_sm(
    source_addr: str, destination_addr: str, short_message: bytes = b"", *,
    tlvs: dict[int, bytes] | None = None, sequence: int = 0, **fields: object,
) -> Pdu:
    """A submit_sm with every mandatory field set; `fields` overrides any of them."""
    params = _sm_params(source_addr, destination_addr, short_message, fields)
    return Pdu(CommandId.SUBMIT_SM, 0, sequence, params, dict(tlvs or {}))


def make_deliver_sm(
    source_addr: str, destination_addr: str, short_message: bytes = b"", *,
    tlvs: dict[int, bytes] | None = None, sequence: int = 0, **fields: object,
) -> Pdu:
    params = _sm_params(source_addr, destination_addr, short_message, fields)
    return Pdu(CommandId.DELIVER_SM, 0, sequence, params, dict(tlvs or {}))


def make_enquire_link(sequence: int = 0) -> Pdu:
    return Pdu(CommandId.ENQUIRE_LINK, 0, sequence)


def make_unbind(sequence: int = 0) -> Pdu:
    return Pdu(CommandId.UNBIND, 0, sequence)


def make_generic_nack(command_status: int, sequence: int) -> Pdu:
    return Pdu(CommandId.GENERIC_NACK, command_status, sequence)


def response_for(pdu: Pdu, status: int = CommandStatus.ESME_ROK, **params: object) -> Pdu:
    """The *_resp answering `pdu`, same sequence.

    With status ESME_ROK the mandatory fields default to empty; with an error
    status and no params the body is omitted, as SMPP 3.4 allows.
    """
    if pdu.command_id & RESPONSE_BIT:
        raise ValueError(f"{pdu.name} is a response; responses are not answered")
    command_id = pdu.command_id | RESPONSE_BIT
    if command_id not in LAYOUTS:
        raise ValueError(f"{pdu.name} has no response PDU")
    return Pdu(command_id, status, pdu.sequence, dict(params))


def tlv_int(value: int, size: int) -> bytes:
    """Encode an integer TLV value (helper for building `Pdu.tlvs`)."""
    return value.to_bytes(size, "big")
