"""My settings: the time zone and language one user sees the pages in.

Every role has it, for their own account only (the user is the session's,
never a parameter). Choices, not free text: the zone is a select of tzdata's
IANA zones, the language English or French; "the organization's" keeps the
column empty so the deployment's setting applies (gateway/web/locale.py).
The rule is in gateway/services/user_preferences.py; this only shows and posts.
"""

from __future__ import annotations

from aiohttp import web

from gateway.plain_words import N_
from gateway.services.user_preferences import save_preferences
from gateway.web.auth import forget_principal
from gateway.web.locale import LANGUAGE_NAMES, zone_names
from gateway.web.pages.frame import PageTable, View

pages = PageTable()
TITLE = N_("My settings")


@pages.get("/settings", name="page.settings")
async def show(view: View) -> web.StreamResponse:
    saved = view.query("saved") == "1"
    return _form(view, time_zone=view.user.time_zone or "", language=view.user.language or "",
                 saved=saved)


@pages.post("/settings", name="page.settings.save")
async def save(view: View) -> web.StreamResponse:
    time_zone, language = view.field("time_zone"), view.field("language")
    async with view.context.pool.acquire() as conn:
        await save_preferences(conn, view.user.user_id, time_zone=time_zone, language=language)
    forget_principal(view.request)
    return view.redirect("/settings", saved="1")


def _form(view: View, *, time_zone: str, language: str, saved: bool) -> web.Response:
    settings = view.context.settings
    return view.render("my_settings.html", title=TITLE, zones=zone_names(),
                       languages=LANGUAGE_NAMES, chosen_zone=time_zone,
                       chosen_language=language, saved=saved,
                       organization_zone=settings.organization_timezone,
                       organization_language=LANGUAGE_NAMES[settings.organization_language])
