"""Browser sessions and login attempts (migration 008). SQL only.

A session is found by the hash of its cookie value and only while it has
not expired and its user is not disabled: one query answers "who is this".
The old login_attempts rows are only purged here: the login throttle keeps
its own rows (gateway/store/login_throttle.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from gateway.store.users import User

INSERT_SESSION = """
INSERT INTO web_sessions (id_hash, user_id, csrf_token, created_at, expires_at)
VALUES ($1, $2, $3, $4, $5)
"""

GET_SESSION = """
SELECT s.csrf_token, s.expires_at,
       u.id, u.email, u.role, u.themes, u.password_hash, u.disabled_at, u.created_at,
       u.updated_at, u.time_zone, u.language
FROM web_sessions s JOIN users u ON u.id = s.user_id
WHERE s.id_hash = $1 AND s.expires_at > $2 AND u.disabled_at IS NULL
"""

DELETE_SESSION = "DELETE FROM web_sessions WHERE id_hash = $1"
DELETE_USER_SESSIONS = "DELETE FROM web_sessions WHERE user_id = $1"
DELETE_EXPIRED = "DELETE FROM web_sessions WHERE expires_at <= $1"
DELETE_OLD_ATTEMPTS = "DELETE FROM login_attempts WHERE attempted_at < $1"


@dataclass(frozen=True, slots=True)
class SessionUser:
    user: User
    csrf_token: str
    expires_at: datetime


async def insert_session(
    conn: asyncpg.Connection, *, id_hash: bytes, user_id: int, csrf_token: str,
    now: datetime, expires_at: datetime,
) -> None:
    await conn.execute(INSERT_SESSION, id_hash, user_id, csrf_token, now, expires_at)


async def get_session(conn: asyncpg.Connection, id_hash: bytes, now: datetime
                      ) -> SessionUser | None:
    row = await conn.fetchrow(GET_SESSION, id_hash, now)
    if row is None:
        return None
    user = User(
        id=row["id"], email=row["email"], role=row["role"], themes=tuple(row["themes"] or ()),
        password_hash=row["password_hash"], disabled_at=row["disabled_at"],
        created_at=row["created_at"], updated_at=row["updated_at"],
        time_zone=row["time_zone"], language=row["language"],
    )
    return SessionUser(user=user, csrf_token=row["csrf_token"], expires_at=row["expires_at"])


async def delete_session(conn: asyncpg.Connection, id_hash: bytes) -> None:
    await conn.execute(DELETE_SESSION, id_hash)


async def delete_user_sessions(conn: asyncpg.Connection, user_id: int) -> None:
    """Log a user out everywhere (disabled, role changed, password changed)."""
    await conn.execute(DELETE_USER_SESSIONS, user_id)


async def delete_expired(conn: asyncpg.Connection, now: datetime) -> int:
    result: str = await conn.execute(DELETE_EXPIRED, now)
    return int(result.split()[-1])


async def delete_old_attempts(conn: asyncpg.Connection, before: datetime) -> int:
    """Rows of the table the throttle no longer writes: drop them once old."""
    result: str = await conn.execute(DELETE_OLD_ATTEMPTS, before)
    return int(result.split()[-1])
