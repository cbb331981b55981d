"""The home redirect and the login page (the form posts to the API's POST /login).

Why the page only renders: POST /login (gateway/web/api/session.py) checks
the form token, the rate limit and the password, then redirects here with
`?error=failed`, `limited` or `busy`, or to `next`. Messages never say
whether the e-mail exists.
"""

from __future__ import annotations

from aiohttp import web

from gateway.plain_words import N_
from gateway.web.next_path import safe_next
from gateway.web.pages.frame import PageTable, View, html_response, page_html, visible_nav
from gateway.web.sessions import login_form_token

pages = PageTable()

LOGIN_ERRORS = {
    "failed": N_("Wrong e-mail or password."),
    "limited": N_("Too many failed logins. Wait a little, then try again."),
    "busy": N_("Too many logins at once. Try again in a moment."),
}


@pages.get("/", name="page.home")
async def home(view: View) -> web.StreamResponse:
    if view.principal is None:
        return view.redirect("/login")
    nav = visible_nav(view.request, view.principal)
    if nav:
        return view.redirect(nav[0].path)
    return view.render("home.html", title=N_("Welcome"))


@pages.get("/login", name="page.login")
async def login(view: View) -> web.StreamResponse:
    target = safe_next(view.query("next", "/"))
    if view.principal is not None and view.principal.via == "session":
        return view.redirect(target)
    error = view.query("error")
    response = html_response(status=401 if error in LOGIN_ERRORS else 200)
    token = login_form_token(view.request, response)
    response.text = page_html(view.request, "login.html", principal=None, title=N_("Log in"),
                              error=LOGIN_ERRORS.get(error), next=target, login_token=token)
    return response
