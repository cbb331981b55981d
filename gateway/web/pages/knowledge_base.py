"""The knowledge base for organizers: the documents, an upload form, a search to try, and per
document its versions, a new-version upload and the in/out-of-search switch.

Why the page validates with the API's models and writes through the API's
functions (`gateway.web.knowledge_calls`): a document uploaded here and
one sent by a script get the same checks, the same extraction and the same
audit entry. A refused upload is shown again with what was typed and the
reason beside the field (the file must be chosen again: browsers never
refill a file input). Files come as multipart form data, up to the web
app's request limit.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import ValidationError

from gateway.knowledge import service
from gateway.knowledge.placement import themes_of
from gateway.plain_words import N_
from gateway.store import knowledge_docs as store
from gateway.web import knowledge_calls as api
from gateway.web.context import rules_in_force
from gateway.web.errors import ApiError, bad_request
from gateway.web.pages.frame import PageTable, View

pages = PageTable()
DOCUMENT_FIELDS = ("program", "theme", "title", "kind", "language", "key", "url")
NOTICES = {"added": N_("The document was added; it is searchable now."),
           "version": N_("The new version is the one searched now; the older ones are kept."),
           "on": N_("The document is back in search."),
           "off": N_("The document is out of search.")}


@pages.get("/knowledge", name="page.knowledge")
async def knowledge(view: View) -> web.StreamResponse:
    return await _show(view)


@pages.post("/knowledge/documents", name="page.knowledge.add")
async def add_document(view: View) -> web.StreamResponse:
    typed = {name: view.field(name) for name in DOCUMENT_FIELDS}
    try:
        fields = api.DocumentFields.model_validate({k: v for k, v in typed.items() if v})
        added = await api.add_document(view.context, view.user, view.client, fields,
                                       _uploaded(view), file_field="file")
    except ValidationError as err:
        return await _show(view, status=400, form=typed, errors=_reasons(err))
    except ApiError as err:
        if err.status not in (400, 409):
            raise
        return await _show(view, status=err.status, form=typed,
                           errors={err.field or "form": err.message})
    return view.redirect(f"/knowledge/documents/{added['id']}", notice="added")


@pages.get("/knowledge/documents/{document_id}", name="page.knowledge.document")
async def document(view: View) -> web.StreamResponse:
    return await _document(view)


@pages.post("/knowledge/documents/{document_id}/versions", name="page.knowledge.version")
async def add_version(view: View) -> web.StreamResponse:
    document_id = _document_id(view)
    note = view.field("note")[:500]
    try:
        await api.add_version(view.context, view.user, view.client, document_id,
                              _uploaded(view), note, file_field="file")
    except ApiError as err:
        if err.status != 400:
            raise
        return await _document(view, status=400, note=note, error=err.message)
    return view.redirect(f"/knowledge/documents/{document_id}", notice="version")


@pages.post("/knowledge/documents/{document_id}/active", name="page.knowledge.switch")
async def switch(view: View) -> web.StreamResponse:
    document_id = _document_id(view)
    on = view.field("on") == "true"
    await api.switch(view.context, view.user, view.client, document_id, on)
    return view.redirect(f"/knowledge/documents/{document_id}", notice="on" if on else "off")


async def _show(view: View, *, status: int = 200, form: dict[str, str] | None = None,
                errors: dict[str, str] | None = None) -> web.Response:
    rules = rules_in_force(view.context)
    words = view.query("q")[:200]
    hits = await service.search(view.context.pool, words, limit=20) if words else []
    async with view.context.pool.acquire() as conn:
        documents = await store.list_documents(conn)
    programs = {pid: themes_of(rules, pid) for pid in rules.programs}
    return view.render(
        "knowledge.html", status=status, title=N_("Knowledge base"), documents=documents,
        programs=programs, kinds=service.KINDS, kind_words=service.KIND_WORDS, words=words,
        hits=hits,
        form=form or {}, errors=errors or {}, notice=NOTICES.get(view.query("notice")))


async def _document(view: View, *, status: int = 200, note: str = "",
                    error: str | None = None) -> web.Response:
    raw = view.query("version")
    detail = await api.document_detail(view.context, _document_id(view),
                                       int(raw) if raw.isdecimal() and int(raw) > 0 else None)
    return view.render(
        "knowledge_document.html", status=status, title=detail["document"]["title"],
        detail=detail, d=detail["document"], note=note, error=error,
        kind_words=service.KIND_WORDS, notice=NOTICES.get(view.query("notice")))


def _uploaded(view: View) -> service.Upload:
    value: Any = view.form.get("file")
    if not isinstance(value, web.FileField) or not value.filename:
        raise bad_request(N_("choose a file to upload"), field="file")
    return service.Upload(value.filename, value.file.read())


def _reasons(err: ValidationError) -> dict[str, str]:
    reasons: dict[str, str] = {}
    for problem in err.errors():
        where = str(problem["loc"][0]) if problem["loc"] else "form"
        reasons.setdefault(where, str(problem["msg"]).removeprefix("Value error, "))
    return reasons


def _document_id(view: View) -> int:
    return int(view.request.match_info["document_id"])
