"""The OpenAPI document and the routes are the same set, in both directions."""

from __future__ import annotations

from aiohttp.test_utils import TestServer

from gateway.web.access import ACCESS, API_SCOPES, PUBLIC
from tests.support.webapi import WebApi

JSON_PATHS = ("/api/", "/login", "/logout")



async def test_every_mounted_route_is_documented_and_every_documented_one_is_mounted(
    web: WebApi,
) -> None:
    response = await web.client.get("/api/v1/openapi.json")
    assert response.status == 200
    document = await response.json()
    assert document["openapi"].startswith("3.")
    documented = {(path, method.upper()) for path, item in document["paths"].items()
                  for method in item}
    server = web.client.server
    assert isinstance(server, TestServer)
    app = server.app
    mounted = {(route.resource.canonical, route.method) for route in app.router.routes()
               if route.resource is not None and route.method != "HEAD"
               and route.resource.canonical.startswith(JSON_PATHS)}
    assert mounted == documented
    assert len(mounted) == len([name for name in ACCESS if not name.startswith("page.")])


async def test_each_operation_names_its_roles_and_errors(web: WebApi) -> None:
    document = await (await web.client.get("/api/v1/openapi.json")).json()
    for item in document["paths"].values():
        for operation in item.values():
            rule = ACCESS[operation["operationId"]]
            if rule == PUBLIC:
                assert operation["x-roles"] == "public"
                assert operation["security"] == []
            else:
                assert operation["x-roles"] == sorted(rule)
                assert {"401", "403"} <= set(operation["responses"])
            for status, answer in operation["responses"].items():
                if status.startswith("4"):
                    ref = answer["content"]["application/json"]["schema"]["$ref"]
                    assert ref == "#/components/schemas/Error"


async def test_request_models_are_in_the_components(web: WebApi) -> None:
    document = await (await web.client.get("/api/v1/openapi.json")).json()
    schemas = document["components"]["schemas"]
    create = document["paths"]["/api/v1/broadcasts"]["post"]
    ref = create["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    name = ref.rsplit("/", 1)[-1]
    assert {"program", "text", "where", "scheduled_at"} <= set(schemas[name]["properties"])
    search = document["paths"]["/api/v1/contacts"]["get"]
    assert {p["name"] for p in search["parameters"]} >= {"q", "field", "value", "limit"}
    progress = document["paths"]["/api/v1/broadcasts/{broadcast_id}/progress"]["get"]
    assert progress["parameters"][0] == {"name": "broadcast_id", "in": "path",
                                         "required": True, "schema": {"type": "integer"}}


async def test_each_operation_names_its_token_scope_and_the_send_api_its_key(
        web: WebApi) -> None:
    document = await (await web.client.get("/api/v1/openapi.json")).json()
    for item in document["paths"].values():
        for operation in item.values():
            if ACCESS[operation["operationId"]] != PUBLIC:
                assert operation["x-scope"] == API_SCOPES[operation["operationId"]]
    send = document["paths"]["/api/v1/messages"]["post"]
    assert send["security"][0] == {"bearer": ["messages:send"]}
    assert {"name": "Idempotency-Key", "in": "header"}.items() <= send["parameters"][0].items()
    assert {"201", "400", "403", "409", "422"} <= set(send["responses"])
