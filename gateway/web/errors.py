"""One error shape for the whole web API: `{"error": {"code", "message", "field"}}`.

Why a middleware and an exception rather than building responses in each
handler: a handler raises `ApiError`, or a service it calls a `ServiceError`
(or lets a known library error escape)
and the status, code and shape are decided here, once. Anything unexpected
becomes a 500 in the same shape, logged with its traceback but with no
request body or secret in the answer. aiohttp's own 404/405 on API paths
get the same shape, so a script never has to parse HTML.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from gateway.logs import get_logger
from gateway.plain_words import N_, said, sentence
from gateway.services.errors import ServiceError

log = get_logger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# aiohttp's statuses on API paths, as codes a script can switch on.
_HTTP_CODES = {
    400: "bad_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 409: "conflict", 413: "body_too_large",
    415: "unsupported_media_type", 422: "unprocessable", 429: "too_many_requests",
}
JSON_PATH_PREFIXES = ("/api/", "/login", "/logout")


class ApiError(ServiceError):
    """An answer other than success; `field` names the request field at fault, if one is.

    A service's refusal (`ServiceError`, gateway/services/errors.py) is answered
    the same way; this adds what only HTTP has, headers.
    """

    def __init__(
        self, status: int, code: str, message: str, *, field: str | None = None,
        headers: dict[str, str] | None = None, extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(status, code, message, field=field, extra=extra)
        self.headers = headers or {}


def refusal_response(err: ServiceError) -> web.Response:
    """The answer to a refusal, from a service or from the web layer itself."""
    headers = err.headers if isinstance(err, ApiError) else None
    return error_response(err.status, err.code, err.message, field=err.field,
                          headers=headers, extra=err.extra)


def error_response(
    status: int, code: str, message: str, *, field: str | None = None,
    headers: dict[str, str] | None = None, extra: dict[str, Any] | None = None,
) -> web.Response:
    body = {"error": {"code": code, "message": message, "field": field}, **(extra or {})}
    return web.json_response(body, status=status, headers=headers)


def bad_request(message: str, *, field: str | None, code: str = "invalid") -> ApiError:
    return ApiError(400, code, message, field=field)


def unauthenticated(message: str = "log in or send an API token") -> ApiError:
    return ApiError(401, "unauthenticated", message,
                    headers={"WWW-Authenticate": 'Bearer realm="gateway"'})


def forbidden(message: str, *, code: str = "forbidden") -> ApiError:
    return ApiError(403, code, message)


def not_found(what: str) -> ApiError:
    return ApiError(404, "not_found", said(N_("%(what)s not found"), what=sentence(what)))


def conflict(message: str, *, field: str | None = None) -> ApiError:
    return ApiError(409, "conflict", message, field=field)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ServiceError as err:
        return refusal_response(err)
    except web.HTTPException as err:
        if err.status < 400 or not request.path.startswith(JSON_PATH_PREFIXES):
            raise  # redirects, and pages' own errors, stay as they are
        code = _HTTP_CODES.get(err.status, f"http_{err.status}")
        return error_response(err.status, code, err.reason, headers=_kept_headers(err))
    except Exception:  # a bug: one logged line, one generic answer, the process lives on
        log.error("web_request_failed", method=request.method, path=request.path,
                  exc_info=True)
        return error_response(500, "internal", "internal error; it has been logged")


def _kept_headers(err: web.HTTPException) -> dict[str, str]:
    allow = err.headers.get("Allow")
    return {"Allow": allow} if allow else {}
