"""Log in, log out, who am I, and my own API tokens.

`POST /login` and `POST /logout` take JSON (scripts, the page's fetch) or a
form (the login page). A form gets a 303 redirect: to `next` on success, to
`/login?error=failed`, `limited` or `busy` otherwise, so the page handler
only renders. JSON gets the user and the session's CSRF token, or the error
(401 wrong e-mail or password, 429 with Retry-After: `too_many_attempts`
from the throttle, `busy` when every password-hashing slot is taken).

Order matters: a hashing slot first (refused at once when none is free, and
then nothing is counted against anyone), then the throttle's atomic
reservation, and only then argon2, in a worker thread.

Why the same answer for an unknown e-mail, a wrong password and a disabled
account: anything else tells an attacker which e-mails have accounts. The
password is verified (against a dummy hash if need be) in every case, so
timing does not tell either.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import Field

from gateway.logs import get_logger
from gateway.services import audit
from gateway.store import users as user_store
from gateway.store import web_sessions as session_store
from gateway.web.api.users import (
    TOKEN_RULES,
    NewToken,
    create_token,
    list_tokens,
    revoke_token,
    user_json,
)
from gateway.web.auth import SESSION_COOKIE
from gateway.web.body import Strict
from gateway.web.credentials import digest, needs_rehash
from gateway.web.errors import ApiError, forbidden
from gateway.web.login_throttle import LoginThrottle
from gateway.web.next_path import safe_next
from gateway.web.password_work import Busy, password_work
from gateway.web.registry import Call, RouteTable, dumps
from gateway.web.sessions import check_login_form_token, end_session, start_session

routes = RouteTable("session")
log = get_logger(__name__)

LOGIN_PAGE = "/login"


class Login(Strict):
    email: str = Field(min_length=1, max_length=254)
    password: str = Field(min_length=1, max_length=1024)
    next: str | None = Field(None, max_length=2000, description="forms: where to go after")


@routes.post(LOGIN_PAGE, name="session.login", body=Login, csrf=False,
             summary="Password login: starts a session (cookie) and returns its CSRF token")
async def login(call: Call) -> web.StreamResponse:
    body = call.body_as(Login)
    request = call.request
    if call.from_form and not check_login_form_token(request, call.submitted_csrf):
        raise forbidden("the login form expired; load the page again", code="csrf")
    email = body.email.strip().lower()
    work = password_work(request)
    try:
        with work.admit():
            return await _check_and_start(call, email, body)
    except Busy:
        log.warning("login_busy", capacity=work.capacity)
        if call.from_form:
            return _redirect(f"{LOGIN_PAGE}?error=busy")
        raise ApiError(429, "busy", "too many logins are being checked; try again in a moment",
                       headers={"Retry-After": "1"}) from None


async def _check_and_start(call: Call, email: str, body: Login) -> web.StreamResponse:
    """With a hashing slot held: the throttle, the password, the session."""
    request, context = call.request, call.context
    work = password_work(request)
    throttle = LoginThrottle(context.settings)
    wait = await throttle.reserve(request, email, call.client, context.clock())
    if wait is not None:
        if call.from_form:
            return _redirect(f"{LOGIN_PAGE}?error=limited")
        raise ApiError(429, "too_many_attempts",
                       f"too many failed logins; try again in {wait} s",
                       headers={"Retry-After": str(wait)})
    async with call.pool.acquire() as conn:
        user = await user_store.get_user_by_email(conn, email)
    ok = await work.verify(user.password_hash if user else None, body.password)
    ok = ok and user is not None and user.active
    if ok:
        await throttle.succeeded(request, email, call.client, context.clock())
    async with call.pool.acquire() as conn:
        await audit.record(conn, None, audit.LOGIN_SUCCEEDED if ok else audit.LOGIN_FAILED,
                           f"user:{user.id}" if user else None, client=call.client,
                           actor=email[:254], actor_id=user.id if ok and user else None)
    if not ok or user is None:
        if call.from_form:
            return _redirect(f"{LOGIN_PAGE}?error=failed")
        raise ApiError(401, "login_failed", "wrong e-mail or password", field="password")
    if user.password_hash and needs_rehash(user.password_hash):
        rehashed = await work.hash(body.password)
        async with call.pool.acquire() as conn:
            await user_store.set_password_hash(conn, user.id, rehashed)
    old = request.cookies.get(SESSION_COOKIE)
    if old:  # a fresh id on every login: a planted cookie never becomes a session
        async with call.pool.acquire() as conn:
            await session_store.delete_session(conn, digest(old))
    if call.from_form:
        response: web.StreamResponse = _redirect(safe_next(body.next))
        await start_session(request, response, user)
        return response
    answer = web.Response(status=200, content_type="application/json")
    csrf = await start_session(request, answer, user)
    answer.text = dumps({"user": user_json(user), "csrf_token": csrf})
    return answer


@routes.post("/logout", name="session.logout",
             summary="End this browser's session (forms are redirected to the login page)")
async def logout(call: Call) -> web.StreamResponse:
    if call.principal is not None and call.principal.via == "session":
        async with call.pool.acquire() as conn:
            await call.audit(conn, audit.LOGGED_OUT, f"user:{call.principal.user_id}")
    response: web.StreamResponse = (
        _redirect(LOGIN_PAGE) if call.from_form else web.json_response({"logged_out": True}))
    await end_session(call.request, response)
    return response


@routes.get("/api/v1/me", name="me.get", summary="The caller: e-mail, role, themes")
async def me(call: Call) -> dict[str, Any]:
    principal = call.user
    return {"id": principal.user_id, "email": principal.email, "role": principal.role,
            "themes": list(principal.themes), "via": principal.via,
            "csrf_token": principal.csrf_token}


@routes.get("/api/v1/me/tokens", name="me.tokens.list", summary="My API tokens")
async def my_tokens(call: Call) -> dict[str, Any]:
    return await list_tokens(call, call.user.user_id)


@routes.post("/api/v1/me/tokens", name="me.tokens.create", body=NewToken, status=201,
             summary="Make an API token for myself; the answer shows it once",
             description=TOKEN_RULES)
async def my_token_create(call: Call) -> dict[str, Any]:
    return await create_token(call, call.user.user_id)


@routes.delete("/api/v1/me/tokens/{token_id}", name="me.tokens.revoke",
               summary="Revoke one of my API tokens")
async def my_token_revoke(call: Call) -> dict[str, Any]:
    return await revoke_token(call, call.path_int("token_id"), owner=call.user.user_id)


def _redirect(location: str) -> web.StreamResponse:
    return web.Response(status=303, headers={"Location": location})
