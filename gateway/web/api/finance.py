"""Finance over HTTP: donation reports (JSON or CSV), the reconciliation summary, its
exceptions as CSV, and settlement file uploads.

The report's range check, the upload and the audit rows are
gateway/services/finance.py, which the donations page calls too; the figures
are gateway/finance's, the same as `gateway report` and `gateway reconcile`.
Why every CSV is audited (`export.downloaded`) and every upload too
(`settlement.imported`): a report leaving the building and a file changing
what finance reconciles against are both things someone will ask about later.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from aiohttp import web
from pydantic import Field

from gateway.finance import summary
from gateway.finance.importer import ImportResult
from gateway.services.finance import GroupBy, audit_download, import_upload, report
from gateway.web.body import Strict
from gateway.web.errors import ApiError
from gateway.web.registry import Call, RouteTable

routes = RouteTable("finance")


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


def csv_download(data: bytes, filename: str) -> web.Response:
    return web.Response(body=data, content_type="text/csv", charset="utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@routes.get("/api/v1/reports/donations", name="reports.donations", query=ReportQuery,
            summary="Donations by day, keyword, program, carrier or method (JSON or CSV)",
            description="Dated by the legal date of receipt (the YES) in "
                        "GATEWAY_ORGANIZATION_TIMEZONE; amounts in integer cents (JSON) or "
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
