"""Contacts: the list with its filters, and one contact's profile, consent and timeline.

A contact is a number on any short code (`/contacts/{msisdn}`: one page for the
number over every short code it texted) or an e-mail
address that wrote, asked to join a list or was linked to a person
(`/contacts/email/{address}`); the search box finds both
(services/contacts.py). The e-mail page shows the same person box and
timeline as a number's, and the address's e-mail consent in plain words.

The page shows the contact's whole person (services/persons/): every verified
address with how it was verified, and one history of all of them (SMS, e-mail
in and out, calls) grouped into conversations (services/conversations.py says
how), newest first; its consent in plain words with the whole ledger on
`/contacts/{msisdn}/consent`, and its gifts with their receipts
(services/contact_donations.py; the donor's details only to admins and
finance, who see the gifts on `/contacts/{msisdn}/donations`). The search's
programs, keywords and statuses are choices from the keywords file in force
(services/contact_filters.py); a refused value is said beside its field,
with the search kept as typed. The forms that change the person are in
pages/persons.py. Viewing is audited exactly like the API (`contact.viewed`, compliance rule 27):
profile answers and program membership can reveal political opinion, so
who looked at a list or at a person is a row someone can query. Numbers
are normalized to E.164 at this edge, like everywhere else. The timeline is
shown through `fences.fenced_timeline`, exactly as the API returns it.
"""

from __future__ import annotations

from urllib.parse import quote

from aiohttp import web

from gateway.plain_words import N_
from gateway.services import contacts as contact_service
from gateway.services import persons
from gateway.services.contact_donations import donations_of, stripe_dashboard
from gateway.services.contact_filters import search_choices
from gateway.services.contacts import ContactSearch
from gateway.services.conversations import conversations
from gateway.services.errors import ServiceError
from gateway.services.fences import fenced_timeline
from gateway.store import consent
from gateway.store import persons as person_store
from gateway.store import tags as tag_store
from gateway.web.context import rules_in_force
from gateway.web.pages.frame import PageTable, View

pages = PageTable()

PAGE_SIZE = 50


SEARCH_KEYS = ("q", "name", "zip", "keyword", "program", "status", "field", "value", "tag")


@pages.get("/contacts", name="page.contacts")
async def contact_list(view: View) -> web.StreamResponse:
    settings = view.context.settings
    rules = rules_in_force(view.context)
    asked = {k: view.query(k) for k in SEARCH_KEYS}
    query = ContactSearch(after=view.query("after"), limit=PAGE_SIZE, **asked)
    choices = search_choices(rules)
    try:
        async with view.context.pool.acquire() as conn:
            found = await contact_service.search(conn, view.user, query, rules=rules,
                                                 region=settings.default_region,
                                                 client=view.client, view="page")
    except ServiceError as err:  # said beside its field, the search kept as typed
        return view.render("contacts.html", status=err.status, title=N_("Contacts"),
                           searched="numbers", contacts=[], emails=[], more=None,
                           asked=asked, choices=choices, first_page=None,
                           error={"field": err.field or "q",
                                  "message": view.viewer.gettext(err.message)})
    given = {k: v for k, v in asked.items() if v}
    more = {**given, "after": found.next_after} if found.next_after else None
    return view.render("contacts.html", title=N_("Contacts"), searched=found.searched,
                       contacts=found.contacts, emails=found.emails, asked=asked,
                       choices=choices, more=more, error=None,
                       first_page={**given} if view.query("after") else None)


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
    async with view.context.pool.acquire() as conn:
        found = await contact_service.existing_email(conn, address)
        consent_now = await contact_service.email_consent(conn, address)
        person = await persons.person(conn, address)
        addresses = [a.address for a in person.addresses] if person else [address]
        items = await contact_service.history(conn, address, addresses)
        links_sent = await person_store.recent_tokens(conn, addresses)
        await contact_service.viewed(conn, view.user, address, client=view.client, view="page")
    return view.render(
        "contact_email.html", status=status, address=address,
        title=view.viewer.gettext(N_("Contact %(address)s"), address=address),
        contact_path=contact_path(address), found=found,
        states=consent_now["subscriptions"], history=consent_now["history"],
        conversations=conversations(fenced_timeline(view.user, items)),
        program_names=program_names(view),
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
    async with view.context.pool.acquire() as conn:
        found = await contact_service.existing_contact(conn, msisdn)
        consents = await consent.list_for_number(conn, msisdn)
        person = await persons.person(conn, msisdn)
        addresses = [a.address for a in person.addresses] if person else [msisdn]
        items = await contact_service.history(conn, msisdn, addresses)
        links_sent = await person_store.recent_tokens(conn, addresses)
        gifts = await donations_of(conn, view.user, msisdn, client=view.client, audited=False)
        tags = await tag_store.tags_of(conn, msisdn)  # contact_tags.html (pages/segments.py)
        await contact_service.viewed(conn, view.user, msisdn, client=view.client, view="page")
    return view.render(
        "contact.html", status=status, msisdn=msisdn,
        title=view.viewer.gettext(N_("Contact %(address)s"), address=msisdn),
        address=msisdn, contact_path=contact_path(msisdn), contact=found,
        program_names=program_names(view), consents=[dict(c) for c in consents],
        conversations=conversations(fenced_timeline(view.user, items)),
        gifts=gifts.gifts, donor_details=gifts.details,
        stripe_dashboard=stripe_dashboard(view.context.settings),
        erase_refused=view.query("erase") == "mismatch",  # privacy box (pages/privacy.py)
        person=person, links_sent=[dict(r) for r in links_sent],  # pages/persons.py
        person_form=person_form or {}, person_done=view.query("person"),
        tags=tags, tagged=view.query("tagged"), tag_error=view.query("tag_error"),
        now=view.context.clock())


@pages.get("/contacts/{msisdn}/consent", name="page.contact.consent")
async def consent_ledger_page(view: View) -> web.StreamResponse:
    """Every consent step of the number (every short code) and of its person's e-mail
    addresses: who, what, when, the wording shown and its version, and the source."""
    msisdn = contact_service.contact_number(view.request.match_info["msisdn"],
                                            view.context.settings.default_region)
    async with view.context.pool.acquire() as conn:
        await contact_service.existing_contact(conn, msisdn)
        rows = await consent.list_for_number(conn, msisdn)
        emails = [a for a in await contact_service.person_addresses(conn, msisdn) if "@" in a]
        mail_steps = {a: (await contact_service.email_consent(conn, a))["history"]
                      for a in emails}
        await contact_service.viewed(conn, view.user, msisdn, client=view.client,
                                     view="consent_ledger")
    title = view.viewer.gettext(N_("Consent ledger of %(number)s"), number=msisdn)
    return view.render("contact_consent.html", title=title,
                       msisdn=msisdn, consents=[dict(r) for r in rows], mail_steps=mail_steps)


@pages.get("/contacts/{msisdn}/donations", name="page.contact.donations")
async def donations_page(view: View) -> web.StreamResponse:
    """The number's gifts and receipts; the donor's details to admins and finance only.
    Finance staff reach it without the contact page (which they may not open)."""
    msisdn = contact_service.contact_number(view.request.match_info["msisdn"],
                                            view.context.settings.default_region)
    async with view.context.pool.acquire() as conn:
        gifts = await donations_of(conn, view.user, msisdn, client=view.client)
    # no gift is an answer too ("No gift from this number."), not a missing page: finance
    # staff looking a number up learn only that it gave nothing
    return view.render("contact_donations.html", msisdn=msisdn,
                       title=view.viewer.gettext(N_("Gifts of %(number)s"), number=msisdn),
                       gifts=gifts.gifts, donor_details=gifts.details,
                       program_names=program_names(view),
                       stripe_dashboard=stripe_dashboard(view.context.settings))


def program_names(view: View) -> dict[str, str]:
    """Program id -> its name in the keywords file in force (what the page says)."""
    return dict(search_choices(rules_in_force(view.context)).program_names)
