"""Saved segments, tags by hand, and the CSV export: the organizers' audience tools.

Handlers stay thin: what a segment may hold and how the Contacts search
becomes one is services/segments.py's; tags services/tags.py's; who may
export which fields, the streaming and the audit services/exports.py's.
A refused form is shown again as typed with the reason beside its field.
The export streams straight into the response (aiohttp StreamResponse): the
first rows leave before the query has read the last.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from aiohttp import web

from gateway.plain_words import N_
from gateway.services import export_jobs, exports, segments
from gateway.services import tags as tag_service
from gateway.services.contact_filters import search_choices
from gateway.services.contacts import contact_number
from gateway.services.errors import ServiceError
from gateway.web.context import rules_in_force
from gateway.web.pages import confirm
from gateway.web.pages.frame import PageTable, View

pages = PageTable()

TITLE = N_("Saved segments")
EXPORT_TITLE = N_("Export contacts")
RECENT_JOBS = 20  # the export jobs the page lists, newest first
SEARCH_KEYS = ("q", "name", "zip", "keyword", "program", "status", "tag", "timezone", "field")


def _program_choices(view: View) -> list[tuple[str, str]]:
    return [(c.value, c.label) for c in search_choices(rules_in_force(view.context)).programs]


async def _listing(view: View, *, status: int = 200, form: dict[str, str] | None = None,
                   error: dict[str, str | None] | None = None) -> web.Response:
    context = view.context
    async with context.pool.acquire() as conn:
        counted = await segments.list_counted(conn, rules=rules_in_force(context),
                                              default_shortcode=context.settings.shortcode,
                                              now=context.clock())
    return view.render("segments.html", status=status, title=TITLE, counted=counted,
                       programs=_program_choices(view), form=form or {}, error=error,
                       saved=view.query("saved"), deleted=view.query("deleted") == "yes",
                       checked_at=context.clock())


@pages.get("/segments", name="page.segments")
async def segment_list(view: View) -> web.StreamResponse:
    return await _listing(view)


@pages.post("/segments", name="page.segments.save")
async def save(view: View) -> web.StreamResponse:
    """A new segment: typed here (program and filter) or the Contacts search as it stands."""
    form = {k: view.field(k) for k in ("name", "program", "where")}
    try:
        if view.field("from") == "contacts":
            form["program"], form["where"] = segments.definition_from_search(
                {k: view.field(f"search_{k}") for k in SEARCH_KEYS})
        async with view.context.pool.acquire() as conn:
            saved = await segments.save(conn, view.user, view.client,
                                        rules=rules_in_force(view.context), name=form["name"],
                                        program=form["program"], where=form["where"])
    except ServiceError as err:
        return await _listing(view, status=err.status, form=form,
                              error={"field": err.field, "message": err.message})
    return view.redirect("/segments", saved=str(saved.id))


@pages.get("/segments/{segment_id}", name="page.segment")
async def segment_page(view: View) -> web.StreamResponse:
    return await _segment(view, int(view.request.match_info["segment_id"]))


async def _segment(view: View, segment_id: int, *, status: int = 200,
                   form: dict[str, str] | None = None,
                   error: dict[str, str | None] | None = None) -> web.Response:
    context = view.context
    async with context.pool.acquire() as conn:
        segment = await segments.get(conn, segment_id)
        try:
            resolved = await segments.resolve(conn, segment_id, rules=rules_in_force(context),
                                              default_shortcode=context.settings.shortcode)
            people: int | None = await segments.count(conn, resolved, now=context.clock())
            problem = None
        except ServiceError as err:
            people, problem = None, err.message
    shown = form or {"name": segment.name, "program": segment.program, "where": segment.filter}
    return view.render("segment.html", status=status, title=segment.name, segment=segment,
                       people=people, problem=problem, form=shown, error=error,
                       programs=_program_choices(view), checked_at=context.clock())


@pages.post("/segments/{segment_id}", name="page.segment.update")
async def update(view: View) -> web.StreamResponse:
    segment_id = int(view.request.match_info["segment_id"])
    form = {k: view.field(k) for k in ("name", "program", "where")}
    try:
        async with view.context.pool.acquire() as conn:
            await segments.save(conn, view.user, view.client, rules=rules_in_force(view.context),
                                name=form["name"], program=form["program"],
                                where=form["where"], segment_id=segment_id)
    except ServiceError as err:
        if err.status == 404:
            raise
        return await _segment(view, segment_id, status=err.status, form=form,
                              error={"field": err.field, "message": err.message})
    return view.redirect("/segments", saved=str(segment_id))


@pages.post("/segments/{segment_id}/delete", name="page.segment.delete")
async def delete(view: View) -> web.StreamResponse:
    async with view.context.pool.acquire() as conn:
        await segments.delete(conn, view.user, view.client,
                              int(view.request.match_info["segment_id"]))
    return view.redirect("/segments", deleted="yes")


def _contact(view: View) -> str:
    return contact_number(view.request.match_info["msisdn"],
                          view.context.settings.default_region)


@pages.post("/contacts/{msisdn}/tags", name="page.contact.tag")
async def tag(view: View) -> web.StreamResponse:
    msisdn = _contact(view)
    try:
        async with view.context.pool.acquire() as conn:
            await tag_service.add(conn, view.user, view.client, msisdn, view.field("tag"))
    except ServiceError as err:
        if err.field != "tag":
            raise
        return view.redirect(f"/contacts/{quote(msisdn, safe='+')}",
                             tag_error=view.viewer.gettext(err.message))
    return view.redirect(f"/contacts/{quote(msisdn, safe='+')}", tagged="yes")


@pages.post("/contacts/{msisdn}/tags/{tag}/delete", name="page.contact.untag")
async def untag(view: View) -> web.StreamResponse:
    msisdn = _contact(view)
    async with view.context.pool.acquire() as conn:
        await tag_service.remove(conn, view.user, view.client, msisdn,
                                 view.request.match_info["tag"])
    return view.redirect(f"/contacts/{quote(msisdn, safe='+')}", tagged="removed")


# -- export --------------------------------------------------------------------------------------


def _export_form(view: View) -> dict[str, Any]:
    return {"segment": view.query("segment"), "program": view.query("program"),
            "where": view.query("where"),
            "fields": [f for f in view.request.query.getall("fields", []) if f]}


@pages.get("/exports", name="page.exports")
async def export_form(view: View) -> web.StreamResponse:
    context = view.context
    rules = rules_in_force(context)
    async with context.pool.acquire() as conn:
        counted = await segments.list_counted(conn, rules=rules,
                                              default_shortcode=context.settings.shortcode,
                                              now=context.clock())
        jobs = await export_jobs.recent(conn, RECENT_JOBS)
    form = _export_form(view)
    if not form["fields"]:
        form["fields"] = list(exports.DEFAULT_FIELDS)
    error = None
    if view.query("error"):
        error = {"field": view.query("error_field") or None, "message": view.query("error")}
    revoked = view.query("revoked")
    return view.render("export.html", title=EXPORT_TITLE, counted=counted,
                       programs=_program_choices(view), form=form, error=error,
                       fields=exports.fields_for(view.user, rules),
                       donor_fields=exports.DONOR_FIELDS, gift_fields=exports.GIFT_FIELDS,
                       column_words=exports.COLUMN_WORDS, jobs=jobs,
                       may_revoke=lambda job: export_jobs.may_revoke(view.user, job),
                       keep_days=context.settings.exports_keep_days,
                       revoked=int(revoked) if revoked.isdigit() else None)


@pages.post("/exports/{export_id}/revoke", name="page.exports.revoke")
async def revoke_export(view: View) -> web.StreamResponse:
    """Revoke one finished export's download, after the confirm step (pages/confirm.py)."""
    export_id = int(view.request.match_info["export_id"])
    async with view.context.pool.acquire() as conn:
        job = await export_jobs.get(conn, export_id)
        export_jobs.check_may_revoke(view.user, job)
        if not confirm.confirmed(view):
            return confirm.ask(view, "revoke_export", title=N_("Revoke this export's link?"),
                               back="/exports", subject=f"{job.id} ({job.requested_by})")
        await export_jobs.revoke(conn, view.user, view.client, export_id,
                                 now=view.context.clock())
    return view.redirect("/exports", revoked=str(export_id))


@pages.get("/exports/contacts.csv", name="page.exports.download")
async def download(view: View) -> web.StreamResponse:
    """The CSV, streamed; a refused request goes back to the form with the reason."""
    context = view.context
    rules = rules_in_force(context)
    form = _export_form(view)
    try:
        fields = exports.checked_fields(view.user, rules, form["fields"])
        async with context.pool.acquire() as conn:
            target = await exports.target_of(
                conn, rules=rules, default_shortcode=context.settings.shortcode,
                segment_id=int(form["segment"]) if form["segment"].isdigit() else None,
                program=form["program"] or None, where=form["where"])
    except ServiceError as err:
        if err.status == 403:
            raise
        back = {k: v for k, v in form.items() if k != "fields" and v}
        return view.redirect("/exports", **back, error=view.viewer.gettext(err.message),
                             error_field=err.field or "")
    response = web.StreamResponse(headers={
        "Content-Type": "text/csv; charset=utf-8", "Cache-Control": "no-store",
        "Content-Disposition": f'attachment; filename="contacts-{target.program}.csv"'})
    async with context.pool.acquire() as conn:
        export_id = await exports.begin(conn, view.user, via="page", target=target,
                                        fields=fields)
        rows, complete = 0, False
        try:
            await response.prepare(view.request)
            rows = await exports.write_csv(conn, target, fields, response.write,
                                           now=context.clock())
            complete = True
        finally:  # recorded before the end of the file, so the file never outruns its record
            await exports.finish(conn, view.user, view.client, export_id, target=target,
                                 fields=fields, rows=rows, complete=complete)
    await response.write_eof()
    return response
