"""Donation reports and the itemization export, on a real ledger."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, timedelta

import asyncpg
import pytest

from gateway.finance.formats import CARRIER_DEFAULT
from gateway.finance.importer import import_settlement
from gateway.finance.itemization import itemization, itemization_csv
from gateway.finance.reports import donation_report, report_csv
from gateway.finance.summary import reconciliation
from tests.support.finance_ledger import NOW, details, gift

DAY1 = datetime(2024, 5, 1, 15, 0, tzinfo=UTC)
DAY2 = datetime(2024, 5, 2, 3, 30, tzinfo=UTC)  # still May 1st in New York
CARRIER_HEADER = "message_id,carrier,amount,fee,settlement_date\n"


async def ledger(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        a = await gift(conn, amount=1000, at=DAY1, keyword="GIVE")
        await gift(conn, amount=500, at=DAY1, keyword="GIVE", program="green")
        await gift(conn, method="card", amount=2500, at=DAY2, keyword="DONATE",
                   refunded=500)
        await gift(conn, method="card", amount=1000, at=DAY2, keyword="DONATE", disputed=True)
        await gift(conn, amount=1000, at=DAY2, outcome="billed_unknown")  # not money taken
        await gift(conn, amount=1000, at=DAY2, outcome="failed")
        await gift(conn, amount=1000, at=DAY1 - timedelta(days=40))  # outside the period
    data = f"{CARRIER_HEADER}{a.message_id},Verizon,10.00,3.00,2024-08-01\n".encode()
    await import_settlement(pool, "aug.csv", data, CARRIER_DEFAULT)


async def test_grouped_by_day_on_the_legal_date_of_receipt(pool: asyncpg.Pool) -> None:
    await ledger(pool)
    report = await donation_report(pool, date_from=date(2024, 5, 1), date_to=date(2024, 5, 2),
                                   group_by="day", now=NOW)
    rows = {r.group: r.cents() for r in report.rows}
    assert set(rows) == {"2024-05-01", "2024-05-02"}
    may1, may2 = rows["2024-05-01"], rows["2024-05-02"]
    assert (may1["count"], may1["gross_cents"], may1["fees_cents"], may1["net_cents"],
            may1["settled_cents"], may1["pending_settlement_cents"]) == \
        (2, 1500, 300, 1200, 1000, 500)
    assert (may2["count"], may2["gross_cents"], may2["refunds_disputes_cents"],
            may2["net_cents"], may2["pending_settlement_cents"]) == (2, 3500, 1500, 2000, 3000)
    [total] = report.totals
    assert (total.count, total.gross_cents, total.net_cents) == (4, 5000, 3200)

    new_york = await donation_report(pool, date_from=date(2024, 5, 1),
                                      date_to=date(2024, 5, 1), group_by="day",
                                      timezone="America/New_York", now=NOW)
    assert [(r.group, r.count) for r in new_york.rows] == [("2024-05-01", 4)]


@pytest.mark.parametrize(("group_by", "groups"), [
    ("keyword", {"GIVE": 2, "DONATE": 2}),
    ("program", {"rise": 3, "green": 1}),
    ("carrier", {"Verizon": 1, "unknown": 1, "card": 2}),
    ("method", {"carrier": 2, "card": 2}),
])
async def test_other_groupings(pool: asyncpg.Pool, group_by: str, groups: dict[str, int]) -> None:
    await ledger(pool)
    report = await donation_report(pool, date_from=date(2024, 5, 1), date_to=date(2024, 5, 2),
                                   group_by=group_by, now=NOW)
    assert {r.group: r.count for r in report.rows} == groups


async def test_the_csv_download_and_json_agree_with_the_summary(pool: asyncpg.Pool) -> None:
    await ledger(pool)
    data = await report_csv(pool, date_from=date(2024, 1, 1), date_to=date(2024, 12, 31),
                            group_by="method")
    rows = list(csv.DictReader(io.StringIO(data.decode())))
    assert rows[-1]["group"] == "total" and rows[-1]["gross"] == "60.00"
    assert [r["group"] for r in rows] == ["card", "carrier", "total"]
    report = await donation_report(pool, date_from=date(2024, 1, 1),
                                   date_to=date(2024, 12, 31), group_by="method", now=NOW)
    doc = json.loads(report.json())
    summary = await reconciliation(pool, now=NOW)
    pending = sum(s.pending_cents for s in summary.sources.values())
    settled = sum(s.settled_cents for s in summary.sources.values())
    assert doc["totals"][0]["pending_settlement_cents"] == pending
    assert doc["totals"][0]["settled_cents"] == settled
    assert "total" in report.table()
    with pytest.raises(ValueError, match="group_by must be one of"):
        await donation_report(pool, date_from=date(2024, 1, 1), date_to=date(2024, 1, 2),
                              group_by="weekday")


async def test_itemization_lists_each_gift_of_donors_over_200_dollars(
        pool: asyncpg.Pool) -> None:
    big, small = "+12125550111", "+12125550122"
    async with pool.acquire() as conn:
        await details(conn, big)
        await details(conn, small, name="Bob")
        early = await gift(conn, method="card", amount=15000, msisdn=big,
                           at=datetime(2024, 2, 1, tzinfo=UTC))
        await gift(conn, method="card", amount=5000, msisdn=big,
                   at=datetime(2024, 5, 1, tzinfo=UTC))
        last = await gift(conn, amount=1000, msisdn=big, at=datetime(2024, 5, 20, tzinfo=UTC))
        await gift(conn, method="card", amount=5000, msisdn=big, refunded=5000,
                   at=datetime(2024, 5, 21, tzinfo=UTC))
        await gift(conn, method="card", amount=20000, msisdn=small,
                   at=datetime(2024, 5, 2, tzinfo=UTC))  # exactly $200: not over
    rows = await itemization(pool, committee=None, date_from=date(2024, 4, 1),
                             date_to=date(2024, 6, 30), cycle_start=date(2023, 1, 1))
    assert [(r.donor, r.date.isoformat(), r.amount_cents, r.aggregate_cents) for r in rows] == [
        (big, "2024-05-01", 5000, 20000), (big, "2024-05-20", 1000, 21000)]
    assert rows[1].donation_id == last.id and early.id not in {r.donation_id for r in rows}
    [header, first, _] = list(csv.reader(io.StringIO(itemization_csv(rows).decode())))
    record = dict(zip(header, first, strict=True))
    assert (record["name"], record["street"], record["employer"], record["occupation"],
            record["amount"], record["aggregate_to_date"]) == \
        ("Ada Lovelace", "1 Main St", "Analytical Engines", "Engineer", "50.00", "200.00")
