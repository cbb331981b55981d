"""The gateway's hourly purge: expired sessions, stale attempts and idle throttle rows go."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gateway.app import Gateway


async def test_expired_sessions_and_old_login_attempts_are_purged(gateway: Gateway) -> None:
    now = datetime.now(UTC)
    window = timedelta(seconds=gateway.settings.web_login_window)
    async with gateway.pool.acquire() as conn:
        user = await conn.fetchval(
            "INSERT INTO users (email, role) VALUES ('ops@example.org', 'organizer') RETURNING id")
        await conn.executemany(
            "INSERT INTO web_sessions (id_hash, user_id, csrf_token, expires_at)"
            " VALUES ($1, $2, 'x', $3)",
            [(b"expired", user, now - timedelta(minutes=1)),
             (b"live", user, now + timedelta(hours=1))])
        await conn.executemany(
            "INSERT INTO login_attempts (email, client, succeeded, attempted_at)"
            " VALUES ('ops@example.org', '127.0.0.1', false, $1)",
            [(now - window - timedelta(minutes=1),), (now - window / 2,)])
        await conn.executemany(
            "INSERT INTO login_throttle (scope, email, client, failures, next_allowed_at)"
            " VALUES ('account', $1, '127.0.0.1', 7, $2)",
            [("idle@example.org", now - window - timedelta(minutes=1)),
             ("waiting@example.org", now + timedelta(minutes=5))])

    assert await gateway._purge_web_state() == 3

    async with gateway.pool.acquire() as conn:
        assert [r["id_hash"] for r in await conn.fetch("SELECT id_hash FROM web_sessions")] == [
            b"live"]
        assert await conn.fetchval("SELECT count(*) FROM login_attempts") == 1
        assert [r["email"] for r in await conn.fetch("SELECT email FROM login_throttle")] == [
            "waiting@example.org"]
