"""Donation reports: how much we raised, grouped by day, keyword, program, carrier or method.

Dates are the legal date of receipt (the YES, `confirmed_at`) in the
configured zone, never the settlement date; the `to` day is included. Only
donations whose money was taken (billed, charged) count; each is run
through the same matcher as the reconciliation, so `settled` and
`pending_settlement` here agree with the summary to the cent.

Columns, all integer cents until printed: gross; refunds and disputes (the
ledger's refunds, plus the unrefunded rest of a disputed gift); fees (from
the settlement lines, so known once settled); net = gross - refunds and
disputes - fees; settled; pending settlement. Rows are per group and
currency: dollars and euros are never added together.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from gateway.finance import matching
from gateway.finance.conn import Db, connection
from gateway.finance.lines import ACCOUNT
from gateway.finance.money import format_cents
from gateway.finance.render import to_csv, to_json, to_table
from gateway.store import finance as store

GROUPS: Final = ("day", "keyword", "program", "carrier", "method")
COLUMNS: Final = ("group", "currency", "count", "gross", "refunds_disputes", "fees", "net",
                  "settled", "pending_settlement")


@dataclass(slots=True)
class ReportRow:
    group: str
    currency: str
    count: int = 0
    gross_cents: int = 0
    refunds_disputes_cents: int = 0
    fees_cents: int = 0
    settled_cents: int = 0
    pending_settlement_cents: int = 0

    @property
    def net_cents(self) -> int:
        return self.gross_cents - self.refunds_disputes_cents - self.fees_cents

    def add(self, d: matching.Reconciled) -> None:
        item = d.item
        self.count += 1
        self.gross_cents += item.amount_cents
        self.refunds_disputes_cents += item.amount_cents if item.disputed else \
            item.refunded_cents
        self.fees_cents += d.fee_cents
        self.settled_cents += d.settled_cents
        self.pending_settlement_cents += d.pending_cents

    def cents(self) -> dict[str, Any]:
        out: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)}
        return {**out, "net_cents": self.net_cents}

    def printed(self) -> dict[str, Any]:
        money = {name.removesuffix("_cents"): format_cents(value, self.currency)
                 for name, value in self.cents().items() if name.endswith("_cents")}
        return {"group": self.group, "currency": self.currency, "count": self.count, **money}


@dataclass(slots=True)
class Report:
    date_from: date
    date_to: date
    group_by: str
    timezone: str
    rows: list[ReportRow]
    totals: list[ReportRow]  # one per currency

    def as_dict(self) -> dict[str, Any]:
        return {"from": self.date_from.isoformat(), "to": self.date_to.isoformat(),
                "group_by": self.group_by, "timezone": self.timezone,
                "rows": [r.cents() for r in self.rows],
                "totals": [r.cents() for r in self.totals]}

    def csv(self) -> bytes:
        return to_csv([r.printed() for r in (*self.rows, *self.totals)], COLUMNS)

    def json(self) -> bytes:
        return to_json(self.as_dict())

    def table(self) -> str:
        return to_table([r.printed() for r in (*self.rows, *self.totals)], COLUMNS,
                        right=COLUMNS[2:])


async def donation_report(db: Db, *, date_from: date, date_to: date, group_by: str = "day",
                          timezone: str = "UTC", committee: str | None = None,
                          now: datetime | None = None) -> Report:
    if group_by not in GROUPS:
        raise ValueError(f"group_by must be one of {', '.join(GROUPS)}, not {group_by!r}")
    if date_to < date_from:
        raise ValueError(f"the report ends ({date_to}) before it starts ({date_from})")
    zone = ZoneInfo(timezone)
    start = datetime.combine(date_from, time(), zone)
    end = datetime.combine(date_to + timedelta(days=1), time(), zone)
    now = now or datetime.now(UTC)
    async with connection(db) as conn:
        ledger = [item for item in await store.list_ledger(
            conn, confirmed_from=start, confirmed_to=end, committee=committee)
            if not item.billed_unknown]
        lines = await store.list_lines(conn, [item.id for item in ledger])
    by_donation: dict[int, list[store.MatchedLine]] = {}
    for line in lines:
        if line.donation_id is not None and line.kind not in ACCOUNT:
            by_donation.setdefault(line.donation_id, []).append(line)
    rows: dict[tuple[str, str], ReportRow] = {}
    totals: dict[str, ReportRow] = {}
    for item in ledger:
        found = [x for x in by_donation.get(item.id, []) if x.currency == item.currency]
        d = matching.classify(item, found, now=now)
        key = (_group(d, group_by, zone), item.currency)
        rows.setdefault(key, ReportRow(*key)).add(d)
        totals.setdefault(item.currency, ReportRow("total", item.currency)).add(d)
    return Report(date_from, date_to, group_by, timezone,
                  [rows[k] for k in sorted(rows)], [totals[c] for c in sorted(totals)])


async def report_csv(db: Db, *, date_from: date, date_to: date, group_by: str = "day",
                     timezone: str = "UTC", committee: str | None = None) -> bytes:
    """The report as a CSV download (amounts as decimal strings, a total row per currency)."""
    return (await donation_report(db, date_from=date_from, date_to=date_to, group_by=group_by,
                                  timezone=timezone, committee=committee)).csv()


def _group(d: matching.Reconciled, group_by: str, zone: ZoneInfo) -> str:
    item = d.item
    if group_by == "day":
        return item.confirmed_at.astimezone(zone).date().isoformat()
    if group_by == "carrier":
        return "card" if item.method == "card" else (d.carrier or "unknown")
    return str(getattr(item, group_by))
