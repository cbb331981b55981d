"""My API tokens, for every staff member: make one (its secret shown once), revoke one.

The same rules as the API's /api/v1/me/tokens (gateway/services/accounts.py):
a token is made only from a logged-in browser session, lives at most
GATEWAY_WEB_TOKEN_DAYS, and only one's own tokens can be revoked here (an
admin revokes anyone's on the users page). The secret is shown once: the
form's POST keeps it as a one-time flash of the session (gateway/web/flash.py,
sealed to the session's cookie) and redirects; the GET that follows takes
it. A reload of that page shows the list without it and makes no token; the
database keeps only the token's hash, so the page says so. The scopes it may
use are ticked from those the role may hold (gateway/web/access.py), at least
one.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.broadcast import send_time
from gateway.plain_words import N_, said
from gateway.services import accounts
from gateway.services.errors import ServiceError
from gateway.store import users as user_store
from gateway.web import flash
from gateway.web.access import SCOPES, scopes_for_role
from gateway.web.auth import SESSION_COOKIE
from gateway.web.credentials import new_api_token
from gateway.web.errors import bad_request, not_found
from gateway.web.pages import confirm
from gateway.web.pages.frame import PageTable, View

pages = PageTable()

MAX_NAME = 100  # as the API's NewToken
NEW_TOKEN = "new_token"  # the flash's kind (migration 412)


def _session(view: View) -> tuple[str, bytes] | None:
    """The session's cookie value and hash: what a flash is sealed to and keyed by."""
    cookie = view.request.cookies.get(SESSION_COOKIE)
    if not cookie or view.user.session_hash is None:
        return None
    return cookie, view.user.session_hash


@pages.get("/me/tokens", name="page.my_tokens")
async def my_tokens(view: View) -> web.StreamResponse:
    session = _session(view)
    if session is None:
        return await _show(view)
    async with view.context.pool.acquire() as conn:
        shown = await flash.take(conn, cookie=session[0], session_hash=session[1],
                                 kind=NEW_TOKEN, now=view.context.clock())
        tokens = await user_store.list_tokens(conn, view.user.user_id)
    made = next((t for t in tokens if shown is not None and t.id == shown[0]), None)
    if shown is None or made is None:
        return await _show(view)
    return await _show(view, secret=shown[1], made=made)


async def _show(view: View, *, status: int = 200, **values: Any) -> web.Response:
    async with view.context.pool.acquire() as conn:
        tokens = await user_store.list_tokens(conn, view.user.user_id)
    most = view.context.settings.web_token_days
    mine = scopes_for_role(view.user.role)
    offered = [scope for scope in SCOPES if scope in mine]
    return view.render("my_tokens.html", status=status, title=N_("My API tokens"),
                       tokens=tokens,
                       most_days=most, now=view.context.clock(), offered=offered,
                       zone=send_time.organizer_zone(view.context.settings),
                       **{"form": {"name": "", "days": str(most), "scopes": []},
                          "errors": {},
                          "secret": None, "made": None, "done": view.query("done"),
                          **values})


@pages.post("/me/tokens", name="page.my_tokens.create")
async def create(view: View) -> web.StreamResponse:
    form: dict[str, Any] = {"name": view.field("name"), "days": view.field("days"),
                            "scopes": _scopes(view)}
    _ = view.viewer.gettext
    try:
        if not form["name"] or len(form["name"]) > MAX_NAME:
            raise bad_request(_("name it, in 1 to %(most)s characters: what or who will "
                                "use it", most=MAX_NAME), field="name")
        if not form["days"].isdecimal() or int(form["days"]) < 1:
            raise bad_request(_("a whole number of days, 1 or more"), field="days")
        made = new_api_token()
        request = accounts.TokenRequest(name=form["name"], prefix=made.prefix,
                                        secret_hash=made.secret_hash, days=int(form["days"]),
                                        scopes=tuple(form["scopes"]))
        session = _session(view)
        async with view.context.pool.acquire() as conn, conn.transaction():
            token = await accounts.issue_token(
                conn, accounts.Actor(principal=view.user, client=view.client),
                view.user.user_id, request, via=view.user.via,
                most_days=view.context.settings.web_token_days, now=view.context.clock(),
                role_scopes=scopes_for_role)
            if session is not None:
                await flash.put(conn, cookie=session[0], session_hash=session[1],
                                kind=NEW_TOKEN, subject_id=token.id, text=made.token,
                                now=view.context.clock())
    except ServiceError as err:
        field = "days" if err.field == "expires_in_days" else err.field  # the API's name
        if field not in form:
            raise
        return await _show(view, status=err.status, form=form, errors={field: err.message})
    if session is None:  # no session to hold it (a script's token): this answer only
        return await _show(view, secret=made.token, made=token)
    return view.redirect("/me/tokens")


def _scopes(view: View) -> list[str]:
    """The ticked scopes, in the list's order; an unknown name is dropped. One the role
    may not hold (a forged form) is refused by services/accounts.py, naming it."""
    ticked = {value for value in view.form.getall("scopes", []) if isinstance(value, str)}
    return [scope for scope in SCOPES if scope in ticked]


@pages.post("/me/tokens/{token_id}/revoke", name="page.my_tokens.revoke")
async def revoke(view: View) -> web.StreamResponse:
    token_id = int(view.request.match_info["token_id"])
    async with view.context.pool.acquire() as conn:
        found = await user_store.get_token(conn, token_id)
    if found is None or found.user_id != view.user.user_id:  # as accounts.revoke_token
        raise not_found(said(N_("token %(token_id)s"), token_id=token_id))
    if not confirm.confirmed(view):
        return confirm.ask(view, "revoke_my_token", title=N_("Revoke this API token?"),
                           back="/me/tokens", subject=found.name)
    async with view.context.pool.acquire() as conn, conn.transaction():
        await accounts.revoke_token(conn, accounts.Actor(principal=view.user,
                                                         client=view.client),
                                    token_id, owner=view.user.user_id)
    return view.redirect("/me/tokens", done="revoked")
