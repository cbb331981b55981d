"""Which incoming MOs are the SMSC delivering again one we stored but it never heard of?

Why: an MO is committed before its deliver_sm_resp is sent, so nothing is
lost, but a crash or a dropped link between the COMMIT and the SMSC reading
the resp leaves an MO stored that the SMSC will deliver again. Deciding it
twice answers the supporter twice (and repeats whatever the text asked for).

The rule, pure (the caller fetches the candidates and gives the times): an
MO repeats a stored one when both have the same digest (number, short code,
data coding, concatenation reference, total and part, body bytes), the
stored one's acknowledgement has not been seen read by the SMSC, and the two
arrived within `window` of each other. An identical MO earlier in the same
batch counts as stored and unread (it is committed with this one). A text
whose first copy was acknowledged never matches: a person who sends "YES"
twice is answered twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from gateway.smpp.udh import ConcatInfo
from gateway.store.inbound import Unacked


@dataclass(frozen=True, slots=True)
class Arrival:
    """What the rule needs of one incoming MO (or part)."""

    digest: bytes
    received_at: datetime


# What an arrival repeats: a stored unread MO, the index of an earlier arrival
# of the same batch, or None (a new MO, decided as usual).
Repeat = Unacked | int | None


def mo_digest(
    msisdn: str, shortcode: str, data_coding: int, body: bytes, concat: ConcatInfo | None
) -> bytes:
    """16 bytes naming one delivered PDU's content; a single-part MO has part 0 of 0."""
    ref, total, seq = (concat.ref, concat.total, concat.seq) if concat else (0, 0, 0)
    head = f"{msisdn}\x00{shortcode}\x00{data_coding}:{ref}:{total}:{seq}\x00".encode()
    return hashlib.blake2b(head + body, digest_size=16).digest()


def find_repeats(
    arrivals: Sequence[Arrival], unacked: Sequence[Unacked], window: timedelta
) -> list[Repeat]:
    """For each arrival, what it repeats (see `Repeat`); the earliest stored match wins."""
    stored: dict[bytes, list[Unacked]] = {}
    for row in sorted(unacked, key=lambda r: (r.received_at, r.id)):
        stored.setdefault(row.digest, []).append(row)
    earlier: dict[bytes, list[int]] = {}
    result: list[Repeat] = []
    for index, arrival in enumerate(arrivals):
        found: Repeat = next(
            (row for row in stored.get(arrival.digest, ())
             if abs(arrival.received_at - row.received_at) <= window),
            None,
        )
        if found is None:
            found = next(
                (i for i in earlier.get(arrival.digest, ())
                 if abs(arrival.received_at - arrivals[i].received_at) <= window),
                None,
            )
        if found is None:
            earlier.setdefault(arrival.digest, []).append(index)
        result.append(found)
    return result
