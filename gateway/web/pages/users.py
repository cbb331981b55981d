"""Staff accounts for admins: the list, a new account, role and themes, reset, disable, tokens.

Every change goes through gateway/services/accounts.py, as the API's
(web/api/users.py) and `gateway user` do: the same refusals (themes only for
experts, never the last active admin), the same side effects (a change ends
the user's sessions, a new password revokes their tokens) and the same audit
rows. This module only reads the form and says it back.

Choices, not free text: the role is a select, the themes are the configured
ones (every program's `themes:` in keywords.yaml), shown only when the role
is expert (a CSS rule on the selected option, so no script is needed). A new
account's first password, and a reset one, are made here and shown once, on
the answer page only. Disabling an account, resetting a password and
revoking a token ask to confirm first (pages/confirm.py).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.broadcast import send_time
from gateway.knowledge.placement import themes_of
from gateway.plain_words import N_, said
from gateway.services import accounts, audit
from gateway.services.errors import ServiceError
from gateway.store import audit as audit_store
from gateway.store import users as user_store
from gateway.store.users import User
from gateway.web.access import ROLES
from gateway.web.context import rules_in_force
from gateway.web.errors import bad_request, not_found
from gateway.web.pages import confirm
from gateway.web.pages.frame import PageTable, View
from gateway.web.staff_passwords import checked_hash, new_password

pages = PageTable()



@pages.get("/users", name="page.users")
async def user_list(view: View) -> web.StreamResponse:
    return await _list(view)


async def _list(view: View, *, status: int = 200, form: dict[str, Any] | None = None,
                errors: dict[str, str] | None = None, **values: Any) -> web.Response:
    async with view.context.pool.acquire() as conn:
        users = await user_store.list_users(conn)
        logins = await audit_store.last_by_actor(conn, audit.LOGIN_SUCCEEDED,
                                                 [u.id for u in users])
    return view.render("users.html", status=status, title=N_("Staff accounts"), users=users,
                       logins=logins, roles=ROLES, themes=theme_choices(view, ()),
                       form=form or {"role": "organizer", "themes": [], "sign_in": "password"},
                       errors=errors or {}, zone=_zone(view), **values)


@pages.post("/users", name="page.users.create")
async def create(view: View) -> web.StreamResponse:
    themes = _themes(view)
    form: dict[str, Any] = {"email": view.field("email"), "role": view.field("role"),
                            "themes": themes, "sign_in": view.field("sign_in") or "password"}
    password = new_password() if form["sign_in"] == "password" else None
    try:
        email = _email(view, view.field("email"))
        role = _role(view, view.field("role"))
        password_hash = None if password is None else await checked_hash(view.request,
                                                                          password)
        async with view.context.pool.acquire() as conn, conn.transaction():
            user = await accounts.create_user(conn, _by(view), email=email, role=role,
                                              themes=themes if role == "expert" else [],
                                              password_hash=password_hash)
    except ServiceError as err:
        return await _list(view, status=err.status, form=form,
                           errors={err.field or "form": err.message})
    return await _one(view, user.id, created=True, secret=password)


@pages.get("/users/{user_id}", name="page.user")
async def user_page(view: View) -> web.StreamResponse:
    return await _one(view, _id(view, "user_id"))


async def _one(view: View, user_id: int, *, status: int = 200,
               errors: dict[str, str] | None = None, **values: Any) -> web.Response:
    async with view.context.pool.acquire() as conn:
        user = await user_store.get_user(conn, user_id)
        if user is None:
            raise not_found(said(N_("user %(user_id)s"), user_id=user_id))
        tokens = await user_store.list_tokens(conn, user_id)
        logins = await audit_store.last_by_actor(conn, audit.LOGIN_SUCCEEDED, [user_id])
    return view.render("user.html", status=status, title=user.email, user=user,
                       tokens=tokens, last_login=logins.get(user_id), roles=ROLES,
                       themes=theme_choices(view, user.themes), errors=errors or {},
                       now=view.context.clock(), zone=_zone(view),
                       **{"created": False, "secret": None, "done": view.query("done"),
                          "revoked": 0, **values})


@pages.post("/users/{user_id}", name="page.user.update")
async def update(view: View) -> web.StreamResponse:
    user_id = _id(view, "user_id")
    try:
        role = _role(view, view.field("role"))
        themes = _themes(view) if role == "expert" else []  # hidden unless expert
        async with view.context.pool.acquire() as conn, conn.transaction():
            await accounts.change_user(conn, _by(view), user_id,
                                       accounts.UserChange(role=role, themes=themes))
    except ServiceError as err:
        if err.status == 404:
            raise
        return await _one(view, user_id, status=err.status,
                          errors={err.field or "form": err.message})
    return view.redirect(f"/users/{user_id}", done="saved")


@pages.post("/users/{user_id}/password", name="page.user.password")
async def reset(view: View) -> web.StreamResponse:
    user = await _user(view)
    if not confirm.confirmed(view):
        return confirm.ask(view, "reset_password", title=N_("Reset the password?"),
                           back=f"/users/{user.id}", subject=user.email)
    password = new_password()
    password_hash = await checked_hash(view.request, password)
    async with view.context.pool.acquire() as conn, conn.transaction():
        _, revoked = await accounts.reset_password(conn, _by(view), user.email, password_hash)
    return await _one(view, user.id, secret=password, done="reset", revoked=revoked)


@pages.post("/users/{user_id}/disabled", name="page.user.disable")
async def disable(view: View) -> web.StreamResponse:
    user = await _user(view)
    off = view.field("disabled") != "false"
    if off and not confirm.confirmed(view):
        return confirm.ask(view, "disable_account", title=N_("Disable this account?"),
                           back=f"/users/{user.id}", subject=user.email)
    try:
        async with view.context.pool.acquire() as conn, conn.transaction():
            await accounts.change_user(conn, _by(view), user.id,
                                       accounts.UserChange(disabled=off))
    except ServiceError as err:
        return await _one(view, user.id, status=err.status,
                          errors={"disabled": err.message})
    return view.redirect(f"/users/{user.id}", done="disabled" if off else "enabled")


@pages.post("/users/{user_id}/tokens/{token_id}/revoke", name="page.user.token.revoke")
async def revoke(view: View) -> web.StreamResponse:
    user = await _user(view)
    token_id = _id(view, "token_id")
    if not confirm.confirmed(view):
        return confirm.ask(view, "revoke_token", title=N_("Revoke this API token?"),
                           back=f"/users/{user.id}", subject=user.email)
    async with view.context.pool.acquire() as conn, conn.transaction():
        await accounts.revoke_token(conn, _by(view), token_id, owner=user.id)
    return view.redirect(f"/users/{user.id}", done="revoked")


def theme_choices(view: View, held: tuple[str, ...]) -> list[tuple[str, str]]:
    """(theme id, label) for every configured theme, plus any the user holds that no
    program has any more (so saving the form does not drop it unseen)."""
    labels: dict[str, list[str]] = {}
    try:
        rules = rules_in_force(view.context)
        programs = sorted(rules.programs)
    except ServiceError:  # an unreadable keywords file: only the held themes
        programs = []
    for program in programs:
        for theme, name in themes_of(rules, program).items():
            labels.setdefault(theme, []).append(f"{name} ({program})")
    for theme in held:
        labels.setdefault(theme, [view.viewer.gettext("%(theme)s (no program has it now)",
                                                      theme=theme)])
    return sorted(((theme, ", ".join(names)) for theme, names in labels.items()),
                  key=lambda choice: choice[1].lower())


def _by(view: View) -> accounts.Actor:
    return accounts.Actor(principal=view.user, client=view.client)


def _zone(view: View) -> str:
    return send_time.organizer_zone(view.context.settings)


def _themes(view: View) -> list[str]:
    return [t for t in view.form.getall("themes", []) if isinstance(t, str) and t]


def _email(view: View, raw: str) -> str:
    try:
        return accounts.check_email(raw)
    except ValueError:
        raise bad_request(view.viewer.gettext(
            "type the person's e-mail address, like name@example.org"), field="email") from None


def _role(view: View, raw: str) -> str:
    if raw not in ROLES:
        raise bad_request(view.viewer.gettext("choose a role"), field="role")
    return raw


def _id(view: View, name: str) -> int:
    return int(view.request.match_info[name])


async def _user(view: View) -> User:
    user_id = _id(view, "user_id")
    async with view.context.pool.acquire() as conn:
        user = await user_store.get_user(conn, user_id)
    if user is None:
        raise not_found(said(N_("user %(user_id)s"), user_id=user_id))
    return user
