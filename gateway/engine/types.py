"""The engine's vocabulary: what goes into `decide()` and what comes out.

The engine is a pure function over these values (goflow's split): the
pipeline loads a `ContactState`, hands it an `Inbound`, and persists the
`Decision` in the MO's own transaction. Nothing here does I/O or reads a
clock; time always arrives as an argument.

The events a decision carries are typed, one class per kind
(gateway/engine/events/).

`ContactState` round-trips through JSON (`to_json`/`from_json`) so the store
keeps it in one `jsonb` column and never needs to know the engine's fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gateway.engine.events import EngineEvent


@dataclass(frozen=True, slots=True)
class Inbound:
    """One mobile-originated text, already stored (it has its database id)."""

    mo_id: int
    msisdn: str  # E.164
    shortcode: str
    text: str
    received_at: datetime  # UTC


@dataclass(frozen=True, slots=True)
class Reply:
    """An MT to queue in the outbox, in the same transaction as the MO.

    `priority` 0 is replies and compliance traffic; broadcasts use higher
    numbers so a broadcast never delays an answer to a supporter.
    `compliance` marks the opt-out confirmation: the one MT allowed to reach
    a number that has just opted out.
    """

    text: str
    priority: int = 0
    compliance: bool = False


@dataclass(frozen=True, slots=True)
class ContactState:
    """Everything the engine needs to know about one number on one short code."""

    msisdn: str
    shortcode: str
    opted_out: bool = False
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return dict(self.data)

    @classmethod
    def from_json(
        cls, msisdn: str, shortcode: str, opted_out: bool, data: dict[str, Any] | None
    ) -> ContactState:
        return cls(msisdn=msisdn, shortcode=shortcode, opted_out=opted_out, data=dict(data or {}))


@dataclass(frozen=True, slots=True)
class Decision:
    new_state: ContactState
    replies: tuple[Reply, ...] = ()
    events: tuple[EngineEvent, ...] = ()  # typed: gateway/engine/events/
