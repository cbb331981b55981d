"""What the SMSC simulator can be told (Faults) and what it records for tests and benchmarks.

Kept apart from the simulator's protocol work: these are the simulator's
interface to the tests, which build Faults and read SubmitRecord, MoRecord
and LoadStats without caring how the SMSC side is driven.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Faults:
    """Ways to misbehave; zero means off. Replace `simulator.faults` to change them live."""

    drop_after_pdus: int = 0  # close the connection on its Nth PDU, unprocessed
    drop_times: int | None = None  # how many connections to drop that way; None: all
    throttle_every: int = 0  # every Nth submit_sm gets ESME_RTHROTTLED
    slow_resp: float = 0.0  # seconds before each submit_sm_resp
    malformed_every: int = 0  # a garbage PDU before every Nth injected MO
    receipt_stat: str = "DELIVRD"
    receipt_err: str | None = None  # the receipt's err: field; None: 000 or 001 by stat
    intermediate_receipts: bool = False  # an ENROUTE notification before the final
    # every Nth submit_sm is taken (and its receipt sent) but its resp is never written:
    # the ESME cannot know the SMSC has it, as when a resp is lost with its connection
    lost_resp_every: int = 0
    # close the connection when the Nth deliver_sm_resp to an MO (counted over the
    # simulator's life) arrives, unread: the ESME stored that MO, the SMSC never heard so
    # and delivers it again, as after a link cut between the ESME's commit and its resp
    drop_on_mo_resp: int = 0
    # from the Nth deliver_sm_resp to an MO on, read nothing more of that connection (an
    # SMSC that will never see the resps the ESME writes, as when the ESME dies with them)
    mute_on_mo_resp: int = 0


@dataclass(frozen=True, slots=True)
class SubmitRecord:
    """One accepted MT, after reassembly of its parts."""

    message_ids: tuple[str, ...]
    system_id: str
    source: str
    destination: str
    text: str
    data_coding: int
    registered_delivery: int
    segments: int
    accepted_at: float  # loop time
    service_type: str = ""
    tlvs: Mapping[int, bytes] = field(default_factory=dict)  # of the first part


@dataclass(slots=True)
class MoRecord:
    source: str
    destination: str
    text: str
    segments: int
    sent_at: float
    acked_at: float | None = None
    status: int | None = None


@dataclass(slots=True)
class LoadStats:
    count: int
    duration: float
    statuses: Counter[str]
    ack_latencies: list[float]

    @property
    def acked(self) -> int:
        return self.statuses.get("ESME_ROK", 0)

    def quantile(self, q: float) -> float:
        ordered = sorted(self.ack_latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "count": self.count, "acked": self.acked, "duration_s": round(self.duration, 3),
            "statuses": dict(self.statuses), "ack_p50_s": self.quantile(0.5),
            "ack_p99_s": self.quantile(0.99),
        }
