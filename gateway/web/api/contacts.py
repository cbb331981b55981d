"""Contacts and the consent ledger: search, profile, timeline, consent history.

Why viewing a profile is audited: profile answers and program membership
can reveal political opinion (compliance rule 27), so who looked at whom is a
row someone can query. A search result shows numbers and profiles too, so
it is audited with its filter; so are a contact's consent records and the
consent ledger (who joined which program, and when, is the same kind of
fact). The timeline goes out through `fences.fenced_timeline`: an organizer
sees the history without the donor's name and address (services/fences.py).

Numbers in paths and filters are normalized to E.164 here, at the edge,
like everywhere else (`gateway.phone`): `/contacts/2025550123` and
`/contacts/+12025550123` are the same contact. A contact is a number on any
short code (the second program's supporters too): search, profile, timeline,
consent and the ledger read every short code unless one is asked for.

An e-mail address is a contact too (one that wrote by mail or the form,
asked to join a list, or was verified to be a person's):
`/contacts/email/{address}` and its timeline and consent, audited the same
way; the search finds addresses when `q` is part of one
(services/contacts.py says how a search box is read).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from gateway.services import audit, persons
from gateway.services import contacts as contact_service
from gateway.services.contact_donations import donations_of
from gateway.services.conversations import conversations
from gateway.services.fences import fenced_timeline
from gateway.store import consent, lookups
from gateway.web.body import Strict
from gateway.web.context import rules_in_force
from gateway.web.registry import Call, RouteTable

routes = RouteTable("contacts")


class ContactSearch(Strict):
    q: str | None = Field(None, max_length=254,
                          description="a number, +digits it starts with, or digits it holds; "
                                      "or an e-mail address, or part of one")
    name: str | None = Field(None, max_length=100,
                             description="some letters of a profile name (first_name...)")
    zip: str | None = Field(None, max_length=10, description="the zip or postal code's start")
    keyword: str | None = Field(None, max_length=64,
                                description="an opt-in keyword of keywords.yaml they joined by")
    program: str | None = Field(None, max_length=64, description="a keywords.yaml program id")
    status: Literal["subscribed", "pending", "opted_out", "never"] | None = Field(
        None, description="to `program` (or any program): never = never joined")
    field: str | None = Field(None, max_length=64, pattern=r"^[A-Za-z0-9_]+$",
                              description="a profile field, e.g. zip (with value)")
    value: str | None = Field(None, max_length=200)
    shortcode: str | None = Field(None, max_length=16,
                                  description="one short code only (default: every one)")
    tag: str | None = Field(None, max_length=40, description="numbers carrying this tag")
    after: str | None = Field(None, max_length=254,
                              description="the page's last number (or address): next_after")
    limit: int = Field(50, ge=1, le=500)

    @model_validator(mode="after")
    def _field_and_value(self) -> ContactSearch:
        if (self.field is None) != (self.value is None):
            raise ValueError("give field and value together")
        return self


class ConsentQuery(Strict):
    kind: Literal["opt_in_requested", "opt_in_confirmed", "opted_out", "resubscribed"] | None \
        = None
    msisdn: str | None = Field(None, max_length=32)
    shortcode: str | None = Field(None, max_length=16)
    before_id: int | None = Field(None, ge=1)
    limit: int = Field(100, ge=1, le=1000)


def e164(call: Call, raw: str, *, field: str) -> str:
    return contact_service.contact_number(raw, call.context.settings.default_region,
                                          field=field)


@routes.get("/api/v1/contacts", name="contacts.search", query=ContactSearch,
            summary="Find contacts on every short code by number (or its digits), name, zip, "
                    "keyword, program and status, a profile field; or by e-mail address",
            description="`q` with a letter or an '@' searches e-mail addresses containing "
                        "it, else numbers. Numbers come in `contacts`, one per number over "
                        "every short code it is on (`shortcodes`, `programs`); addresses in "
                        "`emails` (each with first_seen, last_seen, via: email, form, "
                        "question, list, person; and its person's numbers); `searched` says "
                        "which. A program, keyword or status not in the keywords file in "
                        "force is refused naming the field (services/contact_filters.py).")
async def search(call: Call) -> dict[str, Any]:
    query = call.query_as(ContactSearch)
    asked = contact_service.ContactSearch(
        shortcode=query.shortcode, q=query.q, field=query.field, value=query.value,
        after=query.after, limit=query.limit, name=query.name, zip=query.zip,
        keyword=query.keyword, program=query.program, status=query.status, tag=query.tag)
    async with call.pool.acquire() as conn:
        found = await contact_service.search(conn, call.principal, asked,
                                             rules=rules_in_force(call.context),
                                             region=call.context.settings.default_region,
                                             client=call.client)
    return {"searched": found.searched, "contacts": found.contacts, "emails": found.emails,
            "next_after": found.next_after}


def _number(call: Call) -> str:
    return e164(call, call.path_str("msisdn"), field="msisdn")


@routes.get("/api/v1/contacts/{msisdn}", name="contacts.profile",
            summary="A contact on every short code it is on: opt-out, programs, profile "
                    "answers, location; `by_shortcode` has each code's own")
async def profile(call: Call) -> dict[str, Any]:
    msisdn = _number(call)
    async with call.pool.acquire() as conn:
        found = await contact_service.existing_contact(conn, msisdn)
        await contact_service.viewed(conn, call.principal, msisdn, client=call.client,
                                     view="profile")
    return found.as_json()


@routes.get("/api/v1/contacts/{msisdn}/timeline", name="contacts.timeline",
            summary="The person's history on every channel and short code, oldest first: "
                    "MOs, MTs (with delivery status), engine events, calls, e-mail in and "
                    "out; and the same rows grouped in `conversations`, newest first")
async def contact_timeline(call: Call) -> dict[str, Any]:
    msisdn = _number(call)
    async with call.pool.acquire() as conn:
        await contact_service.existing_contact(conn, msisdn)
        items = fenced_timeline(call.user, await contact_service.history(conn, msisdn))
        await contact_service.viewed(conn, call.principal, msisdn, client=call.client,
                                     view="timeline")
    return {"msisdn": msisdn, "timeline": items,
            "conversations": [c.as_json() for c in conversations(items)]}


@routes.get("/api/v1/contacts/{msisdn}/consent", name="contacts.consent",
            summary="The contact's consent records on every short code, with each "
                    "confirmation's receipt")
async def contact_consent(call: Call) -> dict[str, Any]:
    msisdn = _number(call)
    async with call.pool.acquire() as conn:
        rows = await consent.list_for_number(conn, msisdn)
        await contact_service.viewed(conn, call.principal, msisdn, client=call.client,
                                     view="consent")
    return {"msisdn": msisdn, "consent": [dict(r) for r in rows]}


@routes.get("/api/v1/contacts/{msisdn}/donations", name="contacts.donations",
            summary="The contact's gifts with their receipts (the thank-you text, the card "
                    "payment); `donor_details` only for admins and finance staff")
async def contact_donations(call: Call) -> dict[str, Any]:
    msisdn = _number(call)
    async with call.pool.acquire() as conn:
        found = await donations_of(conn, call.user, msisdn, client=call.client)
    return {"msisdn": msisdn, **found.as_json()}


@routes.get("/api/v1/consent", name="consent.list", query=ConsentQuery,
            summary="The consent ledger, newest first (page with before_id)")
async def consent_list(call: Call) -> dict[str, Any]:
    query = call.query_as(ConsentQuery)
    msisdn = e164(call, query.msisdn, field="msisdn") if query.msisdn else None
    async with call.pool.acquire() as conn:
        rows = await lookups.list_consent(
            conn, shortcode=query.shortcode, kind=query.kind, msisdn=msisdn,
            before_id=query.before_id, limit=query.limit)
        await call.audit(conn, audit.CONTACT_VIEWED, f"contact:{msisdn}" if msisdn else None,
                         view="consent_ledger", results=len(rows), search=query.model_dump(
                             mode="json", exclude_none=True, exclude={"limit"}))
    found = [dict(r) for r in rows]
    return {"consent": found,
            "next_before_id": found[-1]["id"] if len(found) == query.limit else None}


def _email(call: Call) -> str:
    return contact_service.contact_email(call.path_str("address"))


@routes.get("/api/v1/contacts/email/{address}", name="contacts.email.profile",
            summary="An e-mail contact: when and how we know the address, its person")
async def email_profile(call: Call) -> dict[str, Any]:
    address = _email(call)
    async with call.pool.acquire() as conn:
        found = await contact_service.existing_email(conn, address)
        person = await persons.person(conn, address)
        await contact_service.viewed(conn, call.principal, address, client=call.client,
                                     view="profile")
    return {**found, "person": person_json(person)}


@routes.get("/api/v1/contacts/email/{address}/timeline", name="contacts.email.timeline",
            summary="The address's person's history on every channel, oldest first: e-mail "
                    "in and out, form posts, written questions asked, answered and replied "
                    "to, and the SMS of its linked numbers")
async def email_timeline(call: Call) -> dict[str, Any]:
    address = _email(call)
    async with call.pool.acquire() as conn:
        await contact_service.existing_email(conn, address)
        items = await contact_service.history(conn, address)
        await contact_service.viewed(conn, call.principal, address, client=call.client,
                                     view="timeline")
    return {"address": address, "timeline": fenced_timeline(call.user, items)}


@routes.get("/api/v1/contacts/email/{address}/consent", name="contacts.email.consent",
            summary="The address's e-mail consent: each list's state and every ledger step")
async def email_consent(call: Call) -> dict[str, Any]:
    address = _email(call)
    async with call.pool.acquire() as conn:
        await contact_service.existing_email(conn, address)
        consent_now = await contact_service.email_consent(conn, address)
        await contact_service.viewed(conn, call.principal, address, client=call.client,
                                     view="consent")
    return {"address": address, **consent_now}


def person_json(person: persons.Person | None) -> dict[str, Any] | None:
    """The person's verified addresses and active links (how each was verified)."""
    if person is None:
        return None
    return {"id": person.id,
            "addresses": [{"address": a.address, "channel": a.channel, "added_at": a.added_at}
                          for a in person.addresses],
            "links": [{"id": k.id, "addresses": [k.address_a, k.address_b], "method": k.method,
                       "linked_by": k.linked_by, "reason": k.reason, "linked_at": k.linked_at}
                      for k in person.links if k.active]}
