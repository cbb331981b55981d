"""Staff users and their API tokens (migration 008). SQL only.

Hashing happens above this module (`gateway.web.credentials`):
the store only ever sees and returns hashes. E-mails are stored lower-cased;
callers normalize before calling.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

_USER = ("id, email, role, themes, password_hash, disabled_at, created_at, updated_at, "
         "time_zone, language")

INSERT_USER = f"""
INSERT INTO users (email, role, themes, password_hash)
VALUES ($1, $2, $3::text[], $4)
RETURNING {_USER}
"""

GET_USER = f"SELECT {_USER} FROM users WHERE id = $1"
GET_USER_BY_EMAIL = f"SELECT {_USER} FROM users WHERE email = $1"
LIST_USERS = f"SELECT {_USER} FROM users ORDER BY id"
COUNT_ADMINS = "SELECT count(*) FROM users WHERE role = 'admin' AND disabled_at IS NULL"
# Taken first in a transaction that may demote or disable an admin: two such
# transactions then run one after the other, and the second sees the first's
# change when it counts what is left (READ COMMITTED re-reads a locked row).
LOCK_ADMINS = """
SELECT id FROM users WHERE role = 'admin' AND disabled_at IS NULL ORDER BY id FOR UPDATE
"""

UPDATE_USER = f"""
UPDATE users SET
    role = coalesce($2, role),
    themes = coalesce($3::text[], themes),
    disabled_at = CASE WHEN $4::bool IS NULL THEN disabled_at
                       WHEN $4 THEN coalesce(disabled_at, clock_timestamp())
                       ELSE NULL END,
    updated_at = clock_timestamp()
WHERE id = $1
RETURNING {_USER}
"""

# A user's own zone and language (migration 330); NULL: the organization's.
SET_PREFERENCES = f"""
UPDATE users SET time_zone = $2, language = $3, updated_at = clock_timestamp()
WHERE id = $1
RETURNING {_USER}
"""

SET_PASSWORD = """
UPDATE users SET password_hash = $2, updated_at = clock_timestamp() WHERE id = $1
"""

_TOKEN = ("id, user_id, name, prefix, created_at, expires_at, last_used_at, revoked_at, "
          "scopes")

# scopes NULL: a token made before scopes existed (migration 420), which holds every
# scope its owner's role allows (gateway/web/access.py scopes_for_role)
INSERT_TOKEN = f"""
INSERT INTO api_tokens (user_id, name, prefix, secret_hash, expires_at, scopes)
VALUES ($1, $2, $3, $4, $5, $6::text[])
RETURNING {_TOKEN}
"""

LIST_TOKENS = f"SELECT {_TOKEN} FROM api_tokens WHERE user_id = $1 ORDER BY id"
GET_TOKEN = f"SELECT {_TOKEN} FROM api_tokens WHERE id = $1"

REVOKE_TOKEN = f"""
UPDATE api_tokens SET revoked_at = coalesce(revoked_at, clock_timestamp())
WHERE id = $1
RETURNING {_TOKEN}
"""

REVOKE_USER_TOKENS = """
UPDATE api_tokens SET revoked_at = clock_timestamp() WHERE user_id = $1 AND revoked_at IS NULL
"""

# The token's owner, if the token is live (not revoked, not expired) and its
# owner may still act.
TOKEN_OWNER = f"""
SELECT t.id AS token_id, t.secret_hash, t.scopes AS token_scopes,
       {", ".join(f"u.{c.strip()}" for c in _USER.split(","))}
FROM api_tokens t JOIN users u ON u.id = t.user_id
WHERE t.prefix = $1 AND t.revoked_at IS NULL AND t.expires_at > $2 AND u.disabled_at IS NULL
"""

TOUCH_TOKEN = """
UPDATE api_tokens SET last_used_at = $2::timestamptz
WHERE id = $1
  AND (last_used_at IS NULL OR last_used_at < $2::timestamptz - interval '1 minute')
"""


@dataclass(frozen=True, slots=True)
class User:
    id: int
    email: str
    role: str
    themes: tuple[str, ...]
    password_hash: str | None
    disabled_at: datetime | None
    created_at: datetime
    updated_at: datetime
    time_zone: str | None = None  # None: the organization's zone
    language: str | None = None  # None: the campaign's language

    @property
    def active(self) -> bool:
        return self.disabled_at is None


@dataclass(frozen=True, slots=True)
class ApiToken:
    id: int
    user_id: int
    name: str
    prefix: str
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    scopes: tuple[str, ...] | None = None  # None: every scope the owner's role allows


@dataclass(frozen=True, slots=True)
class TokenOwner:
    token_id: int
    secret_hash: bytes
    user: User
    scopes: tuple[str, ...] | None = None


def _user(row: asyncpg.Record) -> User:
    fields = {name: row[name] for name in User.__dataclass_fields__}
    fields["themes"] = tuple(fields["themes"] or ())
    return User(**fields)


def _token(row: asyncpg.Record) -> ApiToken:
    fields = {name: row[name] for name in ApiToken.__dataclass_fields__}
    fields["scopes"] = None if fields["scopes"] is None else tuple(fields["scopes"])
    return ApiToken(**fields)


async def insert_user(
    conn: asyncpg.Connection, *, email: str, role: str, themes: Sequence[str],
    password_hash: str | None,
) -> User:
    """Raises asyncpg.UniqueViolationError when the e-mail is taken."""
    return _user(await conn.fetchrow(INSERT_USER, email, role, list(themes), password_hash))


async def get_user(conn: asyncpg.Connection, user_id: int) -> User | None:
    row = await conn.fetchrow(GET_USER, user_id)
    return None if row is None else _user(row)


async def get_user_by_email(conn: asyncpg.Connection, email: str) -> User | None:
    row = await conn.fetchrow(GET_USER_BY_EMAIL, email)
    return None if row is None else _user(row)


async def list_users(conn: asyncpg.Connection) -> list[User]:
    return [_user(row) for row in await conn.fetch(LIST_USERS)]


async def count_active_admins(conn: asyncpg.Connection) -> int:
    count: int = await conn.fetchval(COUNT_ADMINS)
    return count


async def lock_active_admins(conn: asyncpg.Connection) -> list[int]:
    """Lock every active admin's row until the transaction ends; their ids.

    Call it first in a transaction that may demote or disable an admin, then
    count with `count_active_admins` after the change: concurrent demotions
    queue on these locks, so they cannot each see the other as the one left.
    """
    return [row["id"] for row in await conn.fetch(LOCK_ADMINS)]


async def update_user(
    conn: asyncpg.Connection, user_id: int, *, role: str | None = None,
    themes: Sequence[str] | None = None, disabled: bool | None = None,
) -> User | None:
    """Change what is given (None leaves it); None when there is no such user."""
    row = await conn.fetchrow(
        UPDATE_USER, user_id, role, None if themes is None else list(themes), disabled
    )
    return None if row is None else _user(row)


async def set_preferences(conn: asyncpg.Connection, user_id: int, *, time_zone: str | None,
                          language: str | None) -> User | None:
    """The user's own zone and language (None: the organization's); None: no such user."""
    row = await conn.fetchrow(SET_PREFERENCES, user_id, time_zone, language)
    return None if row is None else _user(row)


async def set_password_hash(conn: asyncpg.Connection, user_id: int, password_hash: str) -> None:
    await conn.execute(SET_PASSWORD, user_id, password_hash)


async def insert_token(
    conn: asyncpg.Connection, *, user_id: int, name: str, prefix: str, secret_hash: bytes,
    expires_at: datetime, scopes: Sequence[str] | None = None,
) -> ApiToken:
    """`scopes` None: every scope the owner's role allows, now and later."""
    return _token(await conn.fetchrow(INSERT_TOKEN, user_id, name, prefix, secret_hash,
                                      expires_at, None if scopes is None else list(scopes)))


async def list_tokens(conn: asyncpg.Connection, user_id: int) -> list[ApiToken]:
    return [_token(row) for row in await conn.fetch(LIST_TOKENS, user_id)]


async def get_token(conn: asyncpg.Connection, token_id: int) -> ApiToken | None:
    row = await conn.fetchrow(GET_TOKEN, token_id)
    return None if row is None else _token(row)


async def revoke_token(conn: asyncpg.Connection, token_id: int) -> ApiToken | None:
    """Revoked at the first call's time; a repeat changes nothing."""
    row = await conn.fetchrow(REVOKE_TOKEN, token_id)
    return None if row is None else _token(row)


async def revoke_user_tokens(conn: asyncpg.Connection, user_id: int) -> int:
    """Every live token of the user (a new password ends them all); how many."""
    result: str = await conn.execute(REVOKE_USER_TOKENS, user_id)
    return int(result.split()[-1])


async def get_token_owner(conn: asyncpg.Connection, prefix: str, now: datetime
                          ) -> TokenOwner | None:
    """The live token with this prefix (unexpired at `now`) and its active owner, or None."""
    row = await conn.fetchrow(TOKEN_OWNER, prefix, now)
    if row is None:
        return None
    scopes = row["token_scopes"]
    return TokenOwner(token_id=row["token_id"], secret_hash=bytes(row["secret_hash"]),
                      user=_user(row), scopes=None if scopes is None else tuple(scopes))


async def touch_token(conn: asyncpg.Connection, token_id: int, now: datetime) -> None:
    """Record use at most once a minute, so a busy script does not write on every call."""
    await conn.execute(TOUCH_TOKEN, token_id, now)
