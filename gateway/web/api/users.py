"""Staff accounts and API tokens over HTTP: list, create, change role or themes, disable; tokens.

The rules (who may have themes, the last admin, what a change revokes, how
long a token lives) are gateway/services/accounts.py's, shared with the CLI.
This module reads the bodies, hashes passwords in the hashing threads (429
when they are all busy), mints the token's secret and shapes the JSON.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from gateway.services import accounts
from gateway.services.accounts import EMAIL_PATTERN, check_themes
from gateway.store import users as user_store
from gateway.store.users import ApiToken, User
from gateway.web.access import SCOPES, Role, Scope, scopes_for_role
from gateway.web.body import Strict
from gateway.web.credentials import new_api_token
from gateway.web.registry import Call, RouteTable
from gateway.web.staff_passwords import checked_hash

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
    scopes: list[Scope] | None = Field(
        None, max_length=len(SCOPES), description="what it may do (docs/send-api.md); "
        "omitted: every scope the owner's role allows")
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
            "revoked": token.revoked_at is not None, "revoked_at": token.revoked_at,
            "scopes": None if token.scopes is None else list(token.scopes),
            "all_role_scopes": token.scopes is None}


async def _password_hash(call: Call, password: str | None) -> str | None:
    """argon2 in the hashing threads (gateway/web/staff_passwords.py); 429 when all are busy."""
    return None if password is None else await checked_hash(call.request, password)


@routes.get("/api/v1/users", name="users.list", summary="Every staff account")
async def list_users(call: Call) -> dict[str, Any]:
    async with call.pool.acquire() as conn:
        return {"users": [user_json(u) for u in await user_store.list_users(conn)]}


@routes.post("/api/v1/users", name="users.create", body=NewUser, status=201,
             summary="Create a staff account")
async def create_user(call: Call) -> dict[str, Any]:
    body = call.body_as(NewUser)
    accounts.themes_fit(body.role, body.themes)
    password_hash = await _password_hash(call, body.password)
    async with call.pool.acquire() as conn, conn.transaction():
        user = await accounts.create_user(conn, _by(call), email=body.email, role=body.role,
                                          themes=body.themes, password_hash=password_hash)
    return {"user": user_json(user)}


@routes.patch("/api/v1/users/{user_id}", name="users.update", body=UserChange,
              summary="Change a user's role, themes, password, or disable them")
async def update_user(call: Call) -> dict[str, Any]:
    body = call.body_as(UserChange)
    user_id = call.path_int("user_id")
    password_hash = await _password_hash(call, body.password)
    change = accounts.UserChange(role=body.role, themes=body.themes, disabled=body.disabled,
                                 password_hash=password_hash)
    async with call.pool.acquire() as conn, conn.transaction():
        user = await accounts.change_user(conn, _by(call), user_id, change)
    return {"user": user_json(user)}


def _by(call: Call) -> accounts.Actor:
    return accounts.Actor(principal=call.principal, client=call.client)


async def create_token(call: Call, user_id: int) -> dict[str, Any]:
    """Shown once: the answer holds the only copy of the token."""
    body = call.body_as(NewToken)
    made = new_api_token()
    scopes = None if body.scopes is None else tuple(s for s in SCOPES if s in body.scopes)
    request = accounts.TokenRequest(name=body.name, prefix=made.prefix,
                                    secret_hash=made.secret_hash, days=body.expires_in_days,
                                    scopes=scopes)
    async with call.pool.acquire() as conn, conn.transaction():
        token = await accounts.issue_token(
            conn, _by(call), user_id, request, via=call.user.via,
            most_days=call.context.settings.web_token_days, now=call.context.clock(),
            role_scopes=scopes_for_role)
    return {"token": made.token, "shown_once": True, **token_json(token)}


async def revoke_token(call: Call, token_id: int, *, owner: int | None) -> dict[str, Any]:
    """`owner`: revoke only a token of this user (404 for anyone else's)."""
    async with call.pool.acquire() as conn, conn.transaction():
        token = await accounts.revoke_token(conn, _by(call), token_id, owner=owner)
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
