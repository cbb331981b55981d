"""Request bodies and query strings in, validated pydantic models out, or a 400 naming the field.

Why one reader for JSON and forms: the same endpoint serves a script (JSON)
and a page's `<form>` (urlencoded or multipart), and both must be checked by
the same model. A plain-text body (a keywords file sent as text/yaml)
arrives as the field `text`; an uploaded file in a form arrives as its text.

Nothing a client sends can raise past here: bad JSON, bad UTF-8, a nesting
deep enough to exhaust the parser, a list where an object belongs, a wrong
type or an unknown field each become `ApiError(400)` with `field` set.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, TypeVar

from aiohttp import web
from multidict import MultiMapping
from pydantic import BaseModel, ConfigDict, ValidationError

from gateway.web.errors import ApiError, bad_request

M = TypeVar("M", bound=BaseModel)

FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})
JSON_TYPES = frozenset({"application/json", ""})
TEXT_TYPES = frozenset({"text/plain", "text/yaml", "text/x-yaml", "application/yaml",
                        "application/x-yaml"})
BODY_FIELD = "body"  # the `field` of an error about the body as a whole


class Strict(BaseModel):
    """Base of every request model: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


async def read_payload(request: web.Request) -> tuple[dict[str, Any], bool]:
    """The body as a dict, and whether it came from a form (forms carry a csrf_token field)."""
    content_type = request.content_type
    if content_type in FORM_TYPES:
        return await _form(request), True
    raw = await request.read()
    if content_type in TEXT_TYPES:
        return {"text": _text(raw)}, False
    if not raw.strip():  # no body at all (a bare POST /start) is an empty object
        return {}, False
    if content_type not in JSON_TYPES:
        raise ApiError(415, "unsupported_media_type",
                       f"send application/json or a form, not {content_type}", field=BODY_FIELD)
    try:
        value = json.loads(_text(raw), parse_constant=_no_constant)
    except (ValueError, RecursionError) as err:
        raise bad_request(f"the body is not valid JSON: {_short(err)}", field=BODY_FIELD,
                          code="malformed_json") from None
    if not isinstance(value, dict):
        raise bad_request(f"the body must be a JSON object, not {_json_type(value)}",
                          field=BODY_FIELD, code="malformed_json")
    return value, False


def validate(model: type[M], data: Mapping[str, Any], *, what: str = "body") -> M:
    try:
        return model.model_validate(data)
    except ValidationError as err:
        problems = [
            {"field": _field(error["loc"]), "message": error["msg"]}
            for error in err.errors(include_url=False, include_input=False)
        ]
        first = problems[0]
        raise ApiError(400, f"invalid_{what}", f"{first['field']}: {first['message']}",
                       field=first["field"], extra={"problems": problems}) from None


def query_dict(query: MultiMapping[str]) -> dict[str, Any]:
    """Repeated keys (?theme=a&theme=b) become lists; single ones stay strings."""
    result: dict[str, Any] = {}
    for key in query:
        values = query.getall(key)
        result[key] = values if len(values) > 1 else values[0]
    return result


async def _form(request: web.Request) -> dict[str, Any]:
    form = await request.post()
    result: dict[str, Any] = {}
    for key in form:
        values = [_form_value(key, v) for v in form.getall(key)]
        result[key] = values if len(values) > 1 else values[0]
    return result


def _form_value(key: str, value: object) -> str:
    if isinstance(value, str):
        return value
    file = getattr(value, "file", None)
    if file is None:
        raise bad_request("unexpected form value", field=key)
    data = file.read()
    return _text(data, field=key)


def _text(raw: bytes, *, field: str = BODY_FIELD) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise bad_request(f"not UTF-8 text (byte {err.start})", field=field,
                          code="malformed_text") from None


def _field(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or BODY_FIELD


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def _json_type(value: object) -> str:
    return {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number")


def _short(err: BaseException) -> str:
    return "nested too deeply" if isinstance(err, RecursionError) else str(err)[:200]
