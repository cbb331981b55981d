"""Staff accounts and API tokens: list, create, change role or themes, disable; tokens.

Why changes log the user out everywhere: a session carries no copy of the
role (it is read from the user on every request), but a disabled user or a
new password must end sessions already open, and doing it on every change
keeps the rule simple. A new password also revokes every API token of the
user: whoever had the old password may have made one.

The last active admin cannot be demoted or disabled, so the system can never
lock its own operators out. A change locks every active admin row first,
so two admins demoting each other at once are served one after the other,
and the second is refused.

API tokens expire (GATEWAY_WEB_TOKEN_DAYS at most) and are minted only from a
browser session, never with a token.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import asyncpg
from pydantic import Field, field_validator

from gateway.services import audit
from gateway.services.accounts import EMAIL_PATTERN, check_themes
from gateway.store import users as user_store
from gateway.store import web_sessions as session_store
from gateway.store.users import ApiToken, User
from gateway.web.access import Role
from gateway.web.body import Strict
from gateway.web.credentials import WeakPassword, check_password_rules, new_api_token
from gateway.web.errors import ApiError, bad_request, conflict, forbidden, not_found
from gateway.web.password_work import Busy, password_work
from gateway.web.registry import Call, RouteTable

routes = RouteTable("users")

TOKEN_RULES = ("Only from a logged-in browser session (403 `token_from_token` with an API "
               "token). The token expires after `expires_in_days` (default and most: the "
               "server's GATEWAY_WEB_TOKEN_DAYS) and is revoked when its user's password "
               "changes.")



class NewUser(Strict):
    email: str = Field(pattern=EMAIL_PATTERN, max_length=254)
    role: Role
    themes: list[str] = Field(default_factory=list, max_length=100)
    password: str | None = Field(None, description="omit for a token-only account")

    @field_validator("email")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.strip().lower()

    @field_validator("themes")
    @classmethod
    def _themes(cls, value: list[str]) -> list[str]:
        return check_themes(value)


class UserChange(Strict):
    role: Role | None = None
    themes: list[str] | None = Field(None, max_length=100)
    disabled: bool | None = None
    password: str | None = None

    @field_validator("themes")
    @classmethod
    def _themes(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else check_themes(value)


class NewToken(Strict):
    name: str = Field(min_length=1, max_length=100, description="what the token is for")
    expires_in_days: int | None = Field(
        None, ge=1, description="days it works; default and most: GATEWAY_WEB_TOKEN_DAYS")


def user_json(user: User) -> dict[str, Any]:
    return {"id": user.id, "email": user.email, "role": user.role, "themes": list(user.themes),
            "disabled": not user.active, "disabled_at": user.disabled_at,
            "has_password": user.password_hash is not None, "created_at": user.created_at}


def token_json(token: ApiToken) -> dict[str, Any]:
    return {"id": token.id, "user_id": token.user_id, "name": token.name,
            "prefix": f"gwt_{token.prefix}", "created_at": token.created_at,
            "expires_at": token.expires_at, "last_used_at": token.last_used_at,
            "revoked": token.revoked_at is not None, "revoked_at": token.revoked_at}


async def _password_hash(call: Call, password: str | None) -> str | None:
    """argon2 in the hashing threads (gateway/web/password_work.py); 429 when all are busy."""
    if password is None:
        return None
    try:
        check_password_rules(password)
    except WeakPassword as err:
        raise bad_request(str(err), field="password") from None
    work = password_work(call.request)
    try:
        with work.admit():
            return await work.hash(password)
    except Busy:
        raise ApiError(429, "busy", "too many passwords are being hashed; try again in a "
                       "moment", headers={"Retry-After": "1"}) from None


def _themes_fit(role: str, themes: list[str] | tuple[str, ...]) -> None:
    if themes and role != "expert":
        raise bad_request("only experts have themes", field="themes")


@routes.get("/api/v1/users", name="users.list", summary="Every staff account")
async def list_users(call: Call) -> dict[str, Any]:
    async with call.pool.acquire() as conn:
        return {"users": [user_json(u) for u in await user_store.list_users(conn)]}


@routes.post("/api/v1/users", name="users.create", body=NewUser, status=201,
             summary="Create a staff account")
async def create_user(call: Call) -> dict[str, Any]:
    body = call.body_as(NewUser)
    _themes_fit(body.role, body.themes)
    password_hash = await _password_hash(call, body.password)
    async with call.pool.acquire() as conn, conn.transaction():
        try:
            user = await user_store.insert_user(conn, email=body.email, role=body.role,
                                                themes=body.themes, password_hash=password_hash)
        except asyncpg.UniqueViolationError:
            raise conflict(f"{body.email} already has an account", field="email") from None
        await call.audit(conn, audit.USER_CREATED, f"user:{user.id}", email=user.email,
                         role=user.role, themes=list(user.themes))
    return {"user": user_json(user)}


@routes.patch("/api/v1/users/{user_id}", name="users.update", body=UserChange,
              summary="Change a user's role, themes, password, or disable them")
async def update_user(call: Call) -> dict[str, Any]:
    body = call.body_as(UserChange)
    user_id = call.path_int("user_id")
    password_hash = await _password_hash(call, body.password)
    async with call.pool.acquire() as conn, conn.transaction():
        await user_store.lock_active_admins(conn)  # first: see the module's docstring
        before = await user_store.get_user(conn, user_id)
        if before is None:
            raise not_found(f"user {user_id}")
        role = body.role or before.role
        themes = body.themes if body.themes is not None else (
            [] if role != "expert" else list(before.themes))
        _themes_fit(role, themes)
        user = await user_store.update_user(conn, user_id, role=body.role, themes=themes,
                                            disabled=body.disabled)
        assert user is not None
        if before.role == "admin" and before.active and (user.role != "admin" or not user.active) \
                and await user_store.count_active_admins(conn) == 0:
            raise conflict("this is the last active admin; make another admin first",
                           field="role" if body.role else "disabled")
        if password_hash is not None:
            await user_store.set_password_hash(conn, user_id, password_hash)
            revoked = await user_store.revoke_user_tokens(conn, user_id)
        await session_store.delete_user_sessions(conn, user_id)
        changes = body.model_dump(exclude_none=True, exclude={"password"})
        if password_hash is not None:
            changes["password"] = "changed"
            changes["tokens_revoked"] = revoked
        await call.audit(conn, audit.USER_UPDATED, f"user:{user_id}", email=user.email,
                         **changes)
        user = await user_store.get_user(conn, user_id)
        assert user is not None
    return {"user": user_json(user)}


async def create_token(call: Call, user_id: int) -> dict[str, Any]:
    """Shown once: the answer holds the only copy of the token.

    Only from a browser session: a token that could mint tokens would let one
    leaked token outlive its own revocation and expiry for good.
    """
    if call.user.via != "session":
        raise forbidden("API tokens are made from a logged-in browser session (or with "
                        "`gateway user add --token`), not with another API token",
                        code="token_from_token")
    body = call.body_as(NewToken)
    most = call.context.settings.web_token_days
    days = most if body.expires_in_days is None else body.expires_in_days
    if days > most:
        raise bad_request(f"a token may live at most {most} days", field="expires_in_days")
    made = new_api_token()
    async with call.pool.acquire() as conn, conn.transaction():
        user = await user_store.get_user(conn, user_id)
        if user is None:
            raise not_found(f"user {user_id}")
        token = await user_store.insert_token(
            conn, user_id=user_id, name=body.name, prefix=made.prefix,
            secret_hash=made.secret_hash, expires_at=call.context.clock() + timedelta(days=days))
        await call.audit(conn, audit.TOKEN_CREATED, f"token:{token.id}", user_id=user_id,
                         name=token.name, expires_at=token.expires_at.isoformat())
    return {"token": made.token, "shown_once": True, **token_json(token)}


async def revoke_token(call: Call, token_id: int, *, owner: int | None) -> dict[str, Any]:
    """`owner`: revoke only a token of this user (404 for anyone else's)."""
    async with call.pool.acquire() as conn, conn.transaction():
        found = await user_store.get_token(conn, token_id)
        if found is None or (owner is not None and found.user_id != owner):
            raise not_found(f"token {token_id}")
        token = await user_store.revoke_token(conn, token_id)
        assert token is not None
        if found.revoked_at is None:
            await call.audit(conn, audit.TOKEN_REVOKED, f"token:{token_id}",
                             user_id=token.user_id, name=token.name)
    return token_json(token)


async def list_tokens(call: Call, user_id: int) -> dict[str, Any]:
    async with call.pool.acquire() as conn:
        return {"tokens": [token_json(t) for t in await user_store.list_tokens(conn, user_id)]}


@routes.get("/api/v1/users/{user_id}/tokens", name="users.tokens.list",
            summary="A user's API tokens (never the secrets)")
async def user_tokens(call: Call) -> dict[str, Any]:
    return await list_tokens(call, call.path_int("user_id"))


@routes.post("/api/v1/users/{user_id}/tokens", name="users.tokens.create", body=NewToken,
             status=201, summary="Make an API token for a user; the answer shows it once",
             description=TOKEN_RULES)
async def user_token_create(call: Call) -> dict[str, Any]:
    return await create_token(call, call.path_int("user_id"))


@routes.delete("/api/v1/tokens/{token_id}", name="tokens.revoke", summary="Revoke any API token")
async def token_revoke(call: Call) -> dict[str, Any]:
    return await revoke_token(call, call.path_int("token_id"), owner=None)
