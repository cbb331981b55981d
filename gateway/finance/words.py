"""Plain words for the reconciliation statuses `matching.py` gives a ledger donation.

Shown by the `plain` filter (`{{ e.status | plain("reconciliation") }}`);
tests/test_plain_words.py fails when a status in `matching` has no words.
"""

from __future__ import annotations

from typing import Final

from gateway.finance import matching
from gateway.plain_words import N_, Words

RECONCILIATION_WORDS: Final[Words] = {
    matching.MATCHED: N_("Settled in full"),
    matching.AMOUNT_MISMATCH: N_("Settled, but for a different amount"),
    matching.NOT_SETTLED: N_("In our ledger, not yet paid out by the processor"),
    matching.UNKNOWN_IN_LEDGER: N_("Paid out by the processor, not in our ledger"),
    matching.ADJUSTED: N_("Refunded, charged back or written off"),
    matching.BILLED_UNKNOWN: N_("Carrier charge cut off: unknown whether billed"),
}
