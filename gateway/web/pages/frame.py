"""The page frame: declarations, the login/role/CSRF gate, and template rendering.

    pages = PageTable()

    @pages.get("/contacts", name="page.contacts", nav="Contacts")
    async def contacts(view: View) -> web.StreamResponse:
        return view.render("contacts.html", title="Contacts", rows=...)

Who may open a page is `access.ACCESS[name]`, the same matrix as the API;
a name missing there fails at import. The gate, in order: nobody logged in
-> 303 to the login page (401 for the JSON helpers of a page); a role not
allowed -> 403 page; a POST without the session's CSRF token (form field
or X-CSRF-Token header) -> 403 page; then the handler. An `ApiError` raised
by a handler, or a `ServiceError` by a service it calls (bad input, not
found, conflict), becomes the error page with its status, so handlers share
the API's error vocabulary.

Why HTML gets its own headers here: a Content-Security-Policy without
'unsafe-inline' (the one script and stylesheet are files under /static),
no framing, no sniffing. Pages are then safe to show data supporters typed.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

import jinja2
from aiohttp import web
from multidict import MultiDict, MultiDictProxy

from gateway.config import Settings
from gateway.logs import get_logger
from gateway.plain_words import N_, said, sentence
from gateway.services.errors import ServiceError
from gateway.web import access, filters
from gateway.web.auth import Principal, authenticate
from gateway.web.context import WebContext, context_of
from gateway.web.errors import ApiError, error_response, refusal_response
from gateway.web.locale import Viewer, viewer_for
from gateway.web.sessions import CSRF_FIELD, csrf_ok

log = get_logger(__name__)

PageHandler = Callable[["View"], Awaitable[web.StreamResponse]]
LOGIN_PATH = "/login"
SECURITY_HEADERS: Mapping[str, str] = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


@dataclass(frozen=True, slots=True)
class Page:
    name: str
    method: str
    path: str
    handler: PageHandler
    nav: str | None = None  # its label in the navigation, when it has one
    json: bool = False  # a page's fetch helper: errors as the API's JSON shape

    @property
    def rule(self) -> access.Rule:
        return access.rule_for(self.name)


class PageTable:
    def __init__(self) -> None:
        self.pages: list[Page] = []

    def _add(self, method: str, path: str, *, name: str, nav: str | None = None,
             json: bool = False) -> Callable[[PageHandler], PageHandler]:
        def register(handler: PageHandler) -> PageHandler:
            access.rule_for(name)  # fail at import when the matrix has no entry
            self.pages.append(Page(name, method, path, handler, nav, json))
            return handler
        return register

    def get(self, path: str, **kw: Any) -> Callable[[PageHandler], PageHandler]:
        return self._add("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> Callable[[PageHandler], PageHandler]:
        return self._add("POST", path, **kw)


@dataclass(frozen=True, slots=True)
class NavItem:
    name: str  # the page's ACCESS name: the item shows only to roles that may open it
    path: str
    label: str
    when: Callable[[Settings], bool] | None = None  # shown only when the settings say so


@dataclass(slots=True)
class Site:
    """What the pages share, stored on the app: templates, navigation, gateway hooks."""

    templates: jinja2.Environment
    nav: tuple[NavItem, ...]
    smpp_state: Callable[[], str] | None = None
    programs: Callable[[], list[str]] | None = None
    extras: dict[str, Any] = field(default_factory=dict)  # e.g. the phone bridge


SITE = web.AppKey("pages_site", Site)


@dataclass(slots=True)
class View:
    """One page request after the gate: who asks, the form they sent, and how to answer."""

    request: web.Request
    page: Page
    principal: Principal | None
    form: MultiDictProxy[Any] = field(default_factory=lambda: MultiDictProxy(MultiDict()))

    @property
    def context(self) -> WebContext:
        return context_of(self.request)

    @property
    def site(self) -> Site:
        return self.request.app[SITE]

    @property
    def user(self) -> Principal:
        assert self.principal is not None, f"{self.page.name} is public; it has no user"
        return self.principal

    @property
    def client(self) -> str:
        return self.request.remote or "unknown"

    @property
    def viewer(self) -> Viewer:
        """The zone and language this page is shown in (the user's, else the campaign's)."""
        return viewer_of(self.request, self.principal)

    def field(self, name: str, default: str = "") -> str:
        value = self.form.get(name)
        return value.strip() if isinstance(value, str) else default

    def query(self, name: str, default: str = "") -> str:
        return self.request.query.get(name, default).strip()

    def render(self, template: str, *, status: int = 200, **values: Any) -> web.Response:
        return render(self.request, template, principal=self.principal, status=status,
                      **values)

    def redirect(self, path: str, **params: str) -> web.Response:
        location = f"{path}?{urlencode(params)}" if params else path
        return web.Response(status=303, headers={"Location": location})


def visible_nav(request: web.Request, principal: Principal | None) -> list[NavItem]:
    """The navigation items this user may open, on this deployment."""
    role = principal.role if principal else None
    settings = context_of(request).settings
    return [item for item in request.app[SITE].nav
            if access.allows(access.rule_for(item.name), role)
            and (item.when is None or item.when(settings))]


def viewer_of(request: web.Request, principal: Principal | None) -> Viewer:
    """The zone, language and currency this page is shown in (gateway/web/locale.py)."""
    return viewer_for(context_of(request).settings,
                      principal.time_zone if principal else None,
                      principal.language if principal else None)


def page_html(request: web.Request, template: str, *, principal: Principal | None,
              **values: Any) -> str:
    viewer = viewer_of(request, principal)
    return request.app[SITE].templates.get_template(template).render(
        principal=principal, csrf=principal.csrf_token if principal else None,
        csrf_field=CSRF_FIELD, nav=visible_nav(request, principal), path=request.path,
        viewer=viewer, lang=viewer.language, **values)


def html_response(text: str = "", *, status: int = 200) -> web.Response:
    return web.Response(text=text, status=status, content_type="text/html",
                        headers=dict(SECURITY_HEADERS))


def render(request: web.Request, template: str, *, principal: Principal | None,
           status: int = 200, **values: Any) -> web.Response:
    return html_response(page_html(request, template, principal=principal, **values),
                         status=status)


def error_page(request: web.Request, principal: Principal | None, status: int,
               message: str) -> web.Response:
    titles = {400: N_("Please check the form"), 403: N_("Not allowed"), 404: N_("Not found"),
              409: N_("Cannot do that now")}
    return render(request, "error.html", principal=principal, status=status,
                  title=titles.get(status, N_("Something went wrong")), message=message)


def make_templates() -> jinja2.Environment:
    """Templates from the installed package; autoescaped; undefined names are errors.

    `when`, `cents`, `number`, `plain`, `t` and gettext show things in the
    viewer's zone and language (gateway/web/filters.py).
    """
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("gateway.web", "templates"),
        autoescape=jinja2.select_autoescape(["html"]), undefined=jinja2.StrictUndefined,
        trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.i18n"])
    filters.install(env)
    env.filters["path_part"] = lambda s: quote(str(s), safe="+")
    return env


def mount_pages(app: web.Application, pages: list[Page]) -> None:
    for page in pages:
        app.router.add_route(page.method, _aiohttp_path(page.path), _endpoint(page),
                             name=page.name)


def _aiohttp_path(path: str) -> str:
    """`{x_id}` matches digits only, as in the API: /broadcasts/new is not broadcast 'new'."""
    return re.sub(r"\{([a-z_]+_id)\}", r"{\1:\\d+}", path)


def _endpoint(page: Page) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    rule = page.rule

    async def endpoint(request: web.Request) -> web.StreamResponse:
        try:
            principal = await authenticate(request)
        except ApiError:
            principal = None  # a stale bearer token on a page: as if logged out
        refused = _gate(request, page, rule, principal)
        if refused is not None:
            return refused
        view = View(request, page, principal)
        if request.method == "POST":
            if request.content_type in FORM_TYPES:
                view.form = await request.post()
            submitted = view.form.get(CSRF_FIELD)
            if not csrf_ok(request, principal, submitted if isinstance(submitted, str)
                           else None):
                return _refuse(request, page, principal, 403, "csrf",
                               N_("This form has expired or did not come from this site. "
                                  "Load the page again and resubmit."))
        try:
            return await page.handler(view)
        except ServiceError as err:  # an ApiError too
            if page.json:
                return refusal_response(err)
            return error_page(request, principal, err.status, err.message)
        except web.HTTPException:
            raise
        except Exception:  # a bug: logged once, a plain page for the user
            log.error("page_failed", page=page.name, path=request.path, exc_info=True)
            return _refuse(request, page, principal, 500, "internal",
                           N_("Something went wrong on our side; it has been logged."))

    endpoint.__name__ = page.name.replace(".", "_")
    return endpoint


def _gate(request: web.Request, page: Page, rule: access.Rule,
          principal: Principal | None) -> web.StreamResponse | None:
    if rule == access.PUBLIC:
        return None
    if principal is None:
        if page.json:
            return error_response(401, "unauthenticated", "log in again")
        target = request.path_qs if request.method == "GET" else "/"
        return web.Response(status=303, headers={
            "Location": f"{LOGIN_PATH}?{urlencode({'next': target})}"})
    if not access.allows(rule, principal.role):
        return _refuse(request, page, principal, 403, "forbidden",
                       said(N_("The %(role)s role cannot open this page."),
                            role=sentence(principal.role)))
    return None


def _refuse(request: web.Request, page: Page, principal: Principal | None, status: int,
            code: str, message: str) -> web.Response:
    if page.json:
        return error_response(status, code, message)
    return error_page(request, principal, status, message)
