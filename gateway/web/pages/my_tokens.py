"""My API tokens, for every staff member: make one (its secret shown once), revoke one.

The same rules as the API's /api/v1/me/tokens (gateway/services/accounts.py):
a token is made only from a logged-in browser session, lives at most
GATEWAY_WEB_TOKEN_DAYS, and only one's own tokens can be revoked here (an
admin revokes anyone's on the users page). The secret exists only in the
answer to the form that made it: the database keeps its hash, so the page
says so and never shows it again.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.broadcast import send_time
from gateway.plain_words import N_
from gateway.services import accounts
from gateway.services.errors import ServiceError
from gateway.store import users as user_store
from gateway.web.credentials import new_api_token
from gateway.web.errors import bad_request, not_found
from gateway.web.pages import confirm
from gateway.web.pages.frame import PageTable, View

pages = PageTable()

MAX_NAME = 100  # as the API's NewToken


@pages.get("/me/tokens", name="page.my_tokens")
async def my_tokens(view: View) -> web.StreamResponse:
    return await _show(view)


async def _show(view: View, *, status: int = 200, **values: Any) -> web.Response:
    async with view.context.pool.acquire() as conn:
        tokens = await user_store.list_tokens(conn, view.user.user_id)
    most = view.context.settings.web_token_days
    return view.render("my_tokens.html", status=status, title=N_("My API tokens"), tokens=tokens,
                       most_days=most, now=view.context.clock(),
                       zone=send_time.organizer_zone(view.context.settings),
                       **{"form": {"name": "", "days": str(most)}, "errors": {},
                          "secret": None, "made": None, "done": view.query("done"),
                          **values})


@pages.post("/me/tokens", name="page.my_tokens.create")
async def create(view: View) -> web.StreamResponse:
    form = {"name": view.field("name"), "days": view.field("days")}
    _ = view.viewer.gettext
    try:
        if not form["name"] or len(form["name"]) > MAX_NAME:
            raise bad_request(_("name it, in 1 to %(most)s characters: what or who will "
                                "use it", most=MAX_NAME), field="name")
        if not form["days"].isdecimal() or int(form["days"]) < 1:
            raise bad_request(_("a whole number of days, 1 or more"), field="days")
        made = new_api_token()
        request = accounts.TokenRequest(name=form["name"], prefix=made.prefix,
                                        secret_hash=made.secret_hash, days=int(form["days"]))
        async with view.context.pool.acquire() as conn, conn.transaction():
            token = await accounts.issue_token(
                conn, accounts.Actor(principal=view.user, client=view.client),
                view.user.user_id, request, via=view.user.via,
                most_days=view.context.settings.web_token_days, now=view.context.clock())
    except ServiceError as err:
        field = "days" if err.field == "expires_in_days" else err.field  # the API's name
        if field not in form:
            raise
        return await _show(view, status=err.status, form=form, errors={field: err.message})
    return await _show(view, secret=made.token, made=token)


@pages.post("/me/tokens/{token_id}/revoke", name="page.my_tokens.revoke")
async def revoke(view: View) -> web.StreamResponse:
    token_id = int(view.request.match_info["token_id"])
    async with view.context.pool.acquire() as conn:
        found = await user_store.get_token(conn, token_id)
    if found is None or found.user_id != view.user.user_id:  # as accounts.revoke_token
        raise not_found(f"token {token_id}")
    if not confirm.confirmed(view):
        return confirm.ask(view, "revoke_my_token", title=N_("Revoke this API token?"),
                           back="/me/tokens", subject=found.name)
    async with view.context.pool.acquire() as conn, conn.transaction():
        await accounts.revoke_token(conn, accounts.Actor(principal=view.user,
                                                         client=view.client),
                                    token_id, owner=view.user.user_id)
    return view.redirect("/me/tokens", done="revoked")
