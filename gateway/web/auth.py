"""Who is asking: a session cookie (pages) or `Authorization: Bearer` (scripts).

`authenticate` is computed at most once per request and cached on it, so
the API wrapper and the page handlers share one answer and one query. A
bearer header that is present but wrong is an error (401 saying so), not a
silent fall-back to the cookie: a script with a revoked token must find out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from aiohttp import web

from gateway.store import users as user_store
from gateway.store import web_sessions as session_store
from gateway.web.access import scopes_for_role
from gateway.web.context import context_of
from gateway.web.credentials import digest, same_digest, token_prefix
from gateway.web.errors import unauthenticated

SESSION_COOKIE = "gw_session"


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: int
    email: str
    role: str
    themes: tuple[str, ...]
    via: Literal["session", "token"]
    csrf_token: str | None = None  # the session's; None for a token
    session_hash: bytes | None = None
    token_id: int | None = None
    time_zone: str | None = None  # the user's own choices (None: the organization's)
    language: str | None = None
    # a token's scopes (what it was made with, within what the role allows); None: a
    # session, limited by its role only (gateway/web/access.py API_SCOPES)
    scopes: frozenset[str] | None = None


@dataclass(frozen=True, slots=True)
class _Resolved:
    principal: Principal | None


_AUTH = web.RequestKey("gateway_auth", _Resolved)


async def authenticate(request: web.Request) -> Principal | None:
    """The principal, None when nobody is logged in; ApiError 401 for a bad bearer token."""
    resolved = request.get(_AUTH)
    if resolved is None:
        resolved = _Resolved(await _resolve(request))
        request[_AUTH] = resolved
    return resolved.principal


async def _resolve(request: web.Request) -> Principal | None:
    context = context_of(request)
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise unauthenticated("the Authorization header must be `Bearer <API token>`")
        return await _from_token(request, token.strip())
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    async with context.pool.acquire() as conn:
        found = await session_store.get_session(conn, digest(cookie), context.clock())
    if found is None:
        return None  # expired or logged out: the page asks for a login again
    user = found.user
    return Principal(user.id, user.email, user.role, user.themes, "session",
                     csrf_token=found.csrf_token, session_hash=digest(cookie),
                     time_zone=user.time_zone, language=user.language)


async def _from_token(request: web.Request, token: str) -> Principal:
    context = context_of(request)
    prefix = token_prefix(token)
    if prefix is None:
        raise unauthenticated("that is not an API token (they start with gwt_)")
    async with context.pool.acquire() as conn:
        now = context.clock()
        owner = await user_store.get_token_owner(conn, prefix, now)
        if owner is None or not same_digest(token, owner.secret_hash):
            raise unauthenticated(
                "the API token is unknown, expired, revoked, or its user is disabled")
        await user_store.touch_token(conn, owner.token_id, now)
    user = owner.user
    allowed = scopes_for_role(user.role)
    held = allowed if owner.scopes is None else allowed & frozenset(owner.scopes)
    return Principal(user.id, user.email, user.role, user.themes, "token",
                     token_id=owner.token_id, time_zone=user.time_zone, language=user.language,
                     scopes=frozenset(held))


def forget_principal(request: web.Request) -> None:
    """After login or logout in this request, the next `authenticate` looks again."""
    request.pop(_AUTH, None)
