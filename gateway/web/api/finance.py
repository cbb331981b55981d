"""Finance over HTTP: donation reports (JSON or CSV), the reconciliation summary, its
exceptions as CSV, and settlement file uploads.

The same functions as `gateway report` and `gateway reconcile` (gateway/finance/),
so a figure on the page, in the API and in the terminal is the same figure.
Why every CSV is audited (`export.downloaded`) and every upload too
(`settlement.imported`): a report leaving the building and a file changing
what finance reconciles against are both things someone will ask about later.
The donations page calls `report`, `summary_of` and `import_upload` here
rather than repeating them.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

import asyncpg
from aiohttp import web
from pydantic import Field

from gateway.config import Settings
from gateway.finance import reports, summary
from gateway.finance.formats import MappingError, get_mapping, load_mappings
from gateway.finance.importer import ImportResult, import_settlement
from gateway.web import audit
from gateway.web.auth import Principal
from gateway.web.body import Strict
from gateway.web.errors import ApiError, bad_request
from gateway.web.registry import Call, RouteTable

routes = RouteTable("finance")

GroupBy = Literal["day", "keyword", "program", "carrier", "method"]
MAX_REPORT_DAYS = 3 * 366  # a report reads its ledger rows into memory


class ReportQuery(Strict):
    date_from: date
    date_to: date = Field(description="included")
    group_by: GroupBy = "day"
    committee: str | None = Field(None, max_length=200)
    format: Literal["json", "csv"] = "json"


class SettlementUpload(Strict):
    file: str = Field(min_length=1, max_length=20_000_000,
                      description="the CSV file (a multipart file field, or its text)")
    name: str | None = Field(None, max_length=200, description="file name; default upload.csv")
    mapping: str | None = Field(None, max_length=100,
                                description="column mapping; default GATEWAY_FINANCE_"
                                            "DEFAULT_MAPPING")


async def report(pool: asyncpg.Pool, settings: Settings, *, date_from: date, date_to: date,
                 group_by: str = "day", committee: str | None = None) -> reports.Report:
    """The donation report in the finance zone; a bad range is a 400 naming the field."""
    if date_to < date_from:
        raise bad_request(f"the report ends ({date_to}) before it starts ({date_from})",
                          field="date_to")
    if (date_to - date_from).days > MAX_REPORT_DAYS:
        raise bad_request(f"at most {MAX_REPORT_DAYS} days per report", field="date_to")
    return await reports.donation_report(
        pool, date_from=date_from, date_to=date_to, group_by=group_by,
        timezone=settings.finance_timezone, committee=committee)


def csv_download(data: bytes, filename: str) -> web.Response:
    return web.Response(body=data, content_type="text/csv", charset="utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{filename}"'})


async def audit_download(pool: asyncpg.Pool, principal: Principal, client: str, what: str,
                         **detail: Any) -> None:
    async with pool.acquire() as conn:
        await audit.record(conn, principal, audit.EXPORT_DOWNLOADED, what, client=client,
                           **detail)


@routes.get("/api/v1/reports/donations", name="reports.donations", query=ReportQuery,
            summary="Donations by day, keyword, program, carrier or method (JSON or CSV)",
            description="Dated by the legal date of receipt (the YES) in "
                        "GATEWAY_FINANCE_TIMEZONE; amounts in integer cents (JSON) or "
                        "decimal strings (CSV). A CSV download is audited.")
async def donations_report(call: Call) -> Any:
    query = call.query_as(ReportQuery)
    found = await report(call.pool, call.context.settings, date_from=query.date_from,
                         date_to=query.date_to, group_by=query.group_by,
                         committee=query.committee)
    if query.format == "json":
        return found.as_dict()
    await audit_download(call.pool, call.user, call.client, "report:donations",
                         **query.model_dump(mode="json", exclude_none=True))
    return csv_download(found.csv(), f"donations-{query.date_from}-{query.date_to}.csv")


@routes.get("/api/v1/reconciliation/summary", name="reconciliation.summary",
            summary="Ledger against settlements, per source, to the cent")
async def reconciliation_summary(call: Call) -> dict[str, Any]:
    return (await summary.reconciliation(call.pool, now=call.context.clock())).as_dict()


@routes.get("/api/v1/reconciliation/exceptions", name="reconciliation.exceptions",
            summary="Every donation not plainly matched and every unknown line (CSV)")
async def reconciliation_exceptions(call: Call) -> web.Response:
    found = await summary.reconciliation(call.pool, now=call.context.clock())
    await audit_download(call.pool, call.user, call.client, "reconciliation:exceptions",
                         rows=len(found.exceptions))
    return csv_download(found.exceptions_csv(), "reconciliation-exceptions.csv")


async def import_upload(pool: asyncpg.Pool, settings: Settings, principal: Principal,
                        client: str, *, name: str, data: bytes,
                        mapping: str | None) -> ImportResult:
    """Import one settlement file and audit who did it, in one transaction."""
    try:
        column_mapping = get_mapping(load_mappings(settings.finance_mappings),
                                     mapping or settings.finance_default_mapping)
    except MappingError as err:
        raise bad_request(str(err), field="mapping") from None
    async with pool.acquire() as conn, conn.transaction():
        result = await import_settlement(conn, name, data, column_mapping)
        await audit.record(conn, principal, audit.SETTLEMENT_IMPORTED,
                           f"settlement_import:{result.import_id}", client=client,
                           name=name, mapping=column_mapping.name, new=result.new,
                           refused=result.bad, already_imported=result.already_imported)
    return result


def import_json(result: ImportResult) -> dict[str, Any]:
    return {"import_id": result.import_id, "source": result.source, "name": result.name,
            "rows": result.rows, "new": result.new, "known": result.known,
            "refused": result.bad, "already_imported": result.already_imported,
            "problems": [p.as_dict() for p in result.problems], "summary": result.summary()}


@routes.post("/api/v1/reconciliation/imports", name="reconciliation.upload",
             body=SettlementUpload, status=201,
             summary="Upload a carrier/aggregator settlement file or a Stripe CSV export",
             description="Bad rows are listed in `problems` (file, line, column) and the "
                         "good rows go in; the same file twice changes nothing.")
async def reconciliation_import(call: Call) -> dict[str, Any]:
    body = call.body_as(SettlementUpload)
    name = (body.name or "upload.csv").strip() or "upload.csv"
    try:
        result = await import_upload(call.pool, call.context.settings, call.user, call.client,
                                     name=name, data=body.file.encode("utf-8"),
                                     mapping=body.mapping)
    except ValueError as err:  # a parser refusing the whole file
        raise ApiError(400, "invalid", str(err), field="file") from None
    return import_json(result)
