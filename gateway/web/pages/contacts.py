"""Contacts: the list with its filters, and one contact's profile, consent and timeline.

A contact is a number on the short code (`/contacts/{msisdn}`) or an e-mail
address that wrote, asked to join a list or was linked to a person
(`/contacts/email/{address}`); the search box finds both
(services/contacts.py). The e-mail page shows the same person box and
timeline as a number's, and the address's e-mail consent in plain words.

The page shows the contact's whole person (services/persons/): every verified
address with how it was verified, and one history of all of them (SMS, e-mail
in and out) in time order; the forms that change the person are in
pages/persons.py. Viewing is audited exactly like the API (`contact.viewed`, compliance rule 27):
profile answers and program membership can reveal political opinion, so
who looked at a list or at a person is a row someone can query. Numbers
are normalized to E.164 at this edge, like everywhere else. The timeline is
shown through `fences.fenced_timeline`, exactly as the API returns it.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from aiohttp import web

from gateway.services import contacts as contact_service
from gateway.services import persons
from gateway.services.contacts import ContactSearch
from gateway.services.fences import fenced_timeline
from gateway.store import consent, contacts
from gateway.store import persons as person_store
from gateway.web.pages.frame import PageTable, View

pages = PageTable()

PAGE_SIZE = 50


@pages.get("/contacts", name="page.contacts")
async def contact_list(view: View) -> web.StreamResponse:
    settings = view.context.settings
    q, field, value, after = (view.query(k) for k in ("q", "field", "value", "after"))
    query = ContactSearch(shortcode=settings.shortcode, q=q, field=field, value=value,
                          after=after, limit=PAGE_SIZE)
    async with view.context.pool.acquire() as conn:
        found = await contact_service.search(conn, view.user, query,
                                             region=settings.default_region,
                                             client=view.client, view="page")
    more = {"q": q, "field": field, "value": value, "after": found.next_after} \
        if found.next_after else None
    return view.render("contacts.html", title="Contacts", searched=found.searched,
                       contacts=found.contacts, emails=found.emails, q=q, field=field,
                       value=value, more=more)


def contact_path(address: str) -> str:
    """The contact page of a number or an e-mail address (as the templates link to it)."""
    if "@" in address:
        return "/contacts/email/" + quote(address, safe="+")
    return "/contacts/" + quote(address, safe="+")


@pages.get("/contacts/email/{address}", name="page.contact_email")
async def email_contact_page(view: View) -> web.StreamResponse:
    address = contact_service.contact_email(view.request.match_info["address"])
    return await render_email_contact(view, address)


async def render_email_contact(view: View, address: str, *, status: int = 200,
                               person_form: dict[str, str] | None = None) -> web.Response:
    """An e-mail address's page; `person_form` keeps a refused person form (pages/persons.py)."""
    settings = view.context.settings
    async with view.context.pool.acquire() as conn:
        found = await contact_service.existing_email(conn, address)
        consent_now = await contact_service.email_consent(conn, address)
        person = await persons.person(conn, address)
        addresses = [a.address for a in person.addresses] if person else [address]
        items = await contact_service.history(conn, address, settings.shortcode, addresses)
        links_sent = await person_store.recent_tokens(conn, addresses)
        await contact_service.viewed(conn, view.user, address, client=view.client, view="page")
    return view.render(
        "contact_email.html", status=status, title=f"Contact {address}", address=address,
        contact_path=contact_path(address), found=found,
        states=consent_now["subscriptions"], history=consent_now["history"],
        timeline=fenced_timeline(view.user, items),
        person=person, links_sent=[dict(r) for r in links_sent],  # pages/persons.py
        person_form=person_form or {}, person_done=view.query("person"),
        now=view.context.clock())


@pages.get("/contacts/{msisdn}", name="page.contact")
async def contact_page(view: View) -> web.StreamResponse:
    settings = view.context.settings
    msisdn = contact_service.contact_number(view.request.match_info["msisdn"],
                                            settings.default_region)
    return await render_contact(view, msisdn)


async def render_contact(view: View, msisdn: str, *, status: int = 200,
                         person_form: dict[str, str] | None = None) -> web.Response:
    """The contact page; `person_form` keeps a refused person form (pages/persons.py)."""
    settings = view.context.settings
    async with view.context.pool.acquire() as conn:
        row = await contact_service.existing_contact(conn, msisdn, settings.shortcode)
        geo = await contacts.get_geo(conn, msisdn, settings.shortcode)
        consents = await consent.list_for_contact(conn, msisdn, settings.shortcode)
        person = await persons.person(conn, msisdn)
        addresses = [a.address for a in person.addresses] if person else [msisdn]
        items = await contact_service.history(conn, msisdn, settings.shortcode, addresses)
        links_sent = await person_store.recent_tokens(conn, addresses)
        await contact_service.viewed(conn, view.user, msisdn, client=view.client, view="page")
    state: dict[str, Any] = json.loads(row["state"])
    return view.render(
        "contact.html", status=status, title=f"Contact {msisdn}", msisdn=msisdn,
        address=msisdn, contact_path=contact_path(msisdn),
        opted_out=row["opted_out"],
        programs=state.get("subs", {}), profile=state.get("profile", {}),
        location=dict(geo) if geo else None, consents=[dict(c) for c in consents],
        timeline=fenced_timeline(view.user, items), created_at=row["created_at"],
        erase_refused=view.query("erase") == "mismatch",  # privacy box (pages/privacy.py)
        person=person, links_sent=[dict(r) for r in links_sent],  # pages/persons.py
        person_form=person_form or {}, person_done=view.query("person"),
        now=view.context.clock())
