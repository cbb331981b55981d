"""Carrier billing on the wire: how an aggregator wants a billed MT marked, and what
its delivery receipts mean for the money.

Why data and not code paths: aggregators differ only in where the price
goes (service_type, a vendor TLV, SMPP 5.0 billing_identification) and in
which receipt error codes mean "the charge failed". A profile is those two
facts; adding an aggregator is adding a profile (and a sample-PDU test).

Layouts (every integer big-endian, every string ASCII):

* `tariff_code` service_type "PSMS"; TLV 0x1403 = the aggregator's
  tariff code for the price point as a C-octet string: b"DON1000\\x00".
* `amount_tlv`  service_type "DON"; TLV 0x1403 = 7 octets: the amount in
  cents as a 4-octet unsigned integer, then the ISO 4217 currency:
  $10 -> 00 00 03 e8 55 53 44.
* `smpp50`      service_type ""; TLV 0x060B billing_identification
  (SMPP 5.0 §4.8.4.3): octet 1 is the format (0x80, the first of the
  vendor-specific values 0x80-0xFF), then "code|cents|currency|ref":
  80 "DON1000|1000|USD|42". Our donation ref rides along so the aggregator's
  settlement lines can be matched to donations (compliance rule 22).

Price point codes: the aggregator knows a billed MT's price by its own code
for each tariff (`tariff_code` carries nothing else). They come from
configuration (GATEWAY_BILLING_TARIFF_CODES, cents -> code); a program's
price point without a code is refused at start-up and on reload
(`check_tariff_codes`), never guessed. The other layouts carry the amount
itself and fall back to "DON<cents>" when no table is configured.

Receipts (compliance rule 21): a final DELIVRD bills; an intermediate or
non-final receipt settles nothing; UNDELIV/REJECTD with one of the
profile's billing error codes is a failed charge. Any other final failure
is failed too, marked as a delivery failure: a billed MT is never re-sent
by itself, since a second submission could bill twice; a new gift needs a
new YES.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Final, Literal

if TYPE_CHECKING:
    from gateway.engine.rules import Rules

TAG_VENDOR_BILLING: Final = 0x1403
TAG_BILLING_IDENTIFICATION: Final = 0x060B  # SMPP 5.0
VENDOR_FORMAT: Final = 0x80
_AMOUNT = struct.Struct(">I3s")

BillingReason = Literal["insufficient_credit", "barred", "charging_failed", "spending_limit"]


class BillingParameterError(ValueError):
    """The donation cannot be expressed in this aggregator's billing parameters."""


@dataclass(frozen=True, slots=True)
class BilledDonation:
    """What the billed MT must say about the charge."""

    amount_cents: int
    price_point_code: str  # the aggregator's code for this price point (its tariff table)
    currency: str = "USD"
    donation_ref: int = 0


Encoder = Callable[[BilledDonation], dict[int, bytes]]
Decoder = Callable[[Mapping[int, bytes]], BilledDonation]


@dataclass(frozen=True, slots=True)
class AggregatorProfile:
    name: str
    service_type: str
    encode: Encoder
    decode: Decoder
    billing_errors: Mapping[str, BillingReason]  # receipt `err` (3 digits) -> reason


@dataclass(frozen=True, slots=True)
class ReceiptOutcome:
    kind: Literal["billed", "failed"]
    reason: str | None = None  # a BillingReason, or "undelivered:<stat>:<err>"
    billing_error: bool = False


def billing_parameters(profile: AggregatorProfile, donation: BilledDonation
                       ) -> tuple[str, dict[int, bytes]]:
    """(service_type, optional parameters) for the billed submit_sm of one donation."""
    if donation.amount_cents <= 0:
        raise BillingParameterError("a billed MT needs a positive amount")
    code = donation.price_point_code
    if not code or not code.isascii() or not code.isprintable() or "|" in code:
        raise BillingParameterError(f"price point code {code!r} must be printable ASCII "
                                    "without '|'")
    return profile.service_type, profile.encode(donation)


def price_point_code(profile: AggregatorProfile, codes: Mapping[int, str], amount_cents: int
                     ) -> str:
    """The aggregator's code for this price point (see the module docstring)."""
    code = codes.get(amount_cents)
    if code is not None:
        return code
    if profile.name == "tariff_code" or codes:
        raise BillingParameterError(
            f"no tariff code for the price point {amount_cents} cents; add it to "
            "GATEWAY_BILLING_TARIFF_CODES (e.g. {\"500\": \"DON5\", \"1000\": \"DON10\"})")
    return f"DON{amount_cents}"


def check_tariff_codes(profile_name: str, codes: Mapping[int, str],
                       price_points: Mapping[str, tuple[int, ...]]) -> list[str]:
    """Every carrier price point of every program (program -> points) has a usable code."""
    profile = get_profile(profile_name)
    problems = []
    for program, points in sorted(price_points.items()):
        for cents in points:
            try:
                code = price_point_code(profile, codes, cents)
                billing_parameters(profile, BilledDonation(cents, code))
            except BillingParameterError as err:
                problems.append(f"GATEWAY_BILLING_TARIFF_CODES: donations.{program}: "
                                f"price point {cents / 100:.2f}: {err}")
    return problems


def tariff_problems(aggregator: str, codes: Mapping[int, str], rules: Rules) -> list[str]:
    """`check_tariff_codes` for the carrier price points of every program in `rules`."""
    points = {pid: d.price_points for pid, d in rules.donations.items()
              if "carrier" in d.methods}
    return check_tariff_codes(aggregator, codes, points)


def classify_receipt(profile: AggregatorProfile, *, stat: str, err: str, final: bool
                     ) -> ReceiptOutcome | None:
    """What a delivery receipt of a billed MT means; None: nothing is settled yet."""
    if not final:
        return None
    if stat == "DELIVRD":
        return ReceiptOutcome("billed")
    code = err.strip().zfill(3)
    reason = profile.billing_errors.get(code)
    if stat in ("UNDELIV", "REJECTD") and reason is not None:
        return ReceiptOutcome("failed", reason, billing_error=True)
    return ReceiptOutcome("failed", f"undelivered:{stat}:{code}")


# -- the profiles ------------------------------------------------------------


def _encode_tariff(d: BilledDonation) -> dict[int, bytes]:
    raw = d.price_point_code.encode("ascii")
    if len(raw) > 15:
        raise BillingParameterError("tariff_code: the code is at most 15 characters")
    return {TAG_VENDOR_BILLING: raw + b"\x00"}


def _decode_tariff(tlvs: Mapping[int, bytes]) -> BilledDonation:
    raw = _required(tlvs, TAG_VENDOR_BILLING)
    if not raw.endswith(b"\x00"):
        raise BillingParameterError("tariff_code: TLV 0x1403 is not NUL-terminated")
    # The amount is the tariff table's business: this layout carries only the code.
    return BilledDonation(amount_cents=0, price_point_code=raw[:-1].decode("ascii"))


def _encode_amount(d: BilledDonation) -> dict[int, bytes]:
    if d.amount_cents > 0xFFFFFFFF or len(d.currency) != 3 or not d.currency.isalpha():
        raise BillingParameterError("amount_tlv: amount over 32 bits or currency not 3 letters")
    return {TAG_VENDOR_BILLING: _AMOUNT.pack(d.amount_cents, d.currency.upper().encode("ascii"))}


def _decode_amount(tlvs: Mapping[int, bytes]) -> BilledDonation:
    raw = _required(tlvs, TAG_VENDOR_BILLING)
    if len(raw) != _AMOUNT.size:
        raise BillingParameterError(f"amount_tlv: TLV 0x1403 has {len(raw)} octets, not 7")
    cents, currency = _AMOUNT.unpack(raw)
    return BilledDonation(amount_cents=cents, price_point_code="",
                          currency=currency.decode("ascii"))


def _encode_smpp50(d: BilledDonation) -> dict[int, bytes]:
    text = f"{d.price_point_code}|{d.amount_cents}|{d.currency}|{d.donation_ref}"
    return {TAG_BILLING_IDENTIFICATION: bytes((VENDOR_FORMAT,)) + text.encode("ascii")}


def _decode_smpp50(tlvs: Mapping[int, bytes]) -> BilledDonation:
    raw = _required(tlvs, TAG_BILLING_IDENTIFICATION)
    if not raw or raw[0] != VENDOR_FORMAT:
        raise BillingParameterError("smpp50: billing_identification format is not 0x80")
    parts = raw[1:].decode("ascii").split("|")
    if len(parts) != 4 or not parts[1].isdigit() or not parts[3].isdigit():
        raise BillingParameterError("smpp50: expected code|cents|currency|ref")
    return BilledDonation(amount_cents=int(parts[1]), price_point_code=parts[0],
                          currency=parts[2], donation_ref=int(parts[3]))


def _required(tlvs: Mapping[int, bytes], tag: int) -> bytes:
    raw = tlvs.get(tag)
    if raw is None:
        raise BillingParameterError(f"the billed MT has no TLV 0x{tag:04X}")
    return raw


def _errors(**codes: BillingReason) -> Mapping[str, BillingReason]:
    return MappingProxyType({code.removeprefix("e"): reason for code, reason in codes.items()})


PROFILES: Final[Mapping[str, AggregatorProfile]] = MappingProxyType({
    "tariff_code": AggregatorProfile(
        "tariff_code", "PSMS", _encode_tariff, _decode_tariff,
        _errors(e069="insufficient_credit", e070="barred", e071="charging_failed",
                e072="spending_limit"),
    ),
    "amount_tlv": AggregatorProfile(
        "amount_tlv", "DON", _encode_amount, _decode_amount,
        _errors(e100="insufficient_credit", e101="barred", e102="charging_failed",
                e103="spending_limit"),
    ),
    "smpp50": AggregatorProfile(
        "smpp50", "", _encode_smpp50, _decode_smpp50,
        _errors(e201="insufficient_credit", e202="barred", e203="charging_failed"),
    ),
})


def get_profile(name: str) -> AggregatorProfile:
    try:
        return PROFILES[name]
    except KeyError:
        raise KeyError(f"unknown aggregator profile {name!r}; known: "
                       + ", ".join(sorted(PROFILES))) from None
