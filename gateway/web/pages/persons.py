"""One person, many addresses: the contact page's person forms, and the public link page.

Staff (admins and organizers, as for every change to a contact) merge the
contact with another address, undo a wrong link, or send the citizen a
confirmation link; the rules and the audit entries are in
gateway/services/persons/. A refused form comes back on the contact page
with the reason beside the field and what was typed kept. The same three
forms work from a number's page (`/contacts/{msisdn}/person/...`) and from
an e-mail address's (`/contacts/email/{address}/person/...`).

The link page is public: the token in the path is the credential. GET shows
what would be linked and a button, and changes nothing (mail scanners open
links); only the button's POST confirms. It speaks the link's language.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from gateway.services import persons
from gateway.services.contacts import contact_email
from gateway.services.errors import ServiceError
from gateway.services.persons.link_tokens import TokenState
from gateway.services.persons.texts import language_on, program_name_on, texts_for
from gateway.services.privacy import e164
from gateway.web.context import rules_in_force
from gateway.web.pages.contacts import contact_path, render_contact, render_email_contact
from gateway.web.pages.frame import PageTable, View

pages = PageTable()

OUTCOME_STATUS = {"valid": 200, "linked": 200, "already_linked": 200, "used": 410,
                  "expired": 410, "unknown": 404}
OUTCOME_TEXT = {"valid": "page_intro", "linked": "page_linked", "already_linked": "page_already",
                "used": "page_used", "expired": "page_expired", "unknown": "page_unknown"}


Render = Callable[..., Awaitable[web.Response]]  # render_contact or render_email_contact


def _number(view: View) -> tuple[str, Render]:
    return e164(view.request.match_info["msisdn"]), render_contact


def _email(view: View) -> tuple[str, Render]:
    return contact_email(view.request.match_info["address"]), render_email_contact


def _back(view: View, address: str, done: str) -> web.Response:
    return view.redirect(contact_path(address), person=done)


async def _refused(view: View, address: str, render: Render, form: str,
                   err: ServiceError) -> web.Response:
    if err.field is None:
        raise err
    kept = {"form": form, "field": err.field, "message": err.message,
            **{name: view.field(name) for name in ("other", "reason", "claimed", "link")}}
    return await render(view, address, status=err.status, person_form=kept)


async def _merge(view: View, address: str, render: Render) -> web.Response:
    try:
        await persons.merge(view.context.pool, view.user, client=view.client, address=address,
                            other_raw=view.field("other"), reason=view.field("reason"),
                            confirmed=view.field("confirm") == "yes",
                            now=view.context.clock())
    except ServiceError as err:
        return await _refused(view, address, render, "merge", err)
    return _back(view, address, "merged")


async def _unmerge(view: View, address: str, render: Render) -> web.Response:
    try:
        await persons.unmerge(view.context.pool, view.user, client=view.client,
                              address=address, link_id=int(view.request.match_info["link_id"]),
                              reason=view.field("reason"), now=view.context.clock())
    except ServiceError as err:
        return await _refused(view, address, render, "unmerge", err)
    return _back(view, address, "unmerged")


async def _send_link(view: View, address: str, render: Render) -> web.Response:
    settings = view.context.settings
    rules = rules_in_force(view.context)
    try:
        await persons.send_link(
            view.context.pool, settings, view.user, client=view.client, address=address,
            other_raw=view.field("claimed"), language=language_on(rules, settings.shortcode),
            program=program_name_on(rules, settings.shortcode), now=view.context.clock())
    except ServiceError as err:
        return await _refused(view, address, render, "link", err)
    return _back(view, address, "link_sent")


@pages.post("/contacts/{msisdn}/person/merge", name="page.contact.merge")
async def merge(view: View) -> web.StreamResponse:
    return await _merge(view, *_number(view))


@pages.post("/contacts/{msisdn}/person/links/{link_id}/undo", name="page.contact.unmerge")
async def unmerge(view: View) -> web.StreamResponse:
    return await _unmerge(view, *_number(view))


@pages.post("/contacts/{msisdn}/person/link", name="page.contact.send_link")
async def send_link(view: View) -> web.StreamResponse:
    return await _send_link(view, *_number(view))


@pages.post("/contacts/email/{address}/person/merge", name="page.contact_email.merge")
async def email_merge(view: View) -> web.StreamResponse:
    return await _merge(view, *_email(view))


@pages.post("/contacts/email/{address}/person/links/{link_id}/undo",
            name="page.contact_email.unmerge")
async def email_unmerge(view: View) -> web.StreamResponse:
    return await _unmerge(view, *_email(view))


@pages.post("/contacts/email/{address}/person/link", name="page.contact_email.send_link")
async def email_send_link(view: View) -> web.StreamResponse:
    return await _send_link(view, *_email(view))


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
