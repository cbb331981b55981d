"""Message text: GSM 03.38 / UCS-2 choice, encoding, decoding and splitting.

Pure functions, no I/O. The wire form is the one SMPP uses: with
data_coding 0 the SMSC receives *unpacked* septets, one per octet (it packs
them for the air interface); with data_coding 8 it receives UTF-16-BE.

Alphabet source: smpplib's `GSM_CHARACTER_TABLE`, because its extension
half (^ { } \\ [ ~ ] | €) and 127 of its 128 basic positions are right, and
one shared table beats a second hand-typed one. It is wrong in two ways we
correct here rather than copy:
  * it pads unused positions with '`', and '`' also sits at 0x5F, where
    GSM 03.38 has '§'. Taken as is, '`' would be "encodable" (phones would
    show '§') and '§' would force UCS-2. We drop every filler and put '§'
    at 0x5F.
  * it lists ESC (0x1B) as a character; a text containing U+001B is not
    GSM-encodable, the escape is only ever the prefix of an extension pair.
Its `make_parts` is not used: it cuts escape pairs and surrogate pairs in
half across parts (see tests/test_text.py).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from smpplib.gsm import GSM_CHARACTER_TABLE

from gateway.plain_words import N_, said

# The three wire values this module needs, stated here so the pure engine can
# count segments without importing the SMPP layer (tests/test_layers.py).
DATA_CODING_GSM7 = 0x00  # SMSC default alphabet
DATA_CODING_UCS2 = 0x08
ESM_UDHI = 0x40  # short_message starts with a User Data Header

Encoding = Literal["gsm7", "ucs2"]

GSM_SINGLE_LIMIT = 160  # septets
GSM_PART_LIMIT = 153  # septets left after the 6-octet UDH (7 septets with fill)
UCS2_SINGLE_LIMIT = 140  # octets
UCS2_PART_LIMIT = 134  # octets: 140 minus the 6-octet UDH, 67 UTF-16 units
MAX_PARTS = 255  # the 8-bit "total" field of the concatenation IE

_ESCAPE = 0x1B
_FILLER = "`"
_REPLACEMENT = "\ufffd"


def _build_tables() -> tuple[dict[str, int], dict[str, int], dict[int, str], dict[int, str]]:
    basic = {c: i for i, c in enumerate(GSM_CHARACTER_TABLE[:128]) if c != _FILLER}
    del basic["\x1b"]
    basic["§"] = 0x5F
    extension = {
        c: i for i, c in enumerate(GSM_CHARACTER_TABLE[128:]) if c != _FILLER
    }
    return (
        basic,
        extension,
        {i: c for c, i in basic.items()},
        {i: c for c, i in extension.items()},
    )


GSM_BASIC, GSM_EXTENSION, _GSM_BASIC_BY_CODE, _GSM_EXTENSION_BY_CODE = _build_tables()


class TextTooLong(ValueError):
    """More than 255 parts: the concatenation header cannot number them."""


@dataclass(frozen=True, slots=True)
class SplitResult:
    encoding: Encoding
    data_coding: int
    parts: list[bytes]  # each a ready short_message (UDH included when segments > 1)
    segments: int

    @property
    def esm_class(self) -> int:
        """UDHI set when the parts carry a concatenation header."""
        return ESM_UDHI if self.segments > 1 else 0


def is_gsm7(char: str) -> bool:
    return char in GSM_BASIC or char in GSM_EXTENSION


def choose_encoding(text: str) -> Encoding:
    return "gsm7" if all(is_gsm7(c) for c in text) else "ucs2"


def data_coding_for(encoding: Encoding) -> int:
    return DATA_CODING_GSM7 if encoding == "gsm7" else DATA_CODING_UCS2


def _without_lone_surrogates(text: str) -> str:
    """A lone surrogate in a Python str cannot go on the wire; U+FFFD can."""
    return text.encode("utf-16-be", "surrogatepass").decode("utf-16-be", "replace")


def _char_units(text: str, encoding: Encoding) -> Iterator[bytes]:
    """Yield each character's encoded bytes: the unit a split must not cut."""
    for char in text:
        if encoding == "ucs2":
            yield char.encode("utf-16-be")
        elif char in GSM_BASIC:
            yield bytes((GSM_BASIC[char],))
        elif char in GSM_EXTENSION:
            yield bytes((_ESCAPE, GSM_EXTENSION[char]))
        else:
            raise ValueError(f"character {char!r} is not in the GSM 03.38 alphabet; use 'ucs2'")


def encode(text: str, encoding: Encoding) -> bytes:
    if encoding == "ucs2":
        text = _without_lone_surrogates(text)
    return b"".join(_char_units(text, encoding))


def _decode_gsm_unpacked(data: bytes) -> str:
    out: list[str] = []
    escaped = False
    for byte in data:
        if escaped:
            escaped = False
            # 23.038: an unknown extension code shows the basic-table character.
            char = _GSM_EXTENSION_BY_CODE.get(byte) or _GSM_BASIC_BY_CODE.get(byte)
            out.append(char or _REPLACEMENT)
        elif byte == _ESCAPE:
            escaped = True
        else:
            out.append(_GSM_BASIC_BY_CODE.get(byte, _REPLACEMENT))
    if escaped:
        out.append(_REPLACEMENT)
    return "".join(out)


def _alphabet(data_coding: int) -> str:
    """Map an SMPP/GSM data_coding to 'gsm7', 'latin1', 'ucs2' or a codec name."""
    smpp_defined = {
        0x00: "gsm7", 0x01: "latin1", 0x02: "latin1", 0x03: "latin1", 0x04: "latin1",
        0x05: "shift_jis", 0x06: "iso8859_5", 0x07: "iso8859_8", 0x08: "ucs2",
        0x09: "shift_jis", 0x0A: "iso2022_jp", 0x0D: "shift_jis", 0x0E: "euc_kr",
    }
    if data_coding in smpp_defined:
        return smpp_defined[data_coding]
    group = data_coding & 0xF0
    if group < 0x80:  # general and auto-deletion groups: alphabet in bits 3..2
        return ("gsm7", "latin1", "ucs2", "latin1")[(data_coding >> 2) & 0x03]
    if group in (0xC0, 0xD0):
        return "gsm7"
    if group == 0xE0:
        return "ucs2"
    if group == 0xF0:
        return "latin1" if data_coding & 0x04 else "gsm7"
    return "latin1"


def decode(data: bytes, data_coding: int) -> str:
    """Never raises: bytes from the network are untrusted, bad ones become U+FFFD."""
    alphabet = _alphabet(data_coding)
    if alphabet == "gsm7":
        return _decode_gsm_unpacked(data)
    if alphabet == "ucs2":
        return data.decode("utf-16-be", "replace")
    return data.decode(alphabet, "replace")


def _chunks(text: str, encoding: Encoding) -> list[bytes]:
    """Greedy split into bodies of at most the per-part limit, whole characters only."""
    units = list(_char_units(text, encoding))
    single = GSM_SINGLE_LIMIT if encoding == "gsm7" else UCS2_SINGLE_LIMIT
    if sum(len(u) for u in units) <= single:
        return [b"".join(units)]
    limit = GSM_PART_LIMIT if encoding == "gsm7" else UCS2_PART_LIMIT
    chunks: list[bytes] = []
    current = bytearray()
    for unit in units:
        if len(current) + len(unit) > limit:
            chunks.append(bytes(current))
            current = bytearray()
        current += unit
    chunks.append(bytes(current))
    return chunks


def segment_count(text: str) -> int:
    """How many SMS a reply costs; never raises (a 300-part text says 300)."""
    encoding = choose_encoding(text)
    if encoding == "ucs2":
        text = _without_lone_surrogates(text)
    return len(_chunks(text, encoding))


@functools.lru_cache(maxsize=256)
def _encoded(text: str) -> tuple[Encoding, tuple[bytes, ...]]:
    """Encoding and part bodies of a text, remembered: a broadcast sends one text
    to many numbers, and encoding it was a tenth of the sender's time per MT."""
    encoding = choose_encoding(text)
    if encoding == "ucs2":
        text = _without_lone_surrogates(text)
    return encoding, tuple(_chunks(text, encoding))


def part_texts(text: str) -> tuple[str, ...]:
    """The text each SMS part of `text` carries, as the handset (and a receipt) sees it."""
    encoding, chunks = _encoded(text)
    data_coding = data_coding_for(encoding)
    return tuple(decode(chunk, data_coding) for chunk in chunks)


def split(text: str, reference: int) -> SplitResult:
    """Encode and cut into SMS parts; `reference` (0-255) tags the parts of one message.

    The caller supplies the reference so it can be stored with the MT and so
    tests are deterministic.
    """
    if not 0 <= reference <= 0xFF:
        raise ValueError(f"concatenation reference must be 0..255, got {reference}")
    encoding, chunks = _encoded(text)
    total = len(chunks)
    if total > MAX_PARTS:
        raise TextTooLong(said(N_("text needs %(total)s parts, more than %(max_parts)s; "
                                  "shorten it"), total=total, max_parts=MAX_PARTS))
    if total == 1:
        parts = list(chunks)
    else:
        parts = [
            bytes((0x05, 0x00, 0x03, reference, total, seq)) + chunk
            for seq, chunk in enumerate(chunks, start=1)
        ]
    return SplitResult(encoding, data_coding_for(encoding), parts, total)
