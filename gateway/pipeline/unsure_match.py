"""Which unsure sends a parked delivery receipt proves the SMSC took. Pure.

SMPP has no way to ask an SMSC "did you take the submit_sm whose resp I
never read?". A send cut off between the two (kill -9, a dropped link, a
resp timeout) would otherwise have to be sent again, and the supporter
could get it twice. But the SMSC still sends the receipt of the copy it
took, to the next bind, and the receipt names the number it went to (its
source address) and the start of the text (appendix B's `text:`). Its
message id is one we never recorded, so the receipt is parked; if a parked
receipt from the row's number, received after the send could have left,
starts like one of the row's parts, the SMSC took that part.

A row is settled only when every part is matched, each part by its own
receipt. A receipt without text proves something only when it is the one
parked receipt of a number with exactly one unsure single-part row. Rows
left unmatched are sent again when their hold ends: at-least-once is the
fallback, for SMSCs that send no receipt text (or none in time).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

# appendix B: "the first 20 characters of the short message"
RECEIPT_TEXT_CHARS = 20


@dataclass(frozen=True, slots=True)
class UnsureSend:
    outbound_id: int
    msisdn: str
    parts: tuple[str, ...]  # the text of each SMS part, as sent
    since: datetime  # receipts before this cannot be about this send


@dataclass(frozen=True, slots=True)
class ParkedReceipt:
    smsc_message_id: str
    msisdn: str
    text_head: str | None  # None: the receipt had no text field
    received_at: datetime


@dataclass(frozen=True, slots=True)
class Settled:
    outbound_id: int
    message_ids: tuple[str, ...]  # one per part, in order


def receipt_head(text: str) -> str:
    """A text as a receipt can carry it: 20 characters, outside Latin-1 a '?'.

    Receipts are 8-bit text; an SMSC writes what it cannot show as '?'.
    """
    head = text[:RECEIPT_TEXT_CHARS]
    return head.encode("latin-1", "replace").decode("latin-1")


def _starts_alike(part: str, head: str) -> bool:
    """The receipt's head (maybe shorter than 20, maybe right-trimmed) begins the part's."""
    ours = receipt_head(part)
    theirs = head[:RECEIPT_TEXT_CHARS]
    if not theirs:
        return False
    return ours.startswith(theirs) or ours.rstrip() == theirs.rstrip()


def settle(sends: Sequence[UnsureSend], receipts: Iterable[ParkedReceipt]) -> list[Settled]:
    """Rows whose every part a distinct parked receipt proves taken; oldest row first."""
    by_number: dict[str, list[ParkedReceipt]] = defaultdict(list)
    for receipt in sorted(receipts, key=lambda r: (r.received_at, r.smsc_message_id)):
        by_number[receipt.msisdn].append(receipt)
    sends_of: dict[str, list[UnsureSend]] = defaultdict(list)
    for send in sorted(sends, key=lambda s: s.outbound_id):
        sends_of[send.msisdn].append(send)
    settled: list[Settled] = []
    for number, rows in sends_of.items():
        available = by_number.get(number, [])
        for send in rows:
            ids = _match_parts(send, available, alone=len(rows) == 1)
            if ids is None:
                continue
            used = set(ids)
            available = [r for r in available if r.smsc_message_id not in used]
            settled.append(Settled(send.outbound_id, ids))
    return settled


def _match_parts(
    send: UnsureSend, receipts: Sequence[ParkedReceipt], *, alone: bool
) -> tuple[str, ...] | None:
    usable = [r for r in receipts if r.received_at >= send.since]
    with_text = [r for r in usable if r.text_head is not None]
    ids: list[str] = []
    taken: set[str] = set()
    for part in send.parts:
        found = next(
            (r for r in with_text
             if r.smsc_message_id not in taken and _starts_alike(part, r.text_head or "")),
            None,
        )
        if found is None:
            break
        ids.append(found.smsc_message_id)
        taken.add(found.smsc_message_id)
    else:
        return tuple(ids)
    textless = [r for r in usable if r.text_head is None]
    if alone and len(send.parts) == 1 and len(textless) == 1 and len(usable) == 1:
        return (textless[0].smsc_message_id,)
    return None
