"""E-mail subscribers: who is on each program's list, and one address's consent history.

Why a page of its own beside the contacts: an e-mail address is not a
contact (contacts are phone numbers on a short code) until a person links
them (services/persons), and organizers must be able to answer "why did
this person get our newsletter?" from the ledger, in plain words. Reading
either page is audited like a contact (`contact.viewed`, compliance rule
27): list membership can reveal a political opinion.
"""

from __future__ import annotations

from aiohttp import web

from gateway.email_address import EmailAddressError, normalize_email
from gateway.plain_words import N_, reason, said
from gateway.services import audit
from gateway.store import address_consent
from gateway.web.errors import bad_request, not_found
from gateway.web.pages.frame import PageTable, View

pages = PageTable()

PAGE_SIZE = 100
STATES = ("subscribed", "pending", "unsubscribed")


async def _first_with_addresses(view: View, programs: list[str]) -> str:
    """With no program asked: the first whose list has anyone on it, else the first."""
    async with view.context.pool.acquire() as conn:
        for program in programs:
            if any((await address_consent.count_by_state(conn, program)).values()):
                return program
    return programs[0] if programs else ""


@pages.get("/subscribers", name="page.subscribers")
async def subscriber_list(view: View) -> web.StreamResponse:
    programs = view.site.programs() if view.site.programs else []
    program = view.query("program") or await _first_with_addresses(view, programs)
    state = view.query("state")
    after = view.query("after")
    if program and program not in programs:
        raise bad_request(view.viewer.gettext("No program %(program)s in the keywords file.",
                                              program=repr(program)), field="program")
    if state and state not in STATES:
        raise bad_request(view.viewer.gettext("A state is one of %(states)s.",
                                              states=", ".join(STATES)), field="state")
    async with view.context.pool.acquire() as conn:
        rows = await address_consent.list_subscribers(
            conn, program, state=state or None, after=after or None, limit=PAGE_SIZE)
        counts = await address_consent.count_by_state(conn, program)
        await audit.record(conn, view.user, audit.CONTACT_VIEWED, None, client=view.client,
                           view="email_subscribers", search={"program": program,
                                                             "state": state},
                           results=len(rows))
    more = {"program": program, "state": state, "after": rows[-1]["address"]} \
        if len(rows) == PAGE_SIZE else None
    return view.render("subscribers.html", title=N_("E-mail subscribers"), programs=programs,
                       program=program, state=state, states=STATES, counts=counts,
                       subscribers=[dict(r) for r in rows], more=more)


@pages.get("/subscribers/{address}", name="page.subscriber")
async def subscriber_page(view: View) -> web.StreamResponse:
    try:
        address = normalize_email(view.request.match_info["address"])
    except EmailAddressError as err:
        raise bad_request(reason(err), field="address") from None
    async with view.context.pool.acquire() as conn:
        history = await address_consent.history(conn, address)
        states = await address_consent.subscriptions_of(conn, address)
        if not history:
            raise not_found(said(N_("e-mail consent records of %(address)s"), address=address))
        await audit.record(conn, view.user, audit.CONTACT_VIEWED, f"email:{address}",
                           client=view.client, view="email_consent")
    return view.render("subscriber.html",
                       title=view.viewer.gettext("E-mail consent of %(address)s",
                                                 address=address),
                       address=address, states=states, history=[dict(r) for r in history])
