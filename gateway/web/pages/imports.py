"""Contact import for organizers: upload a file, choose its columns, read the dry run, import.

The steps are gateway/services/imports/service.py's, the same as the API's.
One page per import shows the step it is at: the column mapping (each
field's choice among the file's headers, the gateway's guess selected), the
dry run's progress then its report (counts, and every row skipped or not
subscribed with the reason, the row and the column), then the import's
progress and result. While a run is under way the page reloads itself every
few seconds (a meta refresh: no script).
"""

from __future__ import annotations

from typing import Any, Final

from aiohttp import web

from gateway.plain_words import N_
from gateway.services.errors import ServiceError
from gateway.services.imports import service
from gateway.services.imports.mapping import FIELDS, guess
from gateway.web.context import rules_in_force
from gateway.web.errors import bad_request
from gateway.web.pages.frame import PageTable, View

pages = PageTable()

TITLE: Final = N_("Import contacts")
RECENT: Final = 20
REPORT_ROWS: Final = 200
REFRESH_SECONDS: Final = 3
FIELD_LABELS: Final[dict[str, str]] = {
    "phone": N_("Phone number"),
    "first_name": N_("First name"),
    "last_name": N_("Last name"),
    "email": N_("E-mail address"),
    "zip": N_("ZIP or postal code"),
    "program": N_("Program"),
    "consent_source": N_("Consent: where it was given"),
    "consent_date": N_("Consent: date"),
    "consent_wording": N_("Consent: wording or campaign"),
    "opted_out": N_("Opted out"),
    "tags": N_("Tags (several to a cell, separated by ; or ,)"),
}
assert set(FIELD_LABELS) == set(FIELDS)


@pages.get("/imports", name="page.imports")
async def imports(view: View) -> web.StreamResponse:
    return await _list(view)


async def _list(view: View, *, status: int = 200, errors: dict[str, str] | None = None,
                form: dict[str, str] | None = None) -> web.Response:
    settings = view.context.settings
    async with view.context.pool.acquire() as conn:
        recent = await service.recent(conn, RECENT)
    return view.render("imports.html", status=status, title=TITLE, recent=recent,
                       programs=sorted(rules_in_force(view.context).programs),
                       form=form or {"program": "", "country": settings.default_region},
                       errors=errors or {}, max_mb=settings.import_max_bytes // (1024 * 1024))


@pages.post("/imports", name="page.imports.upload")
async def upload(view: View) -> web.StreamResponse:
    form = {"program": view.field("program"), "country": view.field("country").upper()}
    file: Any = view.form.get("file")
    try:
        if not isinstance(file, web.FileField) or not file.filename:
            raise bad_request(N_("choose a CSV or XLSX file"), field="file")
        async with view.context.pool.acquire() as conn:
            made = await service.upload(
                conn, view.user, view.client, filename=file.filename,
                content=file.file.read(view.context.settings.import_max_bytes + 1),
                program=form["program"], country=form["country"] or "US",
                rules=rules_in_force(view.context),
                max_bytes=view.context.settings.import_max_bytes, now=view.context.clock())
    except ServiceError as err:
        if err.status != 400:
            raise
        return await _list(view, status=400, form=form,
                           errors={err.field or "file": err.message})
    finally:
        for value in view.form.values():  # the uploaded file's spool, read or not
            if isinstance(value, web.FileField):
                value.file.close()
    return view.redirect(f"/imports/{made['id']}")


@pages.get("/imports/{import_id}", name="page.contact_import")
async def one(view: View) -> web.StreamResponse:
    return await _one(view, int(view.request.match_info["import_id"]))


async def _one(view: View, import_id: int, *, status: int = 200,
               errors: dict[str, str] | None = None,
               chosen: dict[str, str] | None = None,
               typed_tags: str | None = None) -> web.Response:
    async with view.context.pool.acquire() as conn:
        found = await service.summary(conn, import_id, report_rows=REPORT_ROWS)
    job = found["import"]
    mapping = chosen or job["mapping"] or guess(job["headers"])
    running = job["status"] in ("queued", "running")
    return view.render(
        "import.html", status=status, title=TITLE, job=job, found=found, mapping=mapping,
        fields=FIELD_LABELS, errors=errors or {}, refresh=REFRESH_SECONDS if running else None,
        file_tags=typed_tags if typed_tags is not None else ", ".join(job["tags"]),
        report_rows=REPORT_ROWS,
        retention_hours=view.context.settings.import_upload_retention_hours)


@pages.post("/imports/{import_id}/start", name="page.contact_import.start")
async def start(view: View) -> web.StreamResponse:
    import_id = int(view.request.match_info["import_id"])
    phase = view.field("phase")
    chosen = {field: view.field(f"map_{field}") for field in FIELDS}
    typed_tags = view.field("file_tags")
    try:
        if phase not in service.PHASES:
            raise bad_request(N_("choose a dry run or the import"), field="phase")
        dry_run = phase == "dry_run"
        async with view.context.pool.acquire() as conn:
            await service.queue(conn, view.user, view.client, import_id, phase=phase,
                                mapping=chosen if dry_run else None,
                                tags=service.file_tags(typed_tags) if dry_run else None)
    except ServiceError as err:
        if err.status not in (400, 409):
            raise
        return await _one(view, import_id, status=err.status, chosen=chosen,
                          typed_tags=typed_tags, errors={err.field or "form": err.message})
    return view.redirect(f"/imports/{import_id}")
