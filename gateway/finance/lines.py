"""The shared vocabulary of finance: sources, line kinds, a bad-row problem.

A line (`SettlementLine`, defined with its table in store/finance.py) is what
a carrier file or Stripe says about money, normalized: signed integer cents
(negative = taken back), a kind, and whatever references it carries to find
its donation. Parsers make them; the store keeps them; the matcher reads them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from gateway.store.finance import SettlementLine

__all__ = ["ACCOUNT", "ADJUSTMENTS", "KINDS", "PAYMENT", "SOURCES", "SOURCE_OF_METHOD",
           "Problem", "SettlementLine"]

SOURCES: Final = ("carrier", "stripe")
# Which source settles a donation of each ledger method.
SOURCE_OF_METHOD: Final = {"carrier": "carrier", "card": "stripe"}

PAYMENT: Final = "payment"
ADJUSTMENTS: Final = frozenset({"refund", "chargeback", "write_off"})
# Account-level money (payouts to the bank, Stripe's own fees): not a donation's.
ACCOUNT: Final = frozenset({"fee", "payout", "other"})
KINDS: Final = frozenset({PAYMENT, *ADJUSTMENTS, *ACCOUNT})


@dataclass(frozen=True, slots=True)
class Problem:
    """One bad row (or file): where it is and what is wrong, for a person to fix."""

    file: str
    line: int
    column: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}"
        return f"{where}: {self.column}: {self.message}" if self.column else \
            f"{where}: {self.message}"

    def as_dict(self) -> dict[str, object]:
        return {"file": self.file, "line": self.line, "column": self.column,
                "message": self.message}
