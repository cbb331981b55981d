"""Finance over HTTP: the report (JSON, CSV, the page and its chart), the reconciliation
summary and exceptions, and settlement uploads by API and by the page's form.

Ledger rows come from tests/support/finance_ledger.py (the store, no SMPP); every
download and upload must leave its audit row.
"""

from __future__ import annotations

from datetime import UTC, datetime

import aiohttp
import asyncpg

from tests.support.finance_ledger import gift
from tests.support.pages_site import form_token
from tests.support.webapi import WebApi

AT = datetime(2024, 9, 2, 15, 0, tzinfo=UTC)
PERIOD = {"date_from": "2024-09-01", "date_to": "2024-09-03"}
SETTLEMENT = (
    "line_id,message_id,donation_ref,msisdn,carrier,amount,fee,net,currency,settlement_date\n"
    "L1,{message_id},,+12125550100,Verizon,10.00,3.00,7.00,USD,2024-12-01\n"
    "L2,,,+12125550100,Verizon,ten,0.00,0.00,USD,2024-12-01\n"
)



async def actions(pool: asyncpg.Pool) -> list[str]:
    async with pool.acquire() as conn:
        return [r["action"] for r in await conn.fetch("SELECT action FROM audit_log ORDER BY id")]


async def test_report_as_json_and_as_an_audited_csv(pool: asyncpg.Pool, site: WebApi) -> None:
    async with pool.acquire() as conn:
        await gift(conn, at=AT, amount=1000)
        await gift(conn, at=AT, amount=500, msisdn="+12125550101")
    finance = await site.staff("finance")
    found = await site.client.get("/api/v1/reports/donations", params=PERIOD,
                                  headers=finance.bearer)
    body = await found.json()
    assert found.status == 200, body
    assert body["rows"] == [{"group": "2024-09-02", "currency": "USD", "count": 2,
                             "gross_cents": 1500, "refunds_disputes_cents": 0,
                             "fees_cents": 0, "settled_cents": 0,
                             "pending_settlement_cents": 1500, "net_cents": 1500}]
    assert await actions(pool) == []  # looking is not downloading
    csv = await site.client.get("/api/v1/reports/donations", headers=finance.bearer,
                                params={**PERIOD, "format": "csv"})
    assert csv.status == 200 and csv.content_type == "text/csv"
    assert "attachment" in csv.headers["Content-Disposition"]
    text = await csv.text()
    assert text.splitlines()[0].startswith("group,currency,count,gross")
    assert "2024-09-02,USD,2,15.00" in text
    assert await actions(pool) == ["export.downloaded"]
    backwards = await site.client.get("/api/v1/reports/donations", headers=finance.bearer,
                                      params={"date_from": "2024-09-03",
                                              "date_to": "2024-09-01"})
    assert backwards.status == 400
    assert (await backwards.json())["error"]["field"] == "date_to"


async def test_upload_a_settlement_then_the_summary_and_exceptions(
    pool: asyncpg.Pool, site: WebApi,
) -> None:
    async with pool.acquire() as conn:
        paid = await gift(conn, at=AT, amount=1000)
    finance = await site.staff("finance")
    data = aiohttp.FormData()
    data.add_field("file", SETTLEMENT.format(message_id=paid.message_id).encode(),
                   filename="verizon.csv", content_type="text/csv")
    data.add_field("name", "verizon.csv")
    uploaded = await site.client.post("/api/v1/reconciliation/imports", data=data,
                                      headers=finance.bearer)
    body = await uploaded.json()
    assert uploaded.status == 201, body
    assert (body["rows"], body["new"], body["refused"]) == (2, 1, 1)
    assert body["problems"][0]["line"] == 3 and body["problems"][0]["column"] == "amount"
    summary = await (await site.client.get("/api/v1/reconciliation/summary",
                                           headers=finance.bearer)).json()
    assert summary["identity_holds"] is True
    assert summary["sources"]["carrier"]["settled_cents"] == 1000
    exceptions = await site.client.get("/api/v1/reconciliation/exceptions",
                                       headers=finance.bearer)
    assert exceptions.status == 200 and exceptions.content_type == "text/csv"
    assert (await exceptions.text()).startswith("source,status,donation_id")
    assert await actions(pool) == ["settlement.imported", "export.downloaded"]
    unknown = await site.client.post("/api/v1/reconciliation/imports", headers=finance.bearer,
                                     json={"file": "amount\n1.00\n", "mapping": "nope"})
    assert unknown.status == 400 and (await unknown.json())["error"]["field"] == "mapping"


async def test_donations_page_chart_and_csv_link(pool: asyncpg.Pool, site: WebApi) -> None:
    async with pool.acquire() as conn:
        await gift(conn, at=AT, amount=1000)
    finance = await site.staff("finance")
    page = await site.client.get("/donations", params=PERIOD, headers=finance.bearer)
    html = await page.text()
    assert page.status == 200
    assert 'aria-labelledby="donations-title donations-desc"' in html
    assert "Sep 2 gross (USD): $10.00" in html  # the day's bar, in the viewer's words
    assert "Sep 1 gross (USD): $0.00" in html  # a day without gifts still shows
    assert ("/api/v1/reports/donations?date_from=2024-09-01&amp;date_to=2024-09-03"
            "&amp;group_by=day&amp;format=csv") in html
    by_method = await site.client.get("/donations", headers=finance.bearer,
                                      params={**PERIOD, "group_by": "method"})
    assert "<svg" not in await by_method.text()
    bad = await site.client.get("/donations", headers=finance.bearer,
                                params={"date_from": "soon"})
    assert bad.status == 400


async def test_reconciliation_page_uploads_a_file_and_lists_problems(
    pool: asyncpg.Pool, site: WebApi,
) -> None:
    async with pool.acquire() as conn:
        paid = await gift(conn, at=AT, amount=1000)
    await site.staff("finance")
    await site.login("finance@example.org")
    page = await site.client.get("/donations/reconciliation")
    html = await page.text()
    assert "Every source adds up to the cent." in html and "carrier_default" in html
    data = aiohttp.FormData()
    data.add_field("csrf_token", form_token(html))
    data.add_field("mapping", "carrier_default")
    data.add_field("file", SETTLEMENT.format(message_id=paid.message_id).encode(),
                   filename="verizon.csv", content_type="text/csv")
    done = await site.client.post("/donations/reconciliation", data=data)
    result = await done.text()
    assert done.status == 200
    assert "verizon.csv: 2 rows, 1 new, 0 already known, 1 refused" in result
    assert "verizon.csv:3: amount:" in result
    empty = aiohttp.FormData()
    empty.add_field("csrf_token", form_token(html))
    missing = await site.client.post("/donations/reconciliation", data=empty)
    assert missing.status == 400 and "Choose a settlement file." in await missing.text()
