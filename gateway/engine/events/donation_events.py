"""The SMS side of a donation: the request, its confirmation, and the donor's details.

The pipeline turns five of these into donation-ledger rows
(pipeline/donation_ledger.py) and `DonorDetailsGiven` into stored donor facts;
the rest are the timeline's record of the conversation. `donation_ref` is
the id of the MO that asked to give (a donation's id in the ledger).
Money is integer cents with its ISO currency.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Literal


@dataclass(frozen=True, slots=True)
class DonationAmountAsked:
    """GIVE without a usable amount: the price points went out."""

    name: ClassVar[Literal["donation_amount_asked"]] = "donation_amount_asked"
    program: str
    keyword: str
    argument: str
    reason: str  # missing | invalid | not_a_price_point
    price_points: tuple[int, ...]  # cents
    mo_id: int
    at: datetime

    def to_json(self) -> dict[str, Any]:
        return {"program": self.program, "keyword": self.keyword, "argument": self.argument,
                "reason": self.reason, "price_points": list(self.price_points),
                "mo_id": self.mo_id, "at": self.at.isoformat()}


@dataclass(frozen=True, slots=True)
class DonationRequested:
    """A donation with an amount: it waits for a YES (`sms_confirmation`) or a payment
    on the Checkout page (`checkout`)."""

    name: ClassVar[Literal["donation_requested"]] = "donation_requested"
    donation_ref: int
    program: str
    committee: str
    shortcode: str
    keyword: str
    argument: str
    amount_cents: int
    currency: str
    method: str  # carrier | card
    flow: str  # sms_confirmation | checkout
    expires_at: datetime
    mo_id: int
    mo_text: str
    at: datetime

    def to_json(self) -> dict[str, Any]:
        return {"donation_ref": self.donation_ref, "program": self.program,
                "committee": self.committee, "shortcode": self.shortcode,
                "keyword": self.keyword, "argument": self.argument,
                "amount_cents": self.amount_cents, "currency": self.currency,
                "method": self.method, "flow": self.flow,
                "expires_at": self.expires_at.isoformat(), "mo_id": self.mo_id,
                "mo_text": self.mo_text, "at": self.at.isoformat()}


@dataclass(frozen=True, slots=True)
class DonationConfirmationSent:
    name: ClassVar[Literal["donation_confirmation_sent"]] = "donation_confirmation_sent"
    donation_ref: int
    method: str
    text: str
    reply_index: int  # which of the MO's replies asked for the YES
    at: datetime

    def to_json(self) -> dict[str, Any]:
        return {"donation_ref": self.donation_ref, "method": self.method, "text": self.text,
                "reply_index": self.reply_index, "at": self.at.isoformat()}


@dataclass(frozen=True, slots=True)
class DonationConfirmed:
    """The YES: the legal date of receipt (`confirmed_at`, compliance rule 20)."""

    name: ClassVar[Literal["donation_confirmed"]] = "donation_confirmed"
    donation_ref: int
    program: str
    committee: str
    amount_cents: int
    currency: str
    method: str
    confirmed_at: datetime
    requested_at: datetime
    mo_id: int
    mo_text: str

    def to_json(self) -> dict[str, Any]:
        return {"donation_ref": self.donation_ref, "program": self.program,
                "committee": self.committee, "amount_cents": self.amount_cents,
                "currency": self.currency, "method": self.method,
                "confirmed_at": self.confirmed_at.isoformat(),
                "requested_at": self.requested_at.isoformat(), "mo_id": self.mo_id,
                "mo_text": self.mo_text}


@dataclass(frozen=True, slots=True)
class DonationExpired:
    """The pending request's window closed before a YES (noticed at the next MO)."""

    name: ClassVar[Literal["donation_expired"]] = "donation_expired"
    donation_ref: int
    expired_at: datetime  # the deadline, not the MO that noticed it
    mo_id: int
    at: datetime

    def to_json(self) -> dict[str, Any]:
        return {"donation_ref": self.donation_ref, "expired_at": self.expired_at.isoformat(),
                "mo_id": self.mo_id, "at": self.at.isoformat()}


@dataclass(frozen=True, slots=True)
class DonationCancelled:
    name: ClassVar[Literal["donation_cancelled"]] = "donation_cancelled"
    donation_ref: int
    reason: str  # declined | opted_out | rules_changed
    mo_id: int
    at: datetime

    def to_json(self) -> dict[str, Any]:
        return {"donation_ref": self.donation_ref, "reason": self.reason, "mo_id": self.mo_id,
                "at": self.at.isoformat()}


@dataclass(frozen=True, slots=True)
class DonationYesRepeated:
    """A second YES to a donation already confirmed: confirms nothing."""

    name: ClassVar[Literal["donation_yes_repeated"]] = "donation_yes_repeated"
    donation_ref: int
    mo_id: int
    at: datetime

    def to_json(self) -> dict[str, Any]:
        return {"donation_ref": self.donation_ref, "mo_id": self.mo_id,
                "at": self.at.isoformat()}


@dataclass(frozen=True, slots=True)
class DonorDetailsUnreadable:
    """An answer to the donor-details question that did not parse (engine/donor_details.py)."""

    name: ClassVar[Literal["donor_details_unreadable"]] = "donor_details_unreadable"
    donation_refs: tuple[int, ...]
    field: str
    problem: str | None
    gave_up: bool
    mo_id: int
    at: datetime

    def to_json(self) -> dict[str, Any]:
        return {"donation_refs": list(self.donation_refs), "field": self.field,
                "problem": self.problem, "gave_up": self.gave_up, "mo_id": self.mo_id,
                "at": self.at.isoformat()}


@dataclass(frozen=True, slots=True)
class DonorDetailsGiven:
    """One donor fact read from an SMS answer; `values` maps donor_details columns to text."""

    name: ClassVar[Literal["donor_details_given"]] = "donor_details_given"
    donation_refs: tuple[int, ...]  # the held donations it completes (oldest first)
    program: str
    committee: str
    field: str
    values: Mapping[str, str]
    complete: bool  # nothing more to ask
    mo_id: int
    at: datetime

    def to_json(self) -> dict[str, Any]:
        return {"donation_refs": list(self.donation_refs), "program": self.program,
                "committee": self.committee, "field": self.field, "values": dict(self.values),
                "complete": self.complete, "mo_id": self.mo_id, "at": self.at.isoformat()}
