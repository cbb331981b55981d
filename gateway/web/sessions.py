"""Server-side sessions, their cookie and CSRF tokens (the login throttle: login_throttle.py).

For the page handlers as much as for the API:
  - `start_session(request, response, user)` after a good password;
  - `end_session(request, response)` on logout;
  - `csrf_token(principal)` to put in every form (`<input name="csrf_token">`);
  - `login_form_token(request, response)` for the login form itself, which has
    no session yet (a double-submit cookie, checked by `check_login_form_token`).

Why the cookie holds only a random id: the session lives in PostgreSQL, so a
logout, a disabled user or a role change takes effect on the next request,
and the hash stored (never the id) logs nobody in if the table leaks.

CSRF: every unsafe request authenticated by the cookie must carry the
session's token, in the `X-CSRF-Token` header (scripts in the page) or the
`csrf_token` form field. SameSite already stops most cross-site posts; the
token is the belt to those braces. Bearer tokens are not sent by browsers on
their own, so requests carrying one need no CSRF token.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from aiohttp import web

from gateway.config import Settings
from gateway.store import web_sessions as session_store
from gateway.store.users import User
from gateway.web.auth import SESSION_COOKIE, Principal, forget_principal
from gateway.web.context import context_of
from gateway.web.credentials import digest, new_csrf_token, new_session_id, same_secret

CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
LOGIN_CSRF_COOKIE = "gw_login_csrf"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True, slots=True)
class CookiePolicy:
    secure: bool
    samesite: str  # "Lax" or "Strict"
    max_age: int  # seconds

    @classmethod
    def from_settings(cls, settings: Settings) -> CookiePolicy:
        return cls(secure=settings.web_cookie_secure, samesite=settings.web_cookie_samesite,
                   max_age=int(settings.web_session_hours * 3600))

    def set(self, response: web.StreamResponse, name: str, value: str, *,
            max_age: int | None = None) -> None:
        response.set_cookie(name, value, max_age=self.max_age if max_age is None else max_age,
                            path="/", secure=self.secure, httponly=True,
                            samesite=self.samesite)

    def clear(self, response: web.StreamResponse, name: str) -> None:
        response.del_cookie(name, path="/", secure=self.secure, httponly=True,
                            samesite=self.samesite)


async def start_session(request: web.Request, response: web.StreamResponse, user: User) -> str:
    """Store a new session for `user`, set its cookie; returns the session's CSRF token."""
    context = context_of(request)
    policy = CookiePolicy.from_settings(context.settings)
    session_id, csrf = new_session_id(), new_csrf_token()
    now = context.clock()
    async with context.pool.acquire() as conn:
        await session_store.insert_session(
            conn, id_hash=digest(session_id), user_id=user.id, csrf_token=csrf, now=now,
            expires_at=now + timedelta(seconds=policy.max_age))
    policy.set(response, SESSION_COOKIE, session_id)
    policy.clear(response, LOGIN_CSRF_COOKIE)
    forget_principal(request)
    return csrf


async def end_session(request: web.Request, response: web.StreamResponse) -> None:
    """Delete this browser's session (if any) and its cookie."""
    context = context_of(request)
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        async with context.pool.acquire() as conn:
            await session_store.delete_session(conn, digest(cookie))
    CookiePolicy.from_settings(context.settings).clear(response, SESSION_COOKIE)
    forget_principal(request)


def csrf_token(principal: Principal | None) -> str | None:
    """The token a page puts in its forms (and its fetch calls' X-CSRF-Token header)."""
    return principal.csrf_token if principal is not None else None


def csrf_ok(request: web.Request, principal: Principal | None, submitted: str | None) -> bool:
    """True when this request needs no CSRF token or carries the session's."""
    if request.method not in UNSAFE_METHODS or principal is None or principal.via != "session":
        return True
    given = request.headers.get(CSRF_HEADER) or submitted
    return same_secret(given, principal.csrf_token)


def login_form_token(request: web.Request, response: web.StreamResponse) -> str:
    """For the login page: a token for its form, mirrored in a short-lived cookie."""
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or new_csrf_token()
    CookiePolicy.from_settings(context_of(request).settings).set(
        response, LOGIN_CSRF_COOKIE, token, max_age=3600)
    return token


def check_login_form_token(request: web.Request, submitted: str | None) -> bool:
    return same_secret(submitted, request.cookies.get(LOGIN_CSRF_COOKIE))
