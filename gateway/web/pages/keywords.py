"""The keywords file for organizers: read it, check an edited copy, reload every instance.

Reading, checking and reloading are gateway/web/keywords_file.py's, shared
with the API (/api/v1/keywords): the checker is the one behind `gateway
keywords check`, the reload the API's (this instance, then every other one),
audited the same way. Nothing here writes the file: keywords.yaml is
edited in the repository or the deployment, then reloaded from this page;
the textarea is a scratch copy to try a change on before making it there.
A checked copy comes back in the textarea as typed, with every problem's
line and column and the line itself, the column marked.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from babel.numbers import format_decimal

from gateway.plain_words import N_
from gateway.services.errors import ServiceError
from gateway.web import keywords_file
from gateway.web.errors import bad_request
from gateway.web.pages.frame import PageTable, View

pages = PageTable()


@pages.get("/keywords", name="page.keywords")
async def keywords(view: View) -> web.StreamResponse:
    return _show(view)


def _show(view: View, *, status: int = 200, **values: Any) -> web.Response:
    path = view.context.settings.keywords
    try:
        in_force: dict[str, Any] | None = keywords_file.read_in_force(view.context)
        unreadable = None
    except ServiceError as err:
        in_force, unreadable = None, err.message
    text = in_force["text"] if in_force else ""
    return view.render("keywords.html", status=status, title=N_("Keywords file"),
                       filename=path.name, in_force=in_force, unreadable=unreadable,
                       lines=text.splitlines(),
                       can_reload=view.context.reload_rules is not None,
                       **{"copy": text, "checked": None, "reloaded": None, "reload_error": None,
                          **values})


@pages.post("/keywords/check", name="page.keywords.check")
async def check(view: View) -> web.StreamResponse:
    raw = view.form.get("copy")
    copy = raw.replace("\r\n", "\n") if isinstance(raw, str) else ""
    if len(copy) > keywords_file.MAX_FILE_CHARS:
        raise bad_request(view.viewer.gettext(
            "the copy is over %(most)s characters",
            most=format_decimal(keywords_file.MAX_FILE_CHARS, locale=view.viewer.locale)),
            field="copy")
    name = view.context.settings.keywords.name
    checked = keywords_file.check_copy(copy, name)
    shown = [_with_source(problem, copy.splitlines(), name) for problem in checked["problems"]]
    return _show(view, status=200 if checked["valid"] else 422, copy=copy,
                 checked={**checked, "problems": shown})


@pages.post("/keywords/reload", name="page.keywords.reload")
async def reload(view: View) -> web.StreamResponse:
    try:
        done = await keywords_file.reload_everywhere(view.context, view.user, view.client)
    except ServiceError as err:  # no gateway in this process: said on the page, not a 503
        return _show(view, status=409, reload_error=err.message)
    return _show(view, status=200 if done.swapped else 422, reloaded=done)


def _with_source(problem: dict[str, Any], lines: list[str], name: str) -> dict[str, Any]:
    """The problem, with its line of the copy and a caret under the column when it has one."""
    line = problem["line"]
    source = lines[line - 1] if problem["file"] == name and line and line <= len(lines) \
        else None
    column = problem["column"] or 1
    caret = " " * (column - 1) + "^" if source is not None else None
    return {**problem, "source": source, "caret": caret}
