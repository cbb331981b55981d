"""The admin API under /api/v1 (plus POST /login and /logout), mounted on the gateway's web app.

Adding an endpoint:
  1. in a module here, `routes = RouteTable("tag")` and one decorated handler
     (`@routes.get(path, name=..., summary=..., query=Model)` or `.post(...,
     body=Model)`); that one declaration makes the route, its checks and its
     OpenAPI entry;
  2. its roles: one line in `gateway/web/access.py` ACCESS (start-up fails without);
  3. a new module: add its `routes` to `TABLES` below.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.web.api import (
    audit_log,
    broadcasts,
    campaign_data,
    contacts,
    donations,
    exports,
    finance,
    imports,
    inbox,
    keywords,
    knowledge_base,
    messages,
    privacy,
    session,
    users,
    voice,
    webhooks,
)
from gateway.web.context import WEB_CONTEXT, WebContext
from gateway.web.errors import error_middleware
from gateway.web.openapi import openapi_document
from gateway.web.password_work import install as install_password_work
from gateway.web.registry import Call, Route, RouteTable, mount
from gateway.web.upload_limits import upload_limit_middleware

OPENAPI_PATH = "/api/v1/openapi.json"
OPENAPI = web.AppKey("openapi", dict[str, Any])

meta = RouteTable("meta")


@meta.get(OPENAPI_PATH, name="openapi", summary="This API's OpenAPI 3.1 description")
async def openapi(call: Call) -> dict[str, Any]:
    return call.request.app[OPENAPI]


TABLES: tuple[RouteTable, ...] = (
    meta, session.routes, contacts.routes, keywords.routes, broadcasts.routes,
    donations.routes, finance.routes, users.routes, audit_log.routes, inbox.routes,
    privacy.routes, campaign_data.routes, knowledge_base.routes, voice.routes,
    webhooks.routes, exports.routes, messages.routes, imports.routes,
)


def all_routes(tables: tuple[RouteTable, ...] = TABLES) -> list[Route]:
    return [route for table in tables for route in table.routes]


def add_api_routes(app: web.Application, context: WebContext,
                   *, tables: tuple[RouteTable, ...] = TABLES) -> list[Route]:
    """Mount every route on `app` (which may already serve /healthz and webhooks)."""
    app[WEB_CONTEXT] = context
    install_password_work(app, workers=context.settings.web_password_workers,
                          queue=context.settings.web_password_queue)
    if error_middleware not in app.middlewares:
        app.middlewares.append(error_middleware)
    if upload_limit_middleware not in app.middlewares:
        app.middlewares.append(upload_limit_middleware)
    routes = mount(app, all_routes(tables))
    app[OPENAPI] = openapi_document(routes)
    return routes
