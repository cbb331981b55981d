"""Users and API tokens: tokens shown once and stored hashed; audit rows written, never changed."""

from __future__ import annotations

import hashlib

import asyncpg
import pytest

from tests.support.webapi import WebApi


async def test_a_token_is_shown_once_stored_hashed_and_works_until_revoked(web: WebApi) -> None:
    admin = await web.staff("admin")
    made = await web.client.post("/api/v1/users", json={
        "email": "Scripts@Example.org", "role": "finance"}, headers=admin.bearer)
    assert made.status == 201
    user = (await made.json())["user"]
    assert user["email"] == "scripts@example.org" and user["has_password"] is False
    csrf = await web.login("admin@example.org")  # tokens are minted from a session only
    created = await web.client.post(f"/api/v1/users/{user['id']}/tokens",
                                    json={"name": "nightly export"},
                                    headers={"X-CSRF-Token": csrf})
    assert created.status == 201
    answer = await created.json()
    token = answer["token"]
    assert token.startswith(answer["prefix"] + "_")
    listed = await (await web.client.get(f"/api/v1/users/{user['id']}/tokens",
                                         headers=admin.bearer)).json()
    assert token not in str(listed)
    async with web.pool.acquire() as conn:
        rows = await conn.fetch("SELECT * FROM api_tokens WHERE user_id = $1", user["id"])
    assert token not in str([dict(r) for r in rows])
    assert bytes(rows[0]["secret_hash"]) == hashlib.sha256(token.encode()).digest()
    bearer = {"Authorization": f"Bearer {token}"}
    assert (await web.client.get("/api/v1/donations", headers=bearer)).status == 200
    assert (await web.client.get("/api/v1/contacts", headers=bearer)).status == 403
    revoked = await web.client.delete(f"/api/v1/tokens/{answer['id']}", headers=admin.bearer)
    assert (await revoked.json())["revoked"] is True
    assert (await web.client.get("/api/v1/donations", headers=bearer)).status == 401


async def test_a_user_revokes_only_their_own_tokens(web: WebApi) -> None:
    organizer = await web.staff("organizer")
    finance = await web.staff("finance")
    own = await (await web.client.get("/api/v1/me/tokens", headers=finance.bearer)).json()
    theirs = own["tokens"][0]["id"]
    response = await web.client.delete(f"/api/v1/me/tokens/{theirs}", headers=organizer.bearer)
    assert response.status == 404
    response = await web.client.delete(f"/api/v1/me/tokens/{theirs}", headers=finance.bearer)
    assert response.status == 200


async def test_role_changes_and_the_last_admin(web: WebApi) -> None:
    admin = await web.staff("admin")
    response = await web.client.patch(f"/api/v1/users/{admin.user.id}",
                                      json={"role": "organizer"}, headers=admin.bearer)
    assert response.status == 409
    assert (await response.json())["error"]["field"] == "role"
    expert = await web.client.post("/api/v1/users", json={
        "email": "doc@example.org", "role": "expert", "themes": ["health", "health", "care"],
        "password": "long enough password"}, headers=admin.bearer)
    user = (await expert.json())["user"]
    assert user["themes"] == ["care", "health"]
    promoted = await web.client.patch(f"/api/v1/users/{user['id']}", json={"role": "admin"},
                                      headers=admin.bearer)
    assert (await promoted.json())["user"]["themes"] == []
    themed = await web.client.post("/api/v1/users", json={
        "email": "o@example.org", "role": "organizer", "themes": ["health"]},
        headers=admin.bearer)
    assert themed.status == 400 and (await themed.json())["error"]["field"] == "themes"
    short = await web.client.post("/api/v1/users", json={
        "email": "p@example.org", "role": "finance", "password": "short"}, headers=admin.bearer)
    assert short.status == 400 and (await short.json())["error"]["field"] == "password"
    again = await web.client.post("/api/v1/users", json={
        "email": "DOC@example.org", "role": "finance"}, headers=admin.bearer)
    assert again.status == 409 and (await again.json())["error"]["field"] == "email"


async def test_changes_and_logins_are_audited_and_the_log_cannot_be_changed(
    web: WebApi,
) -> None:
    admin = await web.staff("admin")
    made = await web.client.post("/api/v1/users", json={"email": "f@example.org",
                                                        "role": "finance"}, headers=admin.bearer)
    user_id = (await made.json())["user"]["id"]
    await web.client.patch(f"/api/v1/users/{user_id}", json={"disabled": True,
                           "password": "a brand new password"}, headers=admin.bearer)
    await web.client.post("/login", json={"email": "admin@example.org", "password": "nope"})
    await web.login("admin@example.org")
    log = await (await web.client.get("/api/v1/audit", headers=admin.bearer)).json()
    actions = [entry["action"] for entry in log["entries"]]
    assert actions == ["session.login_succeeded", "session.login_failed", "user.updated",
                       "user.created"]
    updated = log["entries"][2]
    assert updated["actor"] == "admin@example.org" and updated["target"] == f"user:{user_id}"
    assert updated["detail"]["password"] == "changed"
    assert "a brand new password" not in str(log)
    failed = log["entries"][1]
    assert failed["actor_id"] is None and failed["actor"] == "admin@example.org"
    async with web.pool.acquire() as conn:
        for statement in ("UPDATE audit_log SET actor = 'someone else'",
                          "DELETE FROM audit_log", "TRUNCATE audit_log"):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute(statement)
        assert await conn.fetchval("SELECT count(*) FROM audit_log") == 4
