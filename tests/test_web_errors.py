"""One error shape, the right status, and never a 500 for anything a client sends."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.webapi import Staff, WebApi, assert_error_shape


@pytest.fixture
async def admin(web: WebApi) -> Staff:
    return await web.staff("admin")


async def test_unknown_api_path_and_wrong_method_answer_in_the_shape(web: WebApi) -> None:
    response = await web.client.get("/api/v1/nothing-here")
    assert response.status == 404
    assert assert_error_shape(await response.json())["code"] == "not_found"
    response = await web.client.put("/api/v1/users")
    assert response.status == 405
    assert assert_error_shape(await response.json())["code"] == "method_not_allowed"
    response = await web.client.get("/api/v1/broadcasts/abc")
    assert response.status == 404


async def test_healthz_is_unchanged(web: WebApi) -> None:
    response = await web.client.get("/healthz")
    assert response.status == 200
    assert (await response.json())["status"] == "ok"


@pytest.mark.parametrize(("raw", "content_type", "code", "field"), [
    (b"{not json", "application/json", "malformed_json", "body"),
    (b"[1, 2]", "application/json", "malformed_json", "body"),
    (b"\xff\xfe", "application/json", "malformed_text", "body"),
    (b'{"program": NaN}', "application/json", "malformed_json", "body"),
    (b"[" * 100_000, "application/json", "malformed_json", "body"),
    (b'{"program": "p", "text": "hi", "colour": "red"}', "application/json",
     "invalid_body", "colour"),
    (b'{"program": 5, "text": "hi"}', "application/json", "invalid_body", "program"),
    (b'{"text": "hi"}', "application/json", "invalid_body", "program"),
    (b'{"program": "p", "text": "hi", "scheduled_at": "tomorrow"}', "application/json",
     "invalid_body", "scheduled_at"),
    (b'{"program": "p", "text": "hi", "scheduled_at": "2026-01-01T10:00:00"}',
     "application/json", "invalid_body", "scheduled_at"),
])
async def test_malformed_bodies_get_a_400_naming_the_field(
    web: WebApi, admin: Staff, raw: bytes, content_type: str, code: str, field: str,
) -> None:
    response = await web.client.post("/api/v1/broadcasts", data=raw, headers={
        **admin.bearer, "Content-Type": content_type})
    assert response.status == 400, await response.text()
    error = assert_error_shape(await response.json())
    assert (error["code"], error["field"]) == (code, field)


async def test_a_nested_field_is_named_with_its_path(web: WebApi, admin: Staff) -> None:
    response = await web.client.post("/api/v1/users", json={
        "email": "x@example.org", "role": "expert", "themes": ["ok", 7]}, headers=admin.bearer)
    assert response.status == 400
    assert assert_error_shape(await response.json())["field"] == "themes.1"


async def test_a_bad_query_parameter_is_named(web: WebApi, admin: Staff) -> None:
    response = await web.client.get("/api/v1/audit?limit=lots", headers=admin.bearer)
    assert response.status == 400
    error = assert_error_shape(await response.json())
    assert (error["code"], error["field"]) == ("invalid_query", "limit")


async def test_an_unsupported_media_type_is_a_415(web: WebApi, admin: Staff) -> None:
    response = await web.client.post("/api/v1/broadcasts", data=b"<xml/>", headers={
        **admin.bearer, "Content-Type": "application/xml"})
    assert response.status == 415
    assert assert_error_shape(await response.json())["field"] == "body"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                max_size=4),
    max_leaves=12)
field_names = st.sampled_from(["program", "where", "text", "shortcode", "scheduled_at",
                               "sample_size", "email", "role", "themes", "password", "disabled",
                               "name", "at", "filename"]) | st.text(max_size=12)
bodies = st.dictionaries(field_names, json_values, max_size=6)
POSTS = ["/api/v1/broadcasts", "/api/v1/broadcasts/preview", "/api/v1/users",
         "/api/v1/keywords/validate", "/api/v1/me/tokens", "/api/v1/broadcasts/1/schedule",
         "/login"]


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(path=st.sampled_from(POSTS), body=bodies | json_values)
async def test_fuzzed_json_bodies_never_cause_a_500(
    web: WebApi, admin: Staff, path: str, body: Any,
) -> None:
    response = await web.client.post(path, data=json.dumps(body), headers={
        **admin.bearer, "Content-Type": "application/json"})
    assert response.status < 500, await response.text()
    if response.status >= 400:
        assert_error_shape(await response.json())
