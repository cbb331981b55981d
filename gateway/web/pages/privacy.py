"""Erasing a contact from its profile page (admins; the export is a link to the API).

Why a page handler and not the form posting to the API: the API answers
JSON, and a person who just erased someone needs a page saying what was
kept (the opt-out, the money under a pseudonym). The checks are the API's
own, in the privacy service (gateway/services/privacy.py): the number
retyped, the hash key set.
A mistyped confirmation goes back to the profile with the reason beside
the field; nothing is erased.
"""

from __future__ import annotations

from aiohttp import web

from gateway.plain_words import N_
from gateway.services import privacy as service
from gateway.services.errors import ServiceError
from gateway.web.pages.frame import PageTable, View

pages = PageTable()


@pages.post("/contacts/{msisdn}/erase", name="page.contact.erase")
async def erase(view: View) -> web.StreamResponse:
    msisdn = service.e164(view.request.match_info["msisdn"])
    try:
        report = await service.erase_contact(view.context.pool, view.context.settings,
                                             view.user, msisdn, view.field("confirm"))
    except ServiceError as err:
        if err.field != "confirm":
            raise
        return view.redirect(f"/contacts/{msisdn}", erase="mismatch")
    return view.render("erased.html", title=N_("Contact erased"), report=report,
                       rows={t: n for t, n in sorted(report.rows.items()) if n})
