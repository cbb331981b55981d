"""Delivery receipts: recognise them, read them, and write them (for the simulator).

Pure. SMSCs report status two ways, often both: SMPP 3.4 TLVs
(receipted_message_id, message_state, network_error_code) and the de-facto
text format from SMPP 3.4 appendix B, "id:... sub:... dlvrd:... submit date:...
done date:... stat:... err:... text:...". TLVs win because they are typed;
the text is read tolerantly because every SMSC writes it a little differently
(case, order, missing fields, "submit_date").

Message ids: keep them exactly as given. Some SMSCs answer submit_sm_resp
with a hex id and put the same number in decimal in the receipt (or the
reverse); `message_id_variants` lists every spelling so the store can match
an MT by any of them instead of guessing which convention a carrier uses.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from gateway.smpp.constants import (
    ESM_DELIVERY_RECEIPT,
    ESM_INTERMEDIATE_NOTIFICATION,
    ESM_MESSAGE_TYPE_MASK,
    MessageState,
    Tag,
)

# The receipt text's 7-letter spelling of each message_state TLV value.
MESSAGE_STATE_CODES: dict[int, str] = {
    MessageState.ENROUTE: "ENROUTE",
    MessageState.DELIVERED: "DELIVRD",
    MessageState.EXPIRED: "EXPIRED",
    MessageState.DELETED: "DELETED",
    MessageState.UNDELIVERABLE: "UNDELIV",
    MessageState.ACCEPTED: "ACCEPTD",
    MessageState.UNKNOWN: "UNKNOWN",
    MessageState.REJECTED: "REJECTD",
}
STATES = tuple(MESSAGE_STATE_CODES.values())
STATE_CODES = {s: int(code) for code, s in MESSAGE_STATE_CODES.items()}
FINAL_STATES = frozenset({"DELIVRD", "EXPIRED", "DELETED", "UNDELIV", "UNKNOWN", "REJECTD"})
_STAT_SPELLINGS = {
    "DELIVERED": "DELIVRD",
    "UNDELIVERABLE": "UNDELIV",
    "ACCEPTED": "ACCEPTD",
    "REJECTED": "REJECTD",
    "EXPIRD": "EXPIRED",
    "DELETD": "DELETED",
}

_FIELD = re.compile(
    r"(?<![A-Za-z0-9_])(id|sub|dlvrd|submit[ _]?date|done[ _]?date|stat|err|text)\s*:",
    re.IGNORECASE,
)
_DATE_KEY = re.compile(r"[ _]?date$")
# The appendix-B layout exactly as most SMSCs (and our simulator) write it: read in
# one match on the hot path (a receipt per MT). An id of letters and digits only,
# so no field name can hide inside it; anything else takes the tolerant path.
_CANONICAL = re.compile(
    r"id:([0-9A-Za-z]+) sub:\d{3} dlvrd:\d{3} submit date:(\d{10}|\d{12}) "
    r"done date:(\d{10}|\d{12}) stat:([A-Za-z]+) err:([0-9A-Za-z]+) text:"
)


class ReceiptError(ValueError):
    """A receipt without a message id or a status: nothing to match it to.

    The caller still acknowledges the deliver_sm (the SMSC would only resend
    the same unusable receipt) and logs the problem.
    """


@dataclass(frozen=True, slots=True)
class Receipt:
    message_id: str
    stat: str  # one of STATES
    err: str
    final: bool
    intermediate: bool = False
    submit_date: datetime | None = None  # SMSC clock; its zone is not stated
    done_date: datetime | None = None
    text: str | None = None  # the start of the MT's text ("text:"); None when absent or empty


def is_receipt(esm_class: int) -> bool:
    message_type = esm_class & ESM_MESSAGE_TYPE_MASK
    return message_type in (ESM_DELIVERY_RECEIPT, ESM_INTERMEDIATE_NOTIFICATION)


def is_intermediate(esm_class: int) -> bool:
    return esm_class & ESM_MESSAGE_TYPE_MASK == ESM_INTERMEDIATE_NOTIFICATION


def normalize_stat(value: str) -> str:
    """Map an SMSC's spelling to one of STATES; anything unrecognised is UNKNOWN."""
    upper = value.strip().upper()
    upper = _STAT_SPELLINGS.get(upper, upper)
    return upper if upper in STATE_CODES else "UNKNOWN"


def _parse_date(value: str | None) -> datetime | None:
    """YYMMDDhhmm or YYMMDDhhmmss; anything else is dropped, not guessed at."""
    digits = (value or "").strip()
    if not (digits.isascii() and digits.isdigit()) or len(digits) not in (10, 12):
        return None
    # sliced by hand: strptime cost more than the rest of a receipt (one per MT)
    year = 2000 + int(digits[0:2]) if int(digits[0:2]) < 69 else 1900 + int(digits[0:2])
    second = int(digits[10:12]) if len(digits) == 12 else 0
    try:
        return datetime(year, int(digits[2:4]), int(digits[4:6]), int(digits[6:8]),
                        int(digits[8:10]), second)
    except ValueError:
        return None


def parse_receipt_fields(text: str) -> dict[str, str]:
    """Split receipt text into lower-case keys ('submit date' style); never raises.

    `text:` is taken to the end of the message: it is always last and may
    itself contain "stat:" or anything else the subscriber wrote.
    """
    fields: dict[str, str] = {}
    matches = list(_FIELD.finditer(text))
    for index, match in enumerate(matches):
        key = match.group(1).lower()
        if key.endswith("date"):
            key = _DATE_KEY.sub(" date", key)
        if key == "text":
            fields.setdefault(key, text[match.end() :])
            break
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        fields.setdefault(key, text[match.end() : end].strip())
    return fields


def _receipt_fields(text: str) -> dict[str, str]:
    """parse_receipt_fields' answer for the fields a receipt uses, in one match when canonical."""
    match = _CANONICAL.match(text)
    if match is None:
        return parse_receipt_fields(text)
    message_id, submitted, done, stat, err = match.groups()
    return {"id": message_id, "submit date": submitted, "done date": done, "stat": stat,
            "err": err, "text": text[match.end():]}


def _c_string(value: bytes) -> str:
    return value.split(b"\x00", 1)[0].decode("latin-1").strip()


def parse_receipt(esm_class: int, short_message: bytes, tlvs: Mapping[int, bytes]) -> Receipt:
    """Read a receipt from a deliver_sm's parts; raises ReceiptError only."""
    body = short_message or tlvs.get(Tag.MESSAGE_PAYLOAD, b"")
    fields = _receipt_fields(body.decode("latin-1"))
    message_id = fields.get("id", "")
    if Tag.RECEIPTED_MESSAGE_ID in tlvs:
        message_id = _c_string(tlvs[Tag.RECEIPTED_MESSAGE_ID]) or message_id
    stat = normalize_stat(fields["stat"]) if fields.get("stat") else ""
    state = tlvs.get(Tag.MESSAGE_STATE, b"")
    if len(state) == 1 and state[0] in MESSAGE_STATE_CODES:
        stat = MESSAGE_STATE_CODES[state[0]]
    err = fields.get("err", "")
    network_error = tlvs.get(Tag.NETWORK_ERROR_CODE, b"")
    if len(network_error) == 3:
        err = f"{int.from_bytes(network_error[1:], 'big'):03d}"
    if not message_id:
        raise ReceiptError("delivery receipt has no message id (no TLV 0x001E, no 'id:')")
    if not stat:
        raise ReceiptError(f"delivery receipt for {message_id} has no status")
    intermediate = is_intermediate(esm_class)
    return Receipt(
        message_id=message_id,
        stat=stat,
        err=err or "000",
        final=not intermediate and stat in FINAL_STATES,
        intermediate=intermediate,
        submit_date=_parse_date(fields.get("submit date")),
        done_date=_parse_date(fields.get("done date")),
        text=fields.get("text", "").rstrip("\x00") or None,
    )


def format_receipt_text(
    message_id: str,
    stat: str,
    *,
    submitted_at: datetime,
    done_at: datetime,
    err: str = "000",
    text: str = "",
) -> str:
    """The appendix-B text, as the simulator sends it (text cut to 20 characters)."""
    delivered = "001" if stat == "DELIVRD" else "000"
    return (
        f"id:{message_id} sub:001 dlvrd:{delivered} "
        f"submit date:{submitted_at:%y%m%d%H%M} done date:{done_at:%y%m%d%H%M} "
        f"stat:{stat} err:{err} text:{text[:20]}"
    )


def message_id_variants(message_id: str) -> tuple[str, ...]:
    """Every spelling under which an SMSC may have given us this id.

    Includes the id as given, lower- and upper-case hex, and the decimal /
    hex reading of it when it parses as a number (leading zeros dropped).
    "123" yields both ("123", "7b", "7B", ...) and ("291" = 0x123): look the
    MT up by all of them; a false match needs two live MTs whose ids collide
    across bases, which a per-SMSC store lookup makes negligible.
    """
    given = message_id.strip()
    variants = [given, given.lower(), given.upper()]
    if given.isascii() and given.isdigit():
        number = int(given)
        variants += [str(number), f"{number:x}", f"{number:X}"]
    if given and all(c in "0123456789abcdefABCDEF" for c in given):
        number = int(given, 16)
        variants += [str(number), f"{number:x}", f"{number:X}"]
    return tuple(dict.fromkeys(v for v in variants if v))
