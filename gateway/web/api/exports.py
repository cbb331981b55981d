"""Contact exports for warehouses: request a CSV job, read its state, fetch its file.

The rules (fields per role, the audience, the audit, the signed link) are
services/exports.py's and services/export_jobs.py's. The file route is
public: its signed, expiring token is the credential (the link arrives in the
`export.completed` webhook, which a loader may follow without an API token).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import Field

from gateway.services import export_jobs, exports
from gateway.services.errors import ServiceError, not_found
from gateway.store.exports import ExportJob
from gateway.web.body import Strict
from gateway.web.context import rules_in_force
from gateway.web.registry import Call, RouteTable

routes = RouteTable("exports")


class NewExport(Strict):
    segment_id: int | None = Field(None, description="a saved segment (as it stands now)")
    program: str | None = Field(None, max_length=40,
                                description="or a program's subscribers (without segment_id)")
    where: str = Field("", max_length=10_000,
                       description="with program: an audience filter (docs/segments-and-export.md)")
    fields: list[str] = Field(min_length=1, max_length=100, description=(
        "columns in order: msisdn, joined_at, joined_by, zip, region, country, timezone, tags, "
        "first_seen, profile.<field>, gift_count, gift_total_cents; donor_name, employer, "
        "occupation for admins and finance only"))


class FileQuery(Strict):
    token: str = Field(max_length=200)


def shown(job: ExportJob) -> dict[str, Any]:
    return {"id": job.id, "status": job.status, "program": job.program,
            "segment_id": job.segment_id, "filter": job.filter, "fields": job.fields,
            "rows": job.rows, "error": job.error, "created_at": job.created_at,
            "finished_at": job.finished_at, "revoked_at": job.revoked_at}


@routes.post("/api/v1/exports", name="exports.create", body=NewExport, status=202,
             summary="Export a segment or a program's subscribers to CSV, in the background",
             description="Answers 202 with the job. When the file is written, an "
                         "`export.completed` webhook event carries a signed download link "
                         "that expires (GATEWAY_EXPORTS_LINK_SECONDS).")
async def create(call: Call) -> dict[str, Any]:
    body = call.body_as(NewExport)
    context = call.context
    rules = rules_in_force(context)
    fields = exports.checked_fields(call.user, rules, body.fields)
    async with call.pool.acquire() as conn:
        target = await exports.target_of(conn, rules=rules,
                                         default_shortcode=context.settings.shortcode,
                                         segment_id=body.segment_id, program=body.program,
                                         where=body.where)
    job = await export_jobs.request(call.pool, context.settings, call.user, call.client,
                                    target=target, fields=fields, clock=context.clock)
    return {"export": shown(job)}


@routes.get("/api/v1/exports/{export_id}", name="exports.get",
            summary="An export job: running, done (with its row count) or failed")
async def get(call: Call) -> dict[str, Any]:
    async with call.pool.acquire() as conn:
        job = await export_jobs.get(conn, call.path_int("export_id"))
    return {"export": shown(job)}


@routes.delete("/api/v1/exports/{export_id}", name="exports.revoke",
               summary="Revoke a finished export's download: its file is deleted and its "
                       "link answers 410 Gone",
               description="An admin, or whoever asked for the export (403 otherwise); 409 "
                           "when it is not finished or already revoked. Audit-logged.")
async def revoke(call: Call) -> dict[str, Any]:
    async with call.pool.acquire() as conn:
        job = await export_jobs.revoke(conn, call.user, call.client, call.path_int("export_id"),
                                       now=call.context.clock())
    return {"export": shown(job)}


@routes.get("/api/v1/exports/{export_id}/file", name="exports.file", query=FileQuery,
            summary="The export's CSV, by the signed link of its export.completed event")
async def download(call: Call) -> web.StreamResponse:
    export_id = call.path_int("export_id")
    settings = call.context.settings
    try:
        export_jobs.check_token(settings, export_id, call.query_as(FileQuery).token,
                                now=call.context.clock())
    except export_jobs.BadLink as err:
        raise ServiceError(403, "bad_link", f"this download link does not work ({err}); "
                           "ask for the export again") from None
    async with call.pool.acquire() as conn:
        job = await export_jobs.get(conn, export_id)
    if job.revoked_at is not None:
        raise export_jobs.gone(job)
    if job.status != "done":
        raise not_found(f"the file of export {export_id}")
    response = web.StreamResponse(headers={
        "Content-Type": "text/csv; charset=utf-8",
        "Content-Disposition": f'attachment; filename="export-{export_id}.csv"',
        "Cache-Control": "no-store"})
    await response.prepare(call.request)
    async for chunk in export_jobs.file_chunks(call.pool, job):
        await response.write(chunk)
    await response.write_eof()
    return response
