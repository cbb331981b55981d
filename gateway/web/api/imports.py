"""Contact import over HTTP: send a file with its mapping, follow the dry run or the import.

The steps and their rules are gateway/services/imports/service.py's; the
work runs in the background on whichever gateway claims it, so both POSTs
answer 202 at once and `GET /api/v1/imports/{id}` follows the progress.
docs/import.md says what each count and reason means.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, Literal

from pydantic import Field

from gateway.services.imports import service
from gateway.services.imports.mapping import FIELDS
from gateway.web.body import Strict
from gateway.web.context import rules_in_force
from gateway.web.errors import bad_request
from gateway.web.registry import Call, RouteTable

routes = RouteTable("imports")

Phase = Literal["dry_run", "import"]
MAPPING_TEXT = ("field -> the file's column header, for the fields " + ", ".join(FIELDS)
                + "; only `phone` is required; omitted: the gateway's guess from the headers")


TAGS_TEXT = ("tags put on every contact of the file (lower-case letters, digits, - and _); "
             "a `tags` column in the mapping adds each row's own")


class NewImport(Strict):
    filename: str = Field(min_length=1, max_length=200, description="e.g. list.csv or list.xlsx")
    content_base64: str = Field(min_length=1, description="the CSV or XLSX file's bytes, base64")
    program: str = Field(min_length=1, max_length=64,
                         description="the program of rows that name none")
    country: str | None = Field(None, pattern=r"^[A-Za-z]{2}$",
                                description="where national numbers are read (default: "
                                            "GATEWAY_DEFAULT_REGION)")
    mapping: dict[str, str] | None = Field(None, description=MAPPING_TEXT)
    tags: list[str] | None = Field(None, max_length=20, description=TAGS_TEXT)
    phase: Phase = Field("dry_run", description="`dry_run` (nothing written but the report) "
                                                "or `import` straight away")


class StartImport(Strict):
    phase: Phase = "import"
    mapping: dict[str, str] | None = Field(None, description=MAPPING_TEXT)
    tags: list[str] | None = Field(None, max_length=20,
                                   description=TAGS_TEXT + "; omitted: as chosen before")


class ReportQuery(Strict):
    after_row: int = Field(0, ge=0, description="rows of the report after this row number")
    limit: int = Field(100, ge=1, le=1000)


@routes.post("/api/v1/imports", name="imports.create", body=NewImport, status=202,
             summary="Upload a contact file (CSV or XLSX) and queue its dry run or import",
             description="400 naming the row and column: a file that cannot be read, a "
                         "mapping that names no column of the file; then poll the GET.")
async def create(call: Call) -> dict[str, Any]:
    body = call.body_as(NewImport)
    try:
        content = base64.b64decode(body.content_base64, validate=True)
    except (binascii.Error, ValueError):
        raise bad_request("content_base64 is not base64", field="content_base64") from None
    settings = call.context.settings
    async with call.pool.acquire() as conn:
        made = await service.upload(
            conn, call.user, call.client, filename=body.filename, content=content,
            program=body.program, country=body.country or settings.default_region,
            rules=rules_in_force(call.context), max_bytes=settings.import_max_bytes,
            now=call.context.clock())
        await service.queue(conn, call.user, call.client, made["id"], phase=body.phase,
                            mapping=body.mapping if body.mapping is not None else made["guess"],
                            tags=body.tags or [])
        return await service.summary(conn, made["id"], report_rows=0)


@routes.get("/api/v1/imports/{import_id}", name="imports.get", query=ReportQuery,
            summary="An import: its state and progress, the dry run's and the import's counts, "
                    "and the rows skipped or not subscribed, with the reason, row and column")
async def get(call: Call) -> dict[str, Any]:
    query = call.query_as(ReportQuery)
    async with call.pool.acquire() as conn:
        return await service.summary(conn, call.path_int("import_id"),
                                     report_rows=query.limit, after_row=query.after_row)


@routes.post("/api/v1/imports/{import_id}/start", name="imports.start", body=StartImport,
             status=202, summary="Queue the import after its dry run (or a new dry run, "
                                 "e.g. with another mapping)")
async def start(call: Call) -> dict[str, Any]:
    body = call.body_as(StartImport)
    import_id = call.path_int("import_id")
    async with call.pool.acquire() as conn:
        await service.queue(conn, call.user, call.client, import_id, phase=body.phase,
                            mapping=body.mapping, tags=body.tags)
        return await service.summary(conn, import_id, report_rows=0)
