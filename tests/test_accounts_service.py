"""The account rules hold without HTTP: what the API and the CLI both call.

Why a test here as well as through the API: the rules used to live in the
API handler, so the terminal and any future page could skip them. These
call gateway/services/accounts.py on a real database with a CLI actor.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import asyncpg
import pytest

from gateway.services import accounts
from gateway.services.errors import ServiceError

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


async def _audit(pool: asyncpg.Pool) -> list[tuple[str, str, dict[str, object]]]:
    rows = await pool.fetch("SELECT actor, action, detail::text AS d FROM audit_log ORDER BY id")
    return [(r["actor"], r["action"], json.loads(r["d"])) for r in rows]


async def test_the_last_admin_stays_and_only_experts_have_themes(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn, conn.transaction():
        admin = await accounts.create_user(conn, accounts.CLI, email="boss@example.org",
                                           role="admin", themes=[], password_hash=None)
        with pytest.raises(ServiceError, match="only experts have themes"):
            await accounts.create_user(conn, accounts.CLI, email="o@example.org",
                                       role="organizer", themes=["health"],
                                       password_hash=None)
    async with pool.acquire() as conn:
        with pytest.raises(ServiceError, match="last active admin") as refused:
            async with conn.transaction():
                await accounts.change_user(conn, accounts.CLI, admin.id,
                                           accounts.UserChange(disabled=True))
        assert refused.value.status == 409 and refused.value.field == "disabled"
        with pytest.raises(ServiceError, match="already has an account"):
            await accounts.create_user(conn, accounts.CLI, email="boss@example.org",
                                       role="finance", themes=[], password_hash=None)
    assert (await pool.fetchval("SELECT disabled_at FROM users WHERE id = $1", admin.id)) is None
    assert [(a, act) for a, act, _ in await _audit(pool)] == [("cli", "user.created")]


async def test_a_new_password_revokes_tokens_and_tokens_cannot_mint_tokens(
    pool: asyncpg.Pool,
) -> None:
    async with pool.acquire() as conn, conn.transaction():
        user = await accounts.create_user(conn, accounts.CLI, email="e@example.org",
                                          role="expert", themes=["health", "health"],
                                          password_hash=None)
        request = accounts.TokenRequest(name="sync", prefix="abcdef012345",
                                        secret_hash=b"x" * 32, days=3)
        token = await accounts.issue_token(conn, accounts.CLI, user.id, request, via="cli",
                                           most_days=30, now=NOW)
        with pytest.raises(ServiceError, match="not with another API token"):
            await accounts.issue_token(conn, accounts.CLI, user.id, request, via="token",
                                       most_days=30, now=NOW)
        with pytest.raises(ServiceError, match="at most 2 days"):
            await accounts.issue_token(conn, accounts.CLI, user.id, request, via="cli",
                                       most_days=2, now=NOW)
        _, revoked = await accounts.reset_password(conn, accounts.CLI, "e@example.org", "h")
    assert user.themes == ("health",) and revoked == 1
    assert token.expires_at == datetime(2026, 12, 9, 12, 0, tzinfo=UTC)
    assert [(act, d.get("tokens_revoked")) for _, act, d in await _audit(pool)] == [
        ("user.created", None), ("token.created", None), ("user.updated", 1)]
