"""A refused request, said so the API, a page or the CLI can show it the same way.

Why an HTTP status in a service error: it is the classification every
caller already speaks (400 a bad value, 403 not yours, 404 no such thing,
409 someone else was first, 503 not configured); the web answers with it,
a page shows its message beside `field`, a command maps it to an exit code.

A message is written so a page can translate it: `N_("...")` for a fixed
sentence, `said(N_("... %(name)s ..."), name=value)` when it holds values
(gateway/plain_words.py). The API and the CLI read it as the English text
it always was; a page shows it in the viewer's language (`Viewer.gettext`).
"""

from __future__ import annotations

from typing import Any

from gateway.plain_words import N_, said, sentence


class ServiceError(Exception):
    """`code` is a word a script can switch on; `field` the input at fault, if one is."""

    def __init__(
        self, status: int, code: str, message: str, *, field: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = sentence(message)  # a page translates it; it reads as the English
        self.field = field
        self.extra = extra or {}  # more top-level keys beside "error" (e.g. "claimed_by")


def invalid(message: str, *, field: str | None, code: str = "invalid") -> ServiceError:
    return ServiceError(400, code, message, field=field)


def forbidden(message: str, *, code: str = "forbidden") -> ServiceError:
    return ServiceError(403, code, message)


def not_found(what: str) -> ServiceError:
    """`what` is the thing, marked N_ (N_("user"), or said(N_("user %(user_id)s"), ...))."""
    return ServiceError(404, "not_found", said(N_("%(what)s not found"), what=sentence(what)))


def conflict(message: str, *, field: str | None = None) -> ServiceError:
    return ServiceError(409, "conflict", message, field=field)


def unavailable(code: str, message: str) -> ServiceError:
    return ServiceError(503, code, message)
