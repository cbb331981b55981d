"""`gateway user add`: the first admin, from a terminal, then logged in over HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import asyncpg

from tests.support.webapi import WebApi

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "first admin's password"


def gateway_user(db_url: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", "user", *args], input=stdin, text=True,
        capture_output=True, cwd=ROOT, timeout=60,
        env=os.environ | {"DATABASE_URL": db_url, "GATEWAY_LOG_LEVEL": "warning"})



async def test_the_first_admin_logs_in_and_their_token_works(web: WebApi, db_url: str) -> None:
    done = gateway_user(db_url, "add", "Boss@Example.org", "--role", "admin",
                        "--password-stdin", "--token", stdin=PASSWORD + "\n")
    assert done.returncode == 0, done.stderr
    assert "boss@example.org (admin)" in done.stdout
    token = done.stdout.rsplit(": ", 1)[-1].strip()
    assert token.startswith("gwt_")
    await web.login("boss@example.org", PASSWORD)
    response = await web.client.get("/api/v1/users",
                                    headers={"Authorization": f"Bearer {token}"})
    assert [u["email"] for u in (await response.json())["users"]] == ["boss@example.org"]
    async with web.pool.acquire() as conn:
        entries = await conn.fetch("SELECT actor, action FROM audit_log ORDER BY id")
        stored = await conn.fetchval("SELECT password_hash FROM users")
    assert [tuple(e) for e in entries][:2] == [("cli", "user.created"), ("cli", "token.created")]
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


async def test_refusals_are_one_line_bad_arguments_exit_2(db_url: str, pool: asyncpg.Pool) -> None:
    short = gateway_user(db_url, "add", "a@example.org", "--role", "admin", "--password-stdin",
                         stdin="short\n")
    assert short.returncode == 2 and "argument password:" in short.stderr
    themed = gateway_user(db_url, "add", "b@example.org", "--role", "finance", "--themes", "x",
                          "--no-password")
    assert themed.returncode == 2 and "argument --themes: only experts" in themed.stderr
    expert = gateway_user(db_url, "add", "c@example.org", "--role", "expert", "--themes",
                          "health", "--no-password")
    assert expert.returncode == 0, expert.stderr
    twice = gateway_user(db_url, "add", "C@example.org", "--role", "expert", "--no-password")
    assert twice.returncode == 1 and "already has an account" in twice.stderr
    no_tty = gateway_user(db_url, "add", "d@example.org", "--role", "admin")
    assert no_tty.returncode == 2 and "--password-stdin" in no_tty.stderr
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM users") == 1


async def test_a_lost_password_is_reset_from_the_terminal_and_old_sessions_and_tokens_end(
    web: WebApi, db_url: str,
) -> None:
    made = gateway_user(db_url, "add", "boss@example.org", "--role", "admin", "--password-stdin",
                        "--token", stdin=PASSWORD + "\n")
    assert made.returncode == 0, made.stderr
    bearer = {"Authorization": f"Bearer {made.stdout.rsplit(': ', 1)[-1].strip()}"}
    assert (await web.client.get("/api/v1/users", headers=bearer)).status == 200
    await web.login("boss@example.org", PASSWORD)
    assert (await web.client.get("/api/v1/users")).status == 200

    reset = gateway_user(db_url, "password", "Boss@example.org", "--password-stdin",
                         stdin="a brand new passphrase\n")
    assert reset.returncode == 0, reset.stderr
    assert "new password set" in reset.stdout and "1 API token(s) revoked" in reset.stdout
    assert (await web.client.get("/api/v1/users")).status == 401  # the old session is over
    assert (await web.client.get("/api/v1/users", headers=bearer)).status == 401  # token too
    refused = await web.client.post(
        "/login", json={"email": "boss@example.org", "password": PASSWORD})
    assert refused.status == 401
    await web.login("boss@example.org", "a brand new passphrase")
    async with web.pool.acquire() as conn:
        reset_entry = await conn.fetchrow(
            "SELECT actor, detail FROM audit_log WHERE action = 'user.updated'")
    assert reset_entry["actor"] == "cli" and "brand new" not in reset_entry["detail"]

    unknown = gateway_user(db_url, "password", "nobody@example.org", "--password-stdin",
                           stdin="a brand new passphrase\n")
    assert unknown.returncode == 1 and "has no account" in unknown.stderr
    weak = gateway_user(db_url, "password", "boss@example.org", "--password-stdin",
                        stdin="short\n")
    assert weak.returncode == 2 and "at least" in weak.stderr


async def test_a_token_from_the_terminal_holds_only_its_scopes(web: WebApi, db_url: str) -> None:
    done = gateway_user(db_url, "add", "books@example.org", "--role", "finance",
                        "--no-password", "--token", "--scopes", "donations:read")
    assert done.returncode == 0, done.stderr
    token = {"Authorization": f"Bearer {done.stdout.rsplit(': ', 1)[-1].strip()}"}
    report = await web.client.get("/api/v1/reports/donations", headers=token,
                                  params={"date_from": "2024-01-01", "date_to": "2024-01-31"})
    assert report.status == 200, await report.text()
    refund = await web.client.post("/api/v1/donations/1/refund", headers=token,
                                   json={"amount_cents": 100, "reason": "test"})
    assert refund.status == 403
    assert (await refund.json())["error"]["code"] == "missing_scope"
    beyond = gateway_user(db_url, "add", "org@example.org", "--role", "organizer",
                          "--no-password", "--token", "--scopes", "donations:write")
    assert beyond.returncode == 2 and "a organizer may not hold donations:write" in beyond.stderr
    alone = gateway_user(db_url, "add", "x@example.org", "--role", "admin", "--no-password",
                         "--scopes", "admin")
    assert alone.returncode == 2 and "add --token" in alone.stderr
