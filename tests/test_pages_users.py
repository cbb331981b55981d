"""The staff-accounts and my-tokens pages: every action for admins, 403 for other roles,
each destructive action behind its confirm step, secrets shown once."""

from __future__ import annotations

import re

from gateway.store import users as user_store
from tests.support.pages_site import form_token
from tests.support.webapi import WebApi

NEW_PASSWORD = re.compile(r'<code id="new-password">([^<]+)</code>')
NEW_TOKEN = re.compile(r'<code id="new-token">(gwt_[^<]+)</code>')


async def _admin(site: WebApi) -> str:
    await site.staff("admin", email="admin@example.org")
    await site.login("admin@example.org")
    return form_token(await (await site.client.get("/users")).text())


async def _actions(site: WebApi) -> list[str]:
    async with site.pool.acquire() as conn:
        return [r["action"] for r in await conn.fetch(
            "SELECT action FROM audit_log WHERE action NOT LIKE 'session.%' ORDER BY id")]


async def test_an_admin_adds_an_expert_whose_first_password_is_shown_once(
    site: WebApi,
) -> None:
    token = await _admin(site)
    page = await (await site.client.get("/users")).text()
    assert '<option value="expert"' in page and 'value="sante"' in page  # choices
    assert "Santé (ensemble)" in page and "admin@example.org" in page

    made = await site.client.post("/users", data=[
        ("csrf_token", token), ("email", "Nurse@Example.org"), ("role", "expert"),
        ("themes", "sante"), ("themes", "logement"), ("sign_in", "password")])
    text = await made.text()
    assert made.status == 200, text
    [password] = NEW_PASSWORD.findall(text)
    async with site.pool.acquire() as conn:
        user = await user_store.get_user_by_email(conn, "nurse@example.org")
    assert user is not None and (user.role, user.themes) == ("expert", ("logement", "sante"))
    again = await (await site.client.get(f"/users/{user.id}")).text()
    assert password not in again and "new-password" not in again
    assert "never" in again  # no login yet
    assert await _actions(site) == ["user.created"]

    await site.login("nurse@example.org", password)  # the shown password works
    listed = await (await site.client.get("/inbox")).text()
    assert "Health" in listed  # sante, named in the viewer's language (English)


async def test_a_refused_new_account_keeps_the_form_and_names_the_field(
    site: WebApi,
) -> None:
    token = await _admin(site)
    taken = await site.client.post("/users", data={
        "csrf_token": token, "email": "admin@example.org", "role": "organizer",
        "sign_in": "tokens"})
    text = await taken.text()
    assert taken.status == 409 and "already has an account" in text
    assert 'aria-describedby="email-new-error"' in text and 'value="admin@example.org"' in text
    bad = await site.client.post("/users", data={
        "csrf_token": token, "email": "not an address", "role": "finance"})
    text = await bad.text()
    assert bad.status == 400 and 'value="not an address"' in text
    assert '<option value="finance" selected>' in text
    assert await _actions(site) == []


async def test_role_and_themes_change_and_the_last_admin_stays(site: WebApi) -> None:
    token = await _admin(site)
    expert = await site.staff("expert", email="ex@example.org", themes=("sante",))
    changed = await site.client.post(f"/users/{expert.user.id}", allow_redirects=False,
                                     data=[("csrf_token", token), ("role", "expert"),
                                           ("themes", "emploi"), ("themes", "europe")])
    assert (changed.status, changed.headers["Location"]) == (
        303, f"/users/{expert.user.id}?done=saved")
    # hidden theme boxes still posted with another role are not that role's themes
    await site.client.post(f"/users/{expert.user.id}", data=[
        ("csrf_token", token), ("role", "organizer"), ("themes", "emploi")])
    async with site.pool.acquire() as conn:
        user = await user_store.get_user(conn, expert.user.id)
        [me] = [u for u in await user_store.list_users(conn) if u.role == "admin"]
    assert user is not None and (user.role, user.themes) == ("organizer", ())

    refused = await site.client.post(f"/users/{me.id}", data={"csrf_token": token,
                                                               "role": "finance"})
    text = await refused.text()
    assert refused.status == 409 and "last active admin" in text
    assert await _actions(site) == ["user.updated", "user.updated"]


async def test_reset_disable_and_revoke_ask_first_then_act(site: WebApi) -> None:
    token = await _admin(site)
    org = await site.staff("organizer", email="org@example.org")
    async with site.pool.acquire() as conn:
        [api_token] = await user_store.list_tokens(conn, org.user.id)
    revoke_path = f"/users/{org.user.id}/tokens/{api_token.id}/revoke"
    for path, button in ((f"/users/{org.user.id}/password", "Reset the password"),
                         (f"/users/{org.user.id}/disabled", "Disable the account"),
                         (revoke_path, "Revoke the token")):
        asked = await site.client.post(path, data={"csrf_token": token, "disabled": "true"})
        text = await asked.text()
        assert asked.status == 200 and button in text and 'name="confirmed" value="yes"' in text
        assert f'href="/users/{org.user.id}"' in text  # Cancel goes back
    assert await _actions(site) == []  # asking changed nothing

    revoked = await site.client.post(revoke_path, allow_redirects=False,
                                     data={"csrf_token": token, "confirmed": "yes"})
    assert revoked.status == 303
    assert (await site.client.get("/api/v1/me", headers=org.bearer)).status == 401
    reset = await site.client.post(f"/users/{org.user.id}/password",
                                   data={"csrf_token": token, "confirmed": "yes"})
    text = await reset.text()
    [password] = NEW_PASSWORD.findall(text)
    assert "0 API tokens revoked" in text  # the one token was already revoked
    disabled = await site.client.post(f"/users/{org.user.id}/disabled", allow_redirects=False,
                                      data={"csrf_token": token, "disabled": "true",
                                            "confirmed": "yes"})
    assert disabled.headers["Location"] == f"/users/{org.user.id}?done=disabled"
    page = await (await site.client.get(f"/users/{org.user.id}")).text()
    assert "disabled since" in page and "Enable the account" in page and password not in page
    refused = await site.client.post("/login", json={"email": "org@example.org",
                                                     "password": password})
    assert refused.status == 401
    enabled = await site.client.post(f"/users/{org.user.id}/disabled", allow_redirects=False,
                                     data={"csrf_token": token, "disabled": "false"})
    assert enabled.headers["Location"] == f"/users/{org.user.id}?done=enabled"  # no confirm
    assert await _actions(site) == ["token.revoked", "user.updated", "user.updated",
                                    "user.updated"]
    await site.login("org@example.org", password)


async def test_other_roles_cannot_use_the_staff_pages(site: WebApi) -> None:
    admin = await site.staff("admin")
    target = admin.user.id
    async with site.pool.acquire() as conn:
        [token] = await user_store.list_tokens(conn, target)
    for role in ("organizer", "finance", "expert"):
        who = await site.staff(role)
        for method, path in (("GET", "/users"), ("POST", "/users"),
                             ("GET", f"/users/{target}"), ("POST", f"/users/{target}"),
                             ("POST", f"/users/{target}/password"),
                             ("POST", f"/users/{target}/disabled"),
                             ("POST", f"/users/{target}/tokens/{token.id}/revoke")):
            response = await site.client.request(
                method, path, headers=who.bearer, allow_redirects=False,
                data={"confirmed": "yes", "role": "expert", "disabled": "true",
                      "email": "x@example.org"})
            assert response.status == 403, (role, method, path)
    assert await _actions(site) == []


ONE_SCOPE = {"admin": "admin", "organizer": "contacts:read", "finance": "donations:read",
             "expert": "messages:read"}


async def test_my_tokens_for_every_role_secret_shown_once(site: WebApi) -> None:
    for role in ("admin", "organizer", "finance", "expert"):
        await site.staff(role)
        await site.login(f"{role}@example.org")
        page = await (await site.client.get("/me/tokens")).text()
        token = form_token(page)
        made = await site.client.post("/me/tokens", data={"csrf_token": token,
                                                          "name": "nightly export",
                                                          "days": "7",
                                                          "scopes": ONE_SCOPE[role]})
        text = await made.text()
        assert made.status == 200, text
        [secret] = NEW_TOKEN.findall(text)
        me = await site.client.get("/api/v1/me",
                                   headers={"Authorization": f"Bearer {secret}"})
        assert (await me.json())["role"] == role
        assert f'value="{ONE_SCOPE[role]}"' in page  # offered: the role may hold it
        assert ("webhooks:manage" in page) == (role == "admin")
        listed = await (await site.client.get("/me/tokens")).text()
        assert secret not in listed and "nightly export" in listed

        async with site.pool.acquire() as conn:
            user = await user_store.get_user_by_email(conn, f"{role}@example.org")
            assert user is not None
            mine = [t for t in await user_store.list_tokens(conn, user.id)
                    if t.name == "nightly export"]
        asked = await site.client.post(f"/me/tokens/{mine[0].id}/revoke",
                                       data={"csrf_token": token})
        assert "Revoke the token" in await asked.text()
        done = await site.client.post(f"/me/tokens/{mine[0].id}/revoke",
                                      allow_redirects=False,
                                      data={"csrf_token": token, "confirmed": "yes"})
        assert done.headers["Location"] == "/me/tokens?done=revoked"
        me = await site.client.get("/api/v1/me",
                                   headers={"Authorization": f"Bearer {secret}"})
        assert me.status == 401


async def test_my_tokens_refusals(site: WebApi) -> None:
    other = await site.staff("organizer", email="other@example.org")
    finance = await site.staff("finance")
    await site.login("finance@example.org")
    token = form_token(await (await site.client.get("/me/tokens")).text())
    too_long = await site.client.post("/me/tokens", data={
        "csrf_token": token, "name": "for a year", "days": "9999", "scopes": "donations:read"})
    text = await too_long.text()
    assert too_long.status == 400 and "at most" in text and 'value="for a year"' in text
    assert 'aria-describedby="token-days-hint token-days-error"' in text
    unticked = await site.client.post("/me/tokens", data={
        "csrf_token": token, "name": "no scope", "days": "1"})
    assert unticked.status == 400 and "tick at least one" in await unticked.text()
    beyond = await site.client.post("/me/tokens", data={
        "csrf_token": token, "name": "too much", "days": "1", "scopes": "admin"})
    # a scope the page does not offer (a forged form) is refused, naming it
    assert beyond.status == 400 and "may not hold the scope admin" in await beyond.text()
    async with site.pool.acquire() as conn:
        [theirs] = await user_store.list_tokens(conn, other.user.id)
    not_mine = await site.client.post(f"/me/tokens/{theirs.id}/revoke",
                                      data={"csrf_token": token, "confirmed": "yes"})
    assert not_mine.status == 404
    from_token = await site.client.post("/me/tokens", headers=finance.bearer,
                                        data={"name": "chained", "days": "1"})
    assert from_token.status == 403  # a token never mints a token
    assert "browser session" in await from_token.text()
    assert await _actions(site) == []
