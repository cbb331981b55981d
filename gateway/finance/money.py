"""Money as integer cents, parsed from text exactly: never through a float.

Why integer arithmetic on the digits rather than `Decimal` arithmetic: a
settlement amount is a short decimal string, and splitting it at the point
says everything (sign, units, fraction) with nothing to round. A float is
refused outright, so `0.1 + 0.2`-style drift cannot enter anywhere: every
amount that reaches the database came through `parse_amount` (text) or is
already an int from an API that counts in minor units (Stripe).
"""

from __future__ import annotations

import re
from typing import Final

# ISO 4217 minor units of the currencies we accept; anything else is a bad row.
MINOR_UNITS: Final = {"USD": 2, "EUR": 2, "CAD": 2, "GBP": 2}

_AMOUNT = re.compile(r"(?P<sign>[-+]?)(?P<units>\d+)(?:\.(?P<fraction>\d*))?")


class MoneyError(ValueError):
    """An amount or currency we cannot take exactly; the message says what is wrong."""


def currency_code(text: str) -> str:
    """'usd' -> 'USD'; raises MoneyError for a currency we do not know."""
    code = text.strip().upper()
    if code not in MINOR_UNITS:
        known = ", ".join(sorted(MINOR_UNITS))
        raise MoneyError(f"unknown currency {text.strip()!r} (known: {known})")
    return code


def parse_amount(text: str, currency: str = "USD") -> int:
    """'-1,234.5' -> -123450 cents. Parentheses mean negative, as accountants write.

    Refused: floats, more decimals than the currency has, exponents, empty text.
    """
    if not isinstance(text, str):
        raise TypeError(f"parse_amount takes text, not {type(text).__name__}: "
                        "a float cannot hold cents exactly")
    currency = currency_code(currency)
    digits = MINOR_UNITS[currency]
    raw = text.strip().replace(",", "").replace("$", "").replace("€", "").replace("£", "")
    negative = raw.startswith("(") and raw.endswith(")")
    if negative:
        raw = raw[1:-1].strip()
    found = _AMOUNT.fullmatch(raw)
    if found is None:
        raise MoneyError(f"not an amount: {text.strip()!r}")
    fraction = found["fraction"] or ""
    if len(fraction) > digits:
        raise MoneyError(f"{text.strip()!r} has {len(fraction)} decimals; "
                         f"{currency} amounts have at most {digits}")
    cents: int = int(found["units"]) * 10**digits + int(fraction.ljust(digits, "0") or "0")
    if found["sign"] == "-":
        negative = not negative
    return -cents if negative else cents


def parse_cents(text: str) -> int:
    """An amount already in minor units ('1050', '-25'); no decimal point allowed."""
    raw = text.strip()
    if not re.fullmatch(r"[-+]?\d+", raw):
        raise MoneyError(f"not a whole number of cents: {raw!r}")
    return int(raw)


def format_cents(cents: int, currency: str = "USD") -> str:
    """-123450 -> '-1234.50' (no thousands separator: CSV and JSON friendly)."""
    if not isinstance(cents, int) or isinstance(cents, bool):
        raise TypeError(f"format_cents takes int cents, not {type(cents).__name__}")
    digits = MINOR_UNITS.get(currency.upper(), 2)
    sign = "-" if cents < 0 else ""
    units, fraction = divmod(abs(cents), 10**digits)
    return f"{sign}{units}.{fraction:0{digits}d}" if digits else f"{sign}{units}"
