"""Settlement file layouts: which column holds what, and how to read its values.

Why mappings are data: every aggregator and carrier sends its own CSV, and
finance should be able to take a new one with a few lines of TOML (the file
named by GATEWAY_FINANCE_MAPPINGS) rather than a code change. The built-in
ones are the documented default carrier format and Stripe's two CSV exports.

Canonical fields: line_id, message_id, donation_ref, payment_ref, source_ref,
msisdn, carrier, type, amount, fee, net, currency, settled_on, description.
`amount` and `settled_on` are required; every other column may be absent.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from gateway.finance.lines import KINDS, SOURCES
from gateway.finance.money import MoneyError, currency_code

FIELDS: Final = ("line_id", "message_id", "donation_ref", "payment_ref", "source_ref", "msisdn",
                 "carrier", "type", "amount", "fee", "net", "currency", "settled_on",
                 "description")
REQUIRED: Final = ("amount", "settled_on")

# File `type` values -> our line kinds (lower-cased before lookup).
STRIPE_KINDS: Final = {
    "charge": "payment", "payment": "payment",
    "refund": "refund", "payment_refund": "refund", "payment_failure_refund": "refund",
    "partial_capture_reversal": "refund",
    "dispute": "chargeback", "dispute_reversal": "chargeback", "adjustment": "chargeback",
    "payout": "payout", "payout_cancel": "payout", "payout_failure": "payout",
    "stripe_fee": "fee", "fee": "fee", "application_fee": "fee", "tax_fee": "fee",
}
CARRIER_KINDS: Final = {
    "payment": "payment", "billed": "payment", "charge": "payment",
    "adjustment": "write_off", "write_off": "write_off", "writeoff": "write_off",
    "bad_debt": "write_off", "refund": "refund", "chargeback": "chargeback",
}


class MappingError(ValueError):
    """A mapping (built-in or from the TOML file) that cannot be used; says which and why."""


@dataclass(frozen=True, slots=True)
class ColumnMapping:
    name: str
    source: str  # carrier | stripe
    columns: Mapping[str, str]  # canonical field -> the file's header
    kinds: Mapping[str, str] = field(default_factory=dict)  # file type -> kind
    date_formats: tuple[str, ...] = ("%Y-%m-%d",)
    amounts_in: str = "units"  # units ('10.00') or cents ('1000')
    currency: str = "USD"  # when the file has no currency column
    delimiter: str = ","

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise MappingError(f"mapping {self.name}: source must be one of {SOURCES}")
        unknown = sorted(set(self.columns) - set(FIELDS))
        if unknown:
            raise MappingError(f"mapping {self.name}: unknown fields {unknown}; "
                               f"known: {', '.join(FIELDS)}")
        missing = [f for f in REQUIRED if f not in self.columns]
        if missing:
            raise MappingError(f"mapping {self.name}: needs a column for {missing}")
        bad_kinds = sorted({k for k in self.kinds.values() if k not in KINDS})
        if bad_kinds:
            raise MappingError(f"mapping {self.name}: unknown kinds {bad_kinds}; "
                               f"known: {', '.join(sorted(KINDS))}")
        if self.amounts_in not in ("units", "cents"):
            raise MappingError(f"mapping {self.name}: amounts_in is 'units' or 'cents'")
        if len(self.delimiter) != 1:
            raise MappingError(f"mapping {self.name}: delimiter is one character")
        try:
            currency_code(self.currency)
        except MoneyError as err:
            raise MappingError(f"mapping {self.name}: {err}") from None


# The documented default: docs/finance.md ("Settlement files") shows a sample file.
CARRIER_DEFAULT: Final = ColumnMapping(
    name="carrier_default", source="carrier",
    columns={f: f for f in ("line_id", "message_id", "donation_ref", "msisdn", "carrier",
                            "type", "amount", "fee", "net", "currency", "description")}
    | {"settled_on": "settlement_date"},
    kinds=CARRIER_KINDS)

# Dashboard > Balances > Export (all columns), plus the PaymentIntent and the
# donation_ref metadata columns, which the export can include.
STRIPE_BALANCE_CSV: Final = ColumnMapping(
    name="stripe_balance", source="stripe",
    columns={"line_id": "id", "type": "Type", "source_ref": "Source", "amount": "Amount",
             "fee": "Fee", "net": "Net", "currency": "Currency",
             "settled_on": "Created (UTC)", "description": "Description",
             "payment_ref": "Payment Intent ID", "donation_ref": "donation_ref (metadata)"},
    kinds=STRIPE_KINDS, date_formats=("%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d"))

# Reports API: balance_change_from_activity.itemized.*
STRIPE_ITEMIZED_CSV: Final = ColumnMapping(
    name="stripe_itemized", source="stripe",
    columns={"line_id": "balance_transaction_id", "type": "reporting_category",
             "source_ref": "source_id", "amount": "gross", "fee": "fee", "net": "net",
             "currency": "currency", "settled_on": "created_utc",
             "description": "description", "payment_ref": "payment_intent_id",
             "donation_ref": "payment_metadata[donation_ref]"},
    kinds=STRIPE_KINDS, date_formats=("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"))

BUILT_IN: Final = {m.name: m for m in (CARRIER_DEFAULT, STRIPE_BALANCE_CSV, STRIPE_ITEMIZED_CSV)}


def load_mappings(path: Path | None) -> dict[str, ColumnMapping]:
    """The built-in mappings plus those of the TOML file (which may override them)."""
    found = dict(BUILT_IN)
    if path is None:
        return found
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise MappingError(f"cannot read mappings file {path}: {err.strerror}") from None
    except tomllib.TOMLDecodeError as err:
        raise MappingError(f"mappings file {path} is not valid TOML: {err}") from None
    for name, spec in _table(doc.get("mappings", {}), f"{path}: [mappings]").items():
        found[name] = from_toml(name, _table(spec, f"{path}: [mappings.{name}]"))
    return found


def from_toml(name: str, spec: Mapping[str, Any]) -> ColumnMapping:
    allowed = {"source", "columns", "kinds", "date_formats", "amounts_in", "currency",
               "delimiter"}
    unknown = sorted(set(spec) - allowed)
    if unknown:
        raise MappingError(f"mapping {name}: unknown keys {unknown}; known: {sorted(allowed)}")
    source = str(spec.get("source", "carrier"))
    default_kinds = STRIPE_KINDS if source == "stripe" else CARRIER_KINDS
    kinds = {str(k).lower(): str(v) for k, v in _table(spec.get("kinds", {}), name).items()}
    formats = spec.get("date_formats", ["%Y-%m-%d"])
    if not isinstance(formats, list) or not all(isinstance(f, str) for f in formats):
        raise MappingError(f"mapping {name}: date_formats is a list of strftime patterns")
    return ColumnMapping(
        name=name, source=source,
        columns={str(k): str(v) for k, v in _table(spec.get("columns"), name).items()},
        kinds={**default_kinds, **kinds}, date_formats=tuple(formats),
        amounts_in=str(spec.get("amounts_in", "units")),
        currency=str(spec.get("currency", "USD")), delimiter=str(spec.get("delimiter", ",")))


def get_mapping(mappings: Mapping[str, ColumnMapping], name: str) -> ColumnMapping:
    try:
        return mappings[name]
    except KeyError:
        raise MappingError(f"no column mapping named {name!r}; known: "
                           f"{', '.join(sorted(mappings))}") from None


def _table(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise MappingError(f"{where}: expected a table")
    return value
