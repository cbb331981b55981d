"""One person, many addresses: the contact page's person forms, and the public link page.

Staff (admins and organizers, as for every change to a contact) merge the
contact with another address, undo a wrong link, or send the citizen a
confirmation link; the rules and the audit entries are in
gateway/services/persons/. A refused form comes back on the contact page
with the reason beside the field and what was typed kept.

The link page is public: the token in the path is the credential. GET shows
what would be linked and a button, and changes nothing (mail scanners open
links); only the button's POST confirms. It speaks the link's language.
"""

from __future__ import annotations

from urllib.parse import quote

from aiohttp import web

from gateway.services import persons
from gateway.services.errors import ServiceError
from gateway.services.persons.link_tokens import TokenState
from gateway.services.persons.texts import language_on, program_name_on, texts_for
from gateway.services.privacy import e164
from gateway.web.context import rules_in_force
from gateway.web.pages.contacts import render_contact
from gateway.web.pages.frame import PageTable, View

pages = PageTable()

OUTCOME_STATUS = {"valid": 200, "linked": 200, "already_linked": 200, "used": 410,
                  "expired": 410, "unknown": 404}
OUTCOME_TEXT = {"valid": "page_intro", "linked": "page_linked", "already_linked": "page_already",
                "used": "page_used", "expired": "page_expired", "unknown": "page_unknown"}


def _contact(view: View) -> str:
    return e164(view.request.match_info["msisdn"])


def _back(view: View, msisdn: str, done: str) -> web.Response:
    return view.redirect(f"/contacts/{quote(msisdn, safe='+')}", person=done)


async def _refused(view: View, msisdn: str, form: str, err: ServiceError) -> web.Response:
    if err.field is None:
        raise err
    kept = {"form": form, "field": err.field, "message": err.message,
            **{name: view.field(name) for name in ("other", "reason", "claimed", "link")}}
    return await render_contact(view, msisdn, status=err.status, person_form=kept)


@pages.post("/contacts/{msisdn}/person/merge", name="page.contact.merge")
async def merge(view: View) -> web.StreamResponse:
    msisdn = _contact(view)
    try:
        await persons.merge(view.context.pool, view.user, client=view.client, address=msisdn,
                            other_raw=view.field("other"), reason=view.field("reason"),
                            confirmed=view.field("confirm") == "yes",
                            now=view.context.clock())
    except ServiceError as err:
        return await _refused(view, msisdn, "merge", err)
    return _back(view, msisdn, "merged")


@pages.post("/contacts/{msisdn}/person/links/{link_id}/undo", name="page.contact.unmerge")
async def unmerge(view: View) -> web.StreamResponse:
    msisdn = _contact(view)
    try:
        await persons.unmerge(view.context.pool, view.user, client=view.client,
                              address=msisdn, link_id=int(view.request.match_info["link_id"]),
                              reason=view.field("reason"), now=view.context.clock())
    except ServiceError as err:
        return await _refused(view, msisdn, "unmerge", err)
    return _back(view, msisdn, "unmerged")


@pages.post("/contacts/{msisdn}/person/link", name="page.contact.send_link")
async def send_link(view: View) -> web.StreamResponse:
    msisdn = _contact(view)
    settings = view.context.settings
    rules = rules_in_force(view.context)
    try:
        await persons.send_link(
            view.context.pool, settings, view.user, client=view.client, address=msisdn,
            other_raw=view.field("claimed"), language=language_on(rules, settings.shortcode),
            program=program_name_on(rules, settings.shortcode), now=view.context.clock())
    except ServiceError as err:
        return await _refused(view, msisdn, "link", err)
    return _back(view, msisdn, "link_sent")


@pages.get("/link/{token}", name="page.person_link")
async def link_page(view: View) -> web.StreamResponse:
    async with view.context.pool.acquire() as conn:
        state = await persons.peek(conn, view.request.match_info["token"],
                                   now=view.context.clock())
    return _link_page(view, state)


@pages.post("/link/{token}", name="page.person_link.confirm")
async def link_confirm(view: View) -> web.StreamResponse:
    async with view.context.pool.acquire() as conn:
        state = await persons.confirm(conn, view.request.match_info["token"],
                                      now=view.context.clock())
    return _link_page(view, state)


def _link_page(view: View, state: TokenState) -> web.Response:
    settings = view.context.settings
    texts = texts_for(settings, state.language)
    values = {"program": program_name_on(rules_in_force(view.context), settings.shortcode),
              "known": state.known, "claimed": state.claimed, "url": "",
              "hours": f"{settings.persons_link_hours:g}"}
    shown = {key: texts.render(key, **values) for key in texts.texts}
    return view.render("person_link.html", status=OUTCOME_STATUS[state.outcome],
                       title=shown["page_title"], state=state, texts=shown,
                       message=shown[OUTCOME_TEXT[state.outcome]],
                       language=state.language, action=view.request.path)
