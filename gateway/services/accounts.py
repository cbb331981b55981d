"""Staff accounts and API tokens: the rules, for the API, the pages and the CLI alike.

Why here: the first admin is made from a terminal (`gateway user add`,
web/user_commands.py) before anyone can log in, and later accounts through
the API (web/api/users.py); both must accept and refuse the same values and
leave the same audit rows. The HTTP side keeps only what is HTTP's: reading
the body, hashing a password in the hashing threads (a busy 429), minting
the token's secret, and the JSON it answers.

The rules:
- only experts have themes; a theme is letters, digits, _ and -;
- every change logs the user out everywhere (a session carries no copy of
  the role, but a disabled user or a new password must end open sessions,
  and doing it on every change keeps the rule simple); a new password also
  revokes every API token of the user (whoever had the old one may have
  made one);
- the last active admin cannot be demoted or disabled, so the system never
  locks out its own operators. A change locks every active admin row
  first, so two admins demoting each other at once are served one after the
  other and the second is refused;
- an API token expires (GATEWAY_WEB_TOKEN_DAYS at most) and is minted only
  from a browser session (or the CLI), never with another token: a token
  that could mint tokens would let one leaked token outlive its own
  revocation and expiry for good.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

import asyncpg

from gateway.plain_words import N_, reason, said
from gateway.services import audit
from gateway.services.actor import Identity
from gateway.services.errors import conflict, forbidden, invalid, not_found
from gateway.store import users as user_store
from gateway.store import web_sessions as session_store
from gateway.store.users import ApiToken, User

EMAIL_PATTERN: Final = r"^[^@\s]+@[^@\s]+$"
THEME_PATTERN: Final = r"^[A-Za-z0-9_-]{1,64}$"
MAX_EMAIL_LENGTH: Final = 254


def check_themes(themes: list[str]) -> list[str]:
    """An expert's themes, sorted and without repeats; ValueError naming a bad one."""
    for theme in themes:
        if not re.match(THEME_PATTERN, theme):
            raise ValueError(f"theme {theme[:70]!r}: letters, digits, _ and - only")
    return sorted(set(themes))


def check_email(raw: str) -> str:
    """An account's e-mail in its stored form (lower case); ValueError when it is not one."""
    email = raw.strip().lower()
    if not re.match(EMAIL_PATTERN, email) or len(email) > MAX_EMAIL_LENGTH:
        raise ValueError(f"{raw!r} is not an e-mail address")
    return email


def themes_fit(role: str, themes: list[str] | tuple[str, ...]) -> list[str]:
    """The themes, checked and deduplicated, when `role` may have them; else a refusal."""
    try:
        checked = check_themes(list(themes))
    except ValueError as err:
        raise invalid(reason(err), field="themes") from None
    if checked and role != "expert":
        raise invalid(N_("only experts have themes"), field="themes")
    return checked


@dataclass(frozen=True, slots=True)
class Actor:
    """Who makes the change, for the audit row: a logged-in principal, or the CLI."""

    principal: Identity | None
    client: str | None = None
    name: str | None = None  # audit.CLI_ACTOR from a terminal

    async def record(self, conn: asyncpg.Connection, action: str, target: str,
                     **detail: Any) -> None:
        await audit.record(conn, self.principal, action, target, client=self.client,
                           actor=self.name, **detail)


CLI: Final = Actor(principal=None, name=audit.CLI_ACTOR)


async def create_user(conn: asyncpg.Connection, by: Actor, *, email: str, role: str,
                      themes: list[str], password_hash: str | None) -> User:
    """A new account, audited in the caller's transaction; 409 when the e-mail has one."""
    themes = themes_fit(role, themes)
    try:
        user = await user_store.insert_user(conn, email=email, role=role, themes=themes,
                                            password_hash=password_hash)
    except asyncpg.UniqueViolationError:
        raise conflict(said(N_("%(email)s already has an account"),
                            email=email), field="email") from None
    await by.record(conn, audit.USER_CREATED, f"user:{user.id}", email=user.email,
                    role=user.role, themes=list(user.themes))
    return user


@dataclass(frozen=True, slots=True)
class UserChange:
    """What to change; None leaves it as it is. `password_hash` is already hashed."""

    role: str | None = None
    themes: list[str] | None = None
    disabled: bool | None = None
    password_hash: str | None = None


async def change_user(conn: asyncpg.Connection, by: Actor, user_id: int,
                      change: UserChange) -> User:
    """Apply `change` in the caller's transaction, under the rules in this module's docstring."""
    await user_store.lock_active_admins(conn)  # first: see the module's docstring
    before = await user_store.get_user(conn, user_id)
    if before is None:
        raise not_found(said(N_("user %(user_id)s"), user_id=user_id))
    role = change.role or before.role
    themes = themes_fit(role, change.themes if change.themes is not None else (
        [] if role != "expert" else list(before.themes)))
    user = await user_store.update_user(conn, user_id, role=change.role, themes=themes,
                                        disabled=change.disabled)
    assert user is not None
    if before.role == "admin" and before.active and (user.role != "admin" or not user.active) \
            and await user_store.count_active_admins(conn) == 0:
        raise conflict(N_("this is the last active admin; make another admin first"),
                       field="role" if change.role else "disabled")
    details: dict[str, Any] = {k: v for k, v in (
        ("role", change.role), ("themes", change.themes), ("disabled", change.disabled))
        if v is not None}
    if change.password_hash is not None:
        details["password"] = "changed"
        details["tokens_revoked"] = await _new_password(conn, user_id, change.password_hash)
    await session_store.delete_user_sessions(conn, user_id)
    await by.record(conn, audit.USER_UPDATED, f"user:{user_id}", email=user.email, **details)
    after = await user_store.get_user(conn, user_id)
    assert after is not None
    return after


async def reset_password(conn: asyncpg.Connection, by: Actor, email: str,
                         password_hash: str) -> tuple[User, int]:
    """A forgotten password set from a terminal: sessions end, tokens are revoked."""
    user = await user_store.get_user_by_email(conn, email)
    if user is None:
        raise not_found(said(N_("the account %(email)s"), email=email))
    revoked = await _new_password(conn, user.id, password_hash)
    await session_store.delete_user_sessions(conn, user.id)
    await by.record(conn, audit.USER_UPDATED, f"user:{user.id}", email=email,
                    password="changed", tokens_revoked=revoked)
    return user, revoked


async def _new_password(conn: asyncpg.Connection, user_id: int, password_hash: str) -> int:
    await user_store.set_password_hash(conn, user_id, password_hash)
    return await user_store.revoke_user_tokens(conn, user_id)


@dataclass(frozen=True, slots=True)
class TokenRequest:
    """A token to record: its name, life, and the minted prefix and secret hash."""

    name: str
    prefix: str
    secret_hash: bytes
    days: int | None = None  # None: the longest allowed
    scopes: tuple[str, ...] | None = None  # None: every scope the owner's role allows


async def issue_token(conn: asyncpg.Connection, by: Actor, user_id: int, request: TokenRequest,
                      *, via: str, most_days: int, now: datetime,
                      role_scopes: Callable[[str], Collection[str]] | None = None) -> ApiToken:
    """Record a new token for `user_id`; refused with another token or past `most_days`.

    `role_scopes(role)`: the scopes a token of that role may hold (the web layer's
    table); a requested scope outside them is refused, naming it."""
    if via == "token":
        raise forbidden(N_("API tokens are made from a logged-in browser session (or with "
                           "`gateway user add --token`), not with another API token"),
                        code="token_from_token")
    days = most_days if request.days is None else request.days
    if days > most_days:
        raise invalid(said(N_("a token may live at most %(most_days)s days"),
                           most_days=most_days), field="expires_in_days")
    owner = await user_store.get_user(conn, user_id)
    if owner is None:
        raise not_found(said(N_("user %(user_id)s"), user_id=user_id))
    if request.scopes is not None and not request.scopes:
        raise invalid(N_("tick at least one thing the token may do (a scope)"), field="scopes")
    if request.scopes is not None and role_scopes is not None:
        allowed = role_scopes(owner.role)
        beyond = [scope for scope in request.scopes if scope not in allowed]
        if beyond:
            raise invalid(said(N_("the %(role)s role may not hold the scope %(beyond)s (it may "
                                  "hold: %(allowed)s)"),
                               role=owner.role, beyond=beyond[0],
                               allowed=', '.join(sorted(allowed)) or 'none'), field="scopes")
    token = await user_store.insert_token(
        conn, user_id=user_id, name=request.name, prefix=request.prefix,
        secret_hash=request.secret_hash, expires_at=now + timedelta(days=days),
        scopes=request.scopes)
    await by.record(conn, audit.TOKEN_CREATED, f"token:{token.id}", user_id=user_id,
                    name=token.name, expires_at=token.expires_at.isoformat(),
                    scopes=None if token.scopes is None else list(token.scopes))
    return token


async def revoke_token(conn: asyncpg.Connection, by: Actor, token_id: int, *,
                       owner: int | None) -> ApiToken:
    """`owner`: revoke only a token of this user (404 for anyone else's). Idempotent."""
    found = await user_store.get_token(conn, token_id)
    if found is None or (owner is not None and found.user_id != owner):
        raise not_found(said(N_("token %(token_id)s"), token_id=token_id))
    token = await user_store.revoke_token(conn, token_id)
    assert token is not None
    if found.revoked_at is None:
        await by.record(conn, audit.TOKEN_REVOKED, f"token:{token_id}",
                        user_id=token.user_id, name=token.name)
    return token
