"""The itemization export for regulatory filings (FEC Schedule A style).

Each donor (a number, per committee, as the limits count them) whose
aggregate for the cycle passes the threshold ($200 by default) is
itemized: every contribution received in the filing period, with the
donor's name, address, employer and occupation as last given, the date of
receipt (the YES) and amount, and the aggregate to date as of that
contribution. Contributions count net of refunds; a billed_unknown gift
is not a contribution until the carrier settles it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from gateway.finance.conn import Db, connection
from gateway.finance.money import format_cents
from gateway.finance.render import to_csv, to_json
from gateway.store import donations as donation_store
from gateway.store import finance as store

THRESHOLD_CENTS: Final = 20_000
COLUMNS: Final = ("committee", "donor", "name", "street", "city", "region", "postal_code",
                  "country", "employer", "occupation", "donation_id", "method", "date",
                  "amount", "aggregate_to_date", "currency")


@dataclass(frozen=True, slots=True)
class ItemizedContribution:
    committee: str
    donor: str  # the donor's number
    details: dict[str, str | None]  # name, street, city, region, postal_code, country, ...
    donation_id: int
    method: str
    date: date  # legal date of receipt, in the report's zone
    amount_cents: int  # net of refunds
    aggregate_cents: int  # cycle to date, this contribution included
    currency: str

    def row(self, *, printed: bool) -> dict[str, Any]:
        money = (lambda c: format_cents(c, self.currency)) if printed else (lambda c: c)
        return {"committee": self.committee, "donor": self.donor, **self.details,
                "donation_id": self.donation_id, "method": self.method,
                "date": self.date.isoformat(), "amount": money(self.amount_cents),
                "aggregate_to_date": money(self.aggregate_cents), "currency": self.currency}


async def itemization(db: Db, *, committee: str | None, date_from: date, date_to: date,
                      cycle_start: date, threshold_cents: int = THRESHOLD_CENTS,
                      timezone: str = "UTC") -> list[ItemizedContribution]:
    """Contributions received in [from, to] (days) by donors over the threshold for the cycle."""
    if cycle_start > date_from:
        raise ValueError(f"the cycle ({cycle_start}) must start by the period ({date_from})")
    zone = ZoneInfo(timezone)
    start = datetime.combine(cycle_start, time(), zone)
    end = datetime.combine(date_to + timedelta(days=1), time(), zone)
    async with connection(db) as conn:
        ledger = [i for i in await store.list_ledger(conn, confirmed_from=start,
                                                     confirmed_to=end, committee=committee)
                  if not i.billed_unknown and i.amount_cents > i.refunded_cents]
        by_donor: dict[tuple[str, str], list[store.LedgerItem]] = defaultdict(list)
        for item in ledger:
            by_donor[(item.msisdn, item.committee)].append(item)
        over = [k for k, gifts in by_donor.items()
                if sum(g.amount_cents - g.refunded_cents for g in gifts) > threshold_cents]
        known = await donation_store.list_donor_details(conn, over)
    itemized = []
    for key in sorted(over):
        facts = known.get(key)
        details = {name: getattr(facts, name) if facts else None for name in (
            "name", "street", "city", "region", "postal_code", "country", "employer",
            "occupation")}
        aggregate = 0
        for item in sorted(by_donor[key], key=lambda i: (i.confirmed_at, i.id)):
            amount = item.amount_cents - item.refunded_cents
            aggregate += amount
            day = item.confirmed_at.astimezone(zone).date()
            if day >= date_from:
                itemized.append(ItemizedContribution(
                    item.committee, item.msisdn, details, item.id, item.method, day, amount,
                    aggregate, item.currency))
    return itemized


def itemization_csv(rows: list[ItemizedContribution]) -> bytes:
    return to_csv([r.row(printed=True) for r in rows], COLUMNS)


def itemization_json(rows: list[ItemizedContribution]) -> bytes:
    return to_json([r.row(printed=False) for r in rows])
