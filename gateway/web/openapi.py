"""The OpenAPI 3.1 document, built from the same declarations that build the routes.

Why generated rather than written: a hand-kept document drifts from the
code the first time someone adds a route in a hurry. Here a route cannot
exist without its entry (and the test checks both directions). Pydantic's
JSON Schema is 2020-12, which is what OpenAPI 3.1 uses, so request models
go into `components.schemas` unchanged. `x-roles` lists who may call each
operation, straight from the access matrix; `x-scope` the API token scope it
needs (access.API_SCOPES), also listed in its bearer security requirement.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel

from gateway import __version__
from gateway.web import access
from gateway.web.auth import SESSION_COOKIE
from gateway.web.registry import Route

REF = "#/components/schemas/{model}"

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {
        "type": "object",
        "required": ["code", "message", "field"],
        "properties": {
            "code": {"type": "string"},
            "message": {"type": "string"},
            "field": {"type": ["string", "null"],
                      "description": "the request field at fault, dotted for nested ones"},
        },
    }},
}
ERROR_TEXT = {
    400: "malformed or invalid request; `field` names the culprit",
    401: "not logged in, or a bad API token",
    403: "the caller's role may not do this, the API token lacks the operation's scope "
         "(`missing_scope`, the scope named in `scope`), or the CSRF token is missing",
    404: "no such resource",
    409: "the request conflicts with the current state (the message says which)",
    422: "the Idempotency-Key was used before with another body",
}


def openapi_document(routes: Iterable[Route]) -> dict[str, Any]:
    schemas: dict[str, Any] = {"Error": ERROR_SCHEMA}
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, schemas)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Short-code gateway admin API", "version": __version__,
                 "description": "JSON over HTTP. Scripts send `Authorization: Bearer "
                                "<API token>`; pages use the session cookie and send "
                                "the X-CSRF-Token header on unsafe requests."},
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": SESSION_COOKIE},
            },
        },
    }


def _operation(route: Route, schemas: dict[str, Any]) -> dict[str, Any]:
    rule = route.rule
    public = rule == access.PUBLIC
    operation: dict[str, Any] = {
        "operationId": route.name,
        "summary": route.summary,
        "tags": [route.tag],
        "x-roles": "public" if public else sorted(rule),
        "security": [] if public else [{"bearer": _scopes(route)}, {"session": []}],
        "responses": {str(route.status): {"description": "success"}},
    }
    if not public:
        operation["x-scope"] = route.scope
    if route.description:
        operation["description"] = route.description
    parameters = [
        {"name": name, "in": "path", "required": True,
         "schema": {"type": "integer"} if name.endswith("_id") else {"type": "string"}}
        for name in route.path_params
    ]
    if route.query is not None:
        parameters += _query_parameters(route.query, schemas)
    parameters += [{"name": name, "in": "header", "required": False, "description": what,
                    "schema": {"type": "string"}} for name, what in route.headers]
    if parameters:
        operation["parameters"] = parameters
    if route.body is not None:
        ref = _schema_ref(route.body, schemas)
        operation["requestBody"] = {"required": True, "content": {
            "application/json": {"schema": ref},
            "application/x-www-form-urlencoded": {"schema": ref},
        }}
    errors = []
    if route.body is not None or route.query is not None:
        errors.append(400)
    if not public:
        errors += [401, 403]
    if route.path_params:
        errors.append(404)
    errors += [status for status in route.errors if status not in errors]
    for status in errors:
        operation["responses"][str(status)] = {
            "description": ERROR_TEXT[status],
            "content": {"application/json": {"schema": {"$ref": REF.format(model="Error")}}},
        }
    return operation


def _scopes(route: Route) -> list[str]:
    """OpenAPI 3.1 lets a non-OAuth scheme list the roles (here: the token scope) it needs."""
    scope = route.scope
    return [] if scope is None or scope == access.SELF else [scope]


def _schema_ref(model: type[BaseModel], schemas: dict[str, Any]) -> dict[str, str]:
    schema = model.model_json_schema(ref_template=REF)
    schemas.update(schema.pop("$defs", {}))
    schemas[model.__name__] = schema
    return {"$ref": REF.format(model=model.__name__)}


def _query_parameters(model: type[BaseModel], schemas: dict[str, Any]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template=REF)
    schemas.update(schema.pop("$defs", {}))
    required = set(schema.get("required", ()))
    return [
        {"name": name, "in": "query", "required": name in required,
         "schema": {k: v for k, v in prop.items() if k != "title"},
         **({"description": prop["description"]} if "description" in prop else {})}
        for name, prop in schema.get("properties", {}).items()
    ]
