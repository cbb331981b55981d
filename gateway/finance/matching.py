"""Each ledger donation against the settled lines that name it: a status and four buckets. Pure.

Why buckets that partition the ledger amount: finance's identity is
`ledger total = settled + pending + written off + unmatched`, to the cent,
per source. Splitting every donation's own amount L into exactly those four
parts makes the identity a property of each row, so a total that does not
add up points at a bug (a donation counted twice, a line matched twice),
never at rounding. With P the payments and A the money taken back
(refunds, chargebacks, write-offs) that the settlement reports for it, and
R the refunds our own ledger recorded:

    written_off = min(L, max(R, A, 0))          adjusted: refunded, charged back, written off
    expected    = L - written_off               what should still arrive
    no line:      pending   = expected          in ledger, not settled (with its age)
    lines:        settled   = clamp(P - A, 0, expected); unmatched = expected - settled
    status:       P - A == expected -> matched (adjusted if written_off > 0), else amount mismatch

Lines naming no ledger donation (or one the ledger never charged, or in
another currency) are "settled, unknown in ledger"; payouts and fees are
the account's, not a donation's.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from gateway.finance.lines import ACCOUNT, ADJUSTMENTS, PAYMENT, SOURCE_OF_METHOD
from gateway.store.finance import LedgerItem, MatchedLine

MATCHED = "matched"
AMOUNT_MISMATCH = "amount_mismatch"
NOT_SETTLED = "in_ledger_not_settled"
UNKNOWN_IN_LEDGER = "settled_unknown_in_ledger"
ADJUSTED = "adjusted"
BILLED_UNKNOWN = "billed_unknown"  # a carrier send cut off: not in the ledger total
STATUSES = (MATCHED, AMOUNT_MISMATCH, NOT_SETTLED, UNKNOWN_IN_LEDGER, ADJUSTED)


@dataclass(frozen=True, slots=True)
class Reconciled:
    """One ledger donation: its status and its amount split into the four buckets."""

    item: LedgerItem
    source: str
    status: str
    settled_cents: int
    pending_cents: int
    written_off_cents: int
    unmatched_cents: int
    received_cents: int  # payments - money taken back, per the settlement
    fee_cents: int
    age_days: int
    lines: tuple[MatchedLine, ...] = ()

    @property
    def over_settled_cents(self) -> int:
        return max(0, self.received_cents - (self.item.amount_cents - self.written_off_cents)) \
            if self.lines else 0

    @property
    def carrier(self) -> str | None:
        return next((line.carrier for line in self.lines if line.carrier), None)


@dataclass(frozen=True, slots=True)
class UnknownLine:
    line: MatchedLine
    reason: str


@dataclass(slots=True)
class Reconciliation:
    donations: list[Reconciled] = field(default_factory=list)
    unknown: list[UnknownLine] = field(default_factory=list)
    billed_unknown: list[tuple[LedgerItem, tuple[MatchedLine, ...]]] = field(
        default_factory=list)
    account: list[MatchedLine] = field(default_factory=list)


def reconcile(ledger: Sequence[LedgerItem], lines: Sequence[MatchedLine], *,
              now: datetime) -> Reconciliation:
    result = Reconciliation()
    items = {item.id: item for item in ledger}
    by_donation: dict[int, list[MatchedLine]] = defaultdict(list)
    for line in lines:
        item = items.get(line.donation_id) if line.donation_id is not None else None
        if line.kind in ACCOUNT:
            result.account.append(line)
        elif item is None:
            result.unknown.append(UnknownLine(line, _why_unknown(line)))
        elif item.currency != line.currency:
            result.unknown.append(UnknownLine(line, f"donation {item.id} is in "
                                                    f"{item.currency}, the line in "
                                                    f"{line.currency}"))
        elif item.billed_unknown:
            result.unknown.append(UnknownLine(line, f"donation {item.id} was cut off mid-send "
                                                    "(billed_unknown): the carrier billed it"))
            by_donation[item.id].append(line)
        else:
            by_donation[item.id].append(line)
    for item in ledger:
        found = tuple(by_donation.get(item.id, ()))
        if item.billed_unknown:
            result.billed_unknown.append((item, found))
        else:
            result.donations.append(classify(item, found, now=now))
    return result


def classify(item: LedgerItem, lines: Sequence[MatchedLine], *, now: datetime) -> Reconciled:
    # In settlement order, not import order: what is shown first must not depend on
    # which file came in first.
    lines = sorted(lines, key=lambda line: (line.settled_on, line.row_key))
    amount = item.amount_cents
    paid = sum(line.amount_cents for line in lines if line.kind == PAYMENT)
    taken_back = -sum(line.amount_cents for line in lines if line.kind in ADJUSTMENTS)
    written_off = min(amount, max(item.refunded_cents, taken_back, 0))
    expected = amount - written_off
    received = paid - taken_back
    if lines:
        settled, pending = min(max(received, 0), expected), 0
        status = AMOUNT_MISMATCH if received != expected else ADJUSTED if written_off else MATCHED
    else:
        settled, pending = 0, expected
        status = ADJUSTED if expected == 0 else NOT_SETTLED
    since = item.outcome_at or item.confirmed_at
    return Reconciled(
        item=item, source=SOURCE_OF_METHOD[item.method], status=status, settled_cents=settled,
        pending_cents=pending, written_off_cents=written_off,
        unmatched_cents=expected - settled - pending, received_cents=received if lines else 0,
        fee_cents=sum(line.fee_cents for line in lines), age_days=max(0, (now - since).days),
        lines=tuple(lines))


def _why_unknown(line: MatchedLine) -> str:
    if line.donation_id is not None:
        return f"donation {line.donation_id}: the ledger has no billed or charged outcome"
    refs = [f"{name} {value}" for name, value in (
        ("message id", line.message_id), ("donation ref", line.donation_ref),
        ("payment", line.payment_ref)) if value is not None]
    return f"no donation for {', '.join(refs)}" if refs else "the line names no donation"
