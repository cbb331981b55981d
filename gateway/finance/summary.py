"""The reconciliation summary: per source, the ledger total and where every cent of it is.

`ledger = settled + pending + written_off + unmatched` holds per donation by
construction (finance/matching.py); here it is summed per source and checked
again against the ledger's own total, read by a separate query, so a
donation left out or counted twice shows as `identity_holds: false`.
The exceptions are every row finance has to look at: each donation not
plainly matched, each line unknown in the ledger, each billed_unknown gift,
and each signed Stripe event that disagreed with its donation and was not
applied (`stripe_event_mismatch`, billing/event_checks.py).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from gateway.finance import matching
from gateway.finance.conn import Db, connection
from gateway.finance.lines import SOURCE_OF_METHOD, SOURCES
from gateway.finance.matching import Reconciliation
from gateway.finance.money import format_cents
from gateway.finance.render import to_csv, to_table
from gateway.store import finance as store
from gateway.store import stripe_mismatches

AGE_BUCKETS = ((30, "0-30 days"), (90, "31-90 days"), (120, "91-120 days"),
               (None, "over 120 days"))
STRIPE_EVENT_MISMATCH = "stripe_event_mismatch"
EXCEPTION_COLUMNS = ("source", "status", "donation_id", "ledger_amount", "received",
                     "difference", "age_days", "file", "line", "row_key", "reference", "reason")


@dataclass(slots=True)
class SourceSummary:
    source: str
    ledger_count: int = 0
    ledger_cents: int = 0
    ledger_check_cents: int = 0  # the ledger view's own total (independent query)
    settled_cents: int = 0
    pending_cents: int = 0
    written_off_cents: int = 0
    unmatched_cents: int = 0
    over_settled_cents: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    pending_by_age: dict[str, int] = field(
        default_factory=lambda: {label: 0 for _, label in AGE_BUCKETS})
    unknown_count: int = 0
    unknown_cents: int = 0
    lines: int = 0
    gross_cents: int = 0
    fee_cents: int = 0
    net_cents: int = 0
    payouts_cents: int = 0
    billed_unknown_count: int = 0
    billed_unknown_cents: int = 0
    billed_unknown_settled: int = 0

    @property
    def identity_holds(self) -> bool:
        parts = self.settled_cents + self.pending_cents + self.written_off_cents + \
            self.unmatched_cents
        return self.ledger_cents == parts == self.ledger_check_cents

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "ledger": {"count": self.ledger_count, "total_cents": self.ledger_cents},
            "settled_cents": self.settled_cents, "pending_cents": self.pending_cents,
            "written_off_cents": self.written_off_cents,
            "unmatched_cents": self.unmatched_cents,
            "identity_holds": self.identity_holds,
            "statuses": {s: self.statuses.get(s, 0) for s in matching.STATUSES},
            "pending_by_age_cents": self.pending_by_age,
            "over_settled_cents": self.over_settled_cents,
            "settled_unknown_in_ledger": {"count": self.unknown_count,
                                          "cents": self.unknown_cents},
            "settlement": {"lines": self.lines, "gross_cents": self.gross_cents,
                           "fee_cents": self.fee_cents, "net_cents": self.net_cents,
                           "payouts_cents": self.payouts_cents},
            "billed_unknown": {"count": self.billed_unknown_count,
                               "cents": self.billed_unknown_cents,
                               "settled": self.billed_unknown_settled},
        }


@dataclass(slots=True)
class Summary:
    as_of: datetime
    sources: dict[str, SourceSummary]
    exceptions: list[dict[str, Any]]

    @property
    def identity_holds(self) -> bool:
        return all(s.identity_holds for s in self.sources.values())

    def as_dict(self) -> dict[str, Any]:
        return {"as_of": self.as_of.isoformat(), "identity_holds": self.identity_holds,
                "sources": {k: v.as_dict() for k, v in self.sources.items()},
                "exceptions": len(self.exceptions)}

    def table(self) -> str:
        rows = []
        for s in self.sources.values():
            rows.append({"source": s.source, "donations": s.ledger_count,
                         "ledger": format_cents(s.ledger_cents),
                         "settled": format_cents(s.settled_cents),
                         "pending": format_cents(s.pending_cents),
                         "written off": format_cents(s.written_off_cents),
                         "unmatched": format_cents(s.unmatched_cents),
                         "adds up": "yes" if s.identity_holds else "NO",
                         "unknown in ledger": format_cents(s.unknown_cents),
                         "fees": format_cents(s.fee_cents)})
        columns = ("source", "donations", "ledger", "settled", "pending", "written off",
                   "unmatched", "adds up", "unknown in ledger", "fees")
        text = to_table(rows, columns, right=columns[1:])
        counts = [f"{s.source}: " + ", ".join(f"{k} {s.statuses.get(k, 0)}"
                                              for k in matching.STATUSES)
                  + f", billed_unknown {s.billed_unknown_count}"
                  for s in self.sources.values()]
        return text + "\n" + "\n".join(counts) + \
            f"\n\n{len(self.exceptions)} exceptions (--exceptions-csv FILE lists them)\n"

    def exceptions_csv(self) -> bytes:
        return to_csv(self.exceptions, EXCEPTION_COLUMNS)


async def reconciliation(db: Db, *, now: datetime | None = None) -> Summary:
    """Everything in the ledger against everything imported, as of `now`."""
    now = now or datetime.now(UTC)
    async with connection(db) as conn:
        # One snapshot for the three reads; inside a caller's transaction, theirs.
        snapshot = conn.transaction() if conn.is_in_transaction() else \
            conn.transaction(isolation="repeatable_read", readonly=True)
        async with snapshot:
            ledger = await store.list_ledger(conn)
            lines = await store.list_lines(conn)
            totals = await store.ledger_totals(conn)
            mismatches = await stripe_mismatches.list_all(conn)
    return summarize(matching.reconcile(ledger, lines, now=now), totals, now=now,
                     mismatches=mismatches)


def summarize(found: Reconciliation, totals: dict[str, tuple[int, int]], *,
              now: datetime, mismatches: Sequence[stripe_mismatches.MismatchRow] = ()
              ) -> Summary:
    sources = {s: SourceSummary(s) for s in SOURCES}
    for method, (_, cents) in totals.items():
        sources[SOURCE_OF_METHOD[method]].ledger_check_cents = cents
    exceptions: list[dict[str, Any]] = []
    for d in found.donations:
        s = sources[d.source]
        s.ledger_count += 1
        s.ledger_cents += d.item.amount_cents
        s.settled_cents += d.settled_cents
        s.pending_cents += d.pending_cents
        s.written_off_cents += d.written_off_cents
        s.unmatched_cents += d.unmatched_cents
        s.over_settled_cents += d.over_settled_cents
        s.statuses[d.status] += 1
        if d.pending_cents:
            s.pending_by_age[_age_bucket(d.age_days)] += d.pending_cents
        if d.status != matching.MATCHED:
            exceptions.append(_donation_exception(d))
    for u in found.unknown:
        s = sources[u.line.source]
        s.unknown_count += 1
        s.unknown_cents += u.line.amount_cents
        s.statuses[matching.UNKNOWN_IN_LEDGER] += 1
        exceptions.append(_line_exception(u.line, matching.UNKNOWN_IN_LEDGER, u.reason))
    for item, lines in found.billed_unknown:
        s = sources[SOURCE_OF_METHOD[item.method]]
        s.billed_unknown_count += 1
        s.billed_unknown_cents += item.amount_cents
        s.billed_unknown_settled += bool(lines)
        exceptions.append({
            "source": "carrier", "status": matching.BILLED_UNKNOWN, "donation_id": item.id,
            "ledger_amount": format_cents(item.amount_cents), "received": format_cents(
                sum(x.amount_cents for x in lines)),
            "age_days": max(0, (now - item.confirmed_at).days),
            "reason": "billed MT cut off mid-send: settled by the carrier" if lines else
            "billed MT cut off mid-send: not in any settlement yet"})
    for line in [*found.account, *(x for d in found.donations for x in d.lines),
                 *(u.line for u in found.unknown)]:
        s = sources[line.source]
        s.lines += 1
        s.gross_cents += line.amount_cents
        s.fee_cents += line.fee_cents
        s.net_cents += line.net_cents
        if line.kind == "payout":
            s.payouts_cents += line.amount_cents
    exceptions.extend(_mismatch_exception(m, now) for m in mismatches)
    exceptions.sort(key=lambda r: (r["source"], r["status"], r["donation_id"] or 0,
                                   str(r.get("row_key") or "")))
    return Summary(now, sources, exceptions)


def _age_bucket(days: int) -> str:
    return next(label for limit, label in AGE_BUCKETS if limit is None or days <= limit)


def _donation_exception(d: matching.Reconciled) -> dict[str, Any]:
    first = d.lines[0] if d.lines else None
    expected = d.item.amount_cents - d.written_off_cents
    reason = {
        matching.NOT_SETTLED: f"not settled after {d.age_days} days",
        matching.AMOUNT_MISMATCH: f"expected {format_cents(expected)}, settlement says "
                                  f"{format_cents(d.received_cents)}",
        matching.ADJUSTED: ", ".join(sorted({x.kind for x in d.lines if x.kind != "payment"}
                                            | ({"refund (ledger)"} if d.item.refunded_cents
                                               else set()))),
    }.get(d.status, "")
    return {
        "source": d.source, "status": d.status, "donation_id": d.item.id,
        "ledger_amount": format_cents(d.item.amount_cents),
        "received": format_cents(d.received_cents),
        "difference": format_cents(d.received_cents - expected) if d.lines else "",
        "age_days": d.age_days, "file": first.file if first else "",
        "line": first.line_no if first else "", "row_key": first.row_key if first else "",
        "reference": _reference(first) if first else "", "reason": reason}


def _line_exception(line: store.MatchedLine, status: str, reason: str) -> dict[str, Any]:
    return {"source": line.source, "status": status, "donation_id": line.donation_id,
            "ledger_amount": "", "received": format_cents(line.amount_cents),
            "difference": format_cents(line.amount_cents), "age_days": "",
            "file": line.file, "line": line.line_no, "row_key": line.row_key,
            "reference": _reference(line), "reason": reason}


def _mismatch_exception(m: stripe_mismatches.MismatchRow, now: datetime) -> dict[str, Any]:
    received = "" if m.amount_cents is None else format_cents(
        m.amount_cents, m.currency or m.donation_currency)
    return {"source": "stripe", "status": STRIPE_EVENT_MISMATCH, "donation_id": m.donation_id,
            "ledger_amount": format_cents(m.donation_cents, m.donation_currency),
            "received": received, "difference": "",
            "age_days": max(0, (now - m.event_at).days), "file": "", "line": "",
            "row_key": m.event_id, "reference": m.event_type,
            "reason": f"{m.event_type} not applied: {m.problem} {m.received}, the "
                      f"{m.method} gift says {m.expected}"}


def _reference(line: store.MatchedLine) -> str:
    return line.message_id or line.payment_ref or (
        str(line.donation_ref) if line.donation_ref is not None else "")
