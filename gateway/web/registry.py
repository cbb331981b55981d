"""Route declarations: one decorator gives the aiohttp route, its checks and its OpenAPI entry.

    routes = RouteTable("broadcasts")

    @routes.post("/api/v1/broadcasts", name="broadcasts.create", body=NewBroadcast,
                 status=201, summary="Create a draft or scheduled broadcast")
    async def create(call: Call) -> dict[str, Any]: ...

The roles come from `access.ACCESS[name]` (the one matrix); a name missing
there fails at start-up. `mount` wraps each handler so that, in this order:
the caller is authenticated (401), their role is allowed (403), the body is
read, the CSRF token is checked for cookie sessions (403), the body and the
query are validated (400 naming the field), and only then the handler runs.
A handler returns JSON-able data (datetimes become ISO strings) or a
ready response.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar

import asyncpg
from aiohttp import web
from pydantic import BaseModel

from gateway.services.audit import record
from gateway.web import access
from gateway.web.auth import Principal, authenticate
from gateway.web.body import query_dict, read_payload, validate
from gateway.web.context import WebContext, context_of
from gateway.web.errors import ApiError, bad_request, forbidden, unauthenticated
from gateway.web.sessions import CSRF_FIELD, csrf_ok

M = TypeVar("M", bound=BaseModel)
ApiHandler = Callable[["Call"], Awaitable[Any]]
PATH_PARAM = re.compile(r"\{(?P<name>[a-z_]+)\}")


@dataclass(frozen=True, slots=True)
class Route:
    name: str
    method: str
    path: str  # OpenAPI style: /api/v1/broadcasts/{broadcast_id}
    handler: ApiHandler
    summary: str
    tag: str
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    status: int = 200
    csrf: bool = True  # False only for login, which checks its own form token
    description: str = ""
    headers: tuple[tuple[str, str], ...] = ()  # request headers it reads: (name, what), for OpenAPI
    errors: tuple[int, ...] = ()  # answers beyond 400/401/403/404 it may give, for OpenAPI

    @property
    def rule(self) -> access.Rule:
        return access.rule_for(self.name)

    @property
    def scope(self) -> access.ScopeRule | None:
        return access.scope_for(self.name)

    @property
    def path_params(self) -> list[str]:
        return PATH_PARAM.findall(self.path)

    @property
    def aiohttp_path(self) -> str:
        """`{x_id}` only matches digits, so /broadcasts/abc is a 404, not a handler error."""
        return PATH_PARAM.sub(
            lambda m: f"{{{m['name']}:\\d+}}" if m["name"].endswith("_id") else m[0],
            self.path)


class RouteTable:
    """The routes of one resource module; `gateway.web.api.TABLES` lists the modules."""

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.routes: list[Route] = []

    def route(self, method: str, path: str, *, name: str, summary: str,
              **options: Any) -> Callable[[ApiHandler], ApiHandler]:
        def register(handler: ApiHandler) -> ApiHandler:
            access.rule_for(name)  # fail at import when the matrix has no entry
            access.scope_for(name)  # ... or a non-public route no token scope
            self.routes.append(Route(name=name, method=method, path=path, handler=handler,
                                     summary=summary, tag=self.tag, **options))
            return handler
        return register

    def get(self, path: str, **kw: Any) -> Callable[[ApiHandler], ApiHandler]:
        return self.route("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> Callable[[ApiHandler], ApiHandler]:
        return self.route("POST", path, **kw)

    def patch(self, path: str, **kw: Any) -> Callable[[ApiHandler], ApiHandler]:
        return self.route("PATCH", path, **kw)

    def delete(self, path: str, **kw: Any) -> Callable[[ApiHandler], ApiHandler]:
        return self.route("DELETE", path, **kw)


@dataclass(slots=True)
class Call:
    """One request as a handler sees it, after every check passed."""

    request: web.Request
    context: WebContext
    route: Route
    principal: Principal | None
    body: BaseModel | None = None
    query: BaseModel | None = None
    from_form: bool = False
    submitted_csrf: str | None = None  # a form's csrf_token field (login checks its own)

    @property
    def user(self) -> Principal:
        if self.principal is None:  # only on public routes, which do not ask
            raise unauthenticated()
        return self.principal

    @property
    def pool(self) -> asyncpg.Pool:
        return self.context.pool

    @property
    def client(self) -> str:
        return self.request.remote or "unknown"

    def body_as(self, model: type[M]) -> M:
        assert isinstance(self.body, model), f"{self.route.name} declares body={model.__name__}"
        return self.body

    def query_as(self, model: type[M]) -> M:
        assert isinstance(self.query, model), f"{self.route.name} declares query={model.__name__}"
        return self.query

    def path_int(self, name: str) -> int:
        return int(self.request.match_info[name])

    def path_str(self, name: str) -> str:
        return self.request.match_info[name]

    async def audit(self, conn: asyncpg.Connection, action: str, target: str | None = None,
                    **detail: Any) -> int:
        """One audit row by the caller, in `conn`'s transaction when it has one."""
        return await record(conn, self.principal, action, target, client=self.client, **detail)


def mount(app: web.Application, routes: Iterable[Route]) -> list[Route]:
    mounted = list(routes)
    seen: set[tuple[str, str]] = set()
    for route in mounted:
        key = (route.method, route.path)
        if key in seen:
            raise ValueError(f"{route.method} {route.path} is declared twice")
        seen.add(key)
        app.router.add_route(route.method, route.aiohttp_path, _endpoint(route),
                             name=route.name)
    return mounted


def _endpoint(route: Route) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    rule = route.rule
    scope = route.scope

    async def endpoint(request: web.Request) -> web.StreamResponse:
        principal = await _principal(request, public=rule == access.PUBLIC)
        if rule != access.PUBLIC:
            if principal is None:
                raise unauthenticated()
            if not access.allows(rule, principal.role):
                raise forbidden(f"the {principal.role} role may not use {route.name}")
            if not token_may(principal, scope):
                raise ApiError(403, "missing_scope",
                               f"this API token lacks the scope {scope} that {route.name} "
                               "needs; make a token with it", extra={"scope": scope})
        payload: dict[str, Any] = {}
        from_form = False
        if route.body is not None or request.method != "GET":
            payload, from_form = await read_payload(request)
        submitted = payload.pop(CSRF_FIELD, None) if from_form else None
        if route.csrf and not csrf_ok(request, principal, _one(submitted)):
            raise forbidden("missing or wrong CSRF token (send the X-CSRF-Token header "
                            "or the csrf_token form field)", code="csrf")
        call = Call(request=request, context=context_of(request), route=route,
                    principal=principal, from_form=from_form, submitted_csrf=_one(submitted))
        if route.body is not None:
            call.body = validate(route.body, payload)
        elif payload:
            raise bad_request(f"{route.name} takes no body", field=next(iter(payload)))
        if route.query is not None:
            call.query = validate(route.query, query_dict(request.query), what="query")
        result = await route.handler(call)
        if isinstance(result, web.StreamResponse):
            return result
        return web.json_response(result, status=route.status, dumps=dumps)

    endpoint.__name__ = route.name.replace(".", "_")
    return endpoint


def token_may(principal: Principal, scope: access.ScopeRule | None) -> bool:
    """A session is limited by its role only; a token also by the scopes it was made with."""
    if principal.scopes is None or scope is None or scope == access.SELF:
        return True
    return scope in principal.scopes


async def _principal(request: web.Request, *, public: bool) -> Principal | None:
    try:
        return await authenticate(request)
    except ApiError:
        if public:  # a stale token must not stop a login or the API description
            return None
        raise


def _one(value: object) -> str | None:
    if isinstance(value, list):
        return str(value[0]) if value else None
    return None if value is None else str(value)


def _jsonable(value: object) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes | memoryview):
        return None  # never a hash or a secret in an answer
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, frozenset | set | tuple):
        return list(value)
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def dumps(value: Any) -> str:
    return json.dumps(value, default=_jsonable, separators=(",", ":"))
