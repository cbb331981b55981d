"""Finding contacts and reading one, the same for the API and the pages, audited.

Why a service: the contacts page and `GET /api/v1/contacts` each parsed the
search box their own way (two patterns, two error texts) and each wrote its
own audit row. Viewing a contact's profile, timeline or consent records can
reveal political opinion (compliance rule 27), so one function decides what
a search means and records who looked, whatever the door.

A contact is a number on any short code the gateway serves (one contact for
a number on two codes: `existing_contact` reads every code's row, the search
lists the number once) or an e-mail address that wrote to us (by mail or the
form), asked to join a list, or was verified to be a person's
(store/email_contacts.py). The other fields of a search (name, zip, keyword,
program, status) are services/contact_filters.py's. The search box takes either: digits
(with the usual separators) search numbers; text with a letter or an '@'
searches addresses containing it. Numbers are normalized to E.164 here
(`/contacts/2025550123` and `/contacts/+12025550123` are the same contact),
addresses to gateway/email_address.py's form.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Final, Literal

import asyncpg

from gateway.email_address import MAX_ADDRESS_LENGTH, EmailAddressError, normalize_email
from gateway.engine import Rules
from gateway.phone import InvalidNumber, to_e164
from gateway.plain_words import N_, reason, said
from gateway.services import audit, persons
from gateway.services.actor import Identity
from gateway.services.contact_filters import Asked, contact_filter, search_choices
from gateway.services.errors import invalid, not_found
from gateway.store import address_consent, calls, contacts, email_contacts, lookups, timeline

DIGITS: Final = re.compile(r"^\+?[0-9]{1,15}$")
SEPARATORS: Final = re.compile(r"[\s().-]")
FIELD_NAME: Final = re.compile(r"^[A-Za-z0-9_]{1,64}$")
# the characters an address is written with (RFC 5322 atext, '.' and '@'), one at least a
# letter or the '@': "75011" is digits of a number, "jean75" part of an address
ADDRESS_PART: Final = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~@-]+$")
# Refusals the contacts page shows beside the field, translated there (N_: the catalog's keys)
SEARCH_HINT: Final = N_("Search by a phone number or some of its digits, or by an e-mail "
                        "address or part of one.")
NO_PROFILE: Final = N_("Name, zip, keyword, program, status and profile answers filter "
                       "numbers: an e-mail address has none. Search by the address alone.")


def number_filter(raw: str, region: str) -> dict[str, str]:
    """A whole number: its E.164 form. `+331...`: numbers starting so. Digits: anywhere."""
    text = SEPARATORS.sub("", raw)
    try:
        return {"number_prefix": to_e164(text, default_region=region)}
    except InvalidNumber:
        pass
    if not DIGITS.match(text):
        raise invalid(SEARCH_HINT, field="q")
    return {"number_prefix": text} if text.startswith("+") else {"number_digits": text}


def address_part(raw: str) -> str | None:
    """The typed text as part of an e-mail address (lower case), or None when it is not
    one (digits are a number's; a space or a bracket belongs to no address)."""
    text = raw.strip()
    if len(text) > MAX_ADDRESS_LENGTH or not ADDRESS_PART.match(text):
        return None
    if "@" not in text and not any(char.isalpha() for char in text):
        return None
    return text.lower()


def contact_email(raw: str, *, field: str = "address") -> str:
    """A contact's e-mail address from a path, in its compared form, or a 400 naming `field`."""
    try:
        return normalize_email(raw)
    except EmailAddressError as err:
        raise invalid(said(N_("%(field)s: %(err)s"), field=field, err=err), field=field) from None


def contact_number(raw: str, region: str, *, field: str = "msisdn") -> str:
    """A contact's number from a path or a filter, in E.164, or a refusal naming `field`."""
    try:
        return to_e164(raw, default_region=region)
    except InvalidNumber as err:
        raise invalid(reason(err), field=field) from None


@dataclass(frozen=True, slots=True)
class ContactSearch:
    """What a search asks: a number (or digits of one) or an e-mail address (or part of
    one) in `q`; for numbers also a name, zip, keyword, program and status
    (services/contact_filters.py), a profile field with its value, a short code (None:
    every short code)."""

    shortcode: str | None = None
    q: str | None = None
    field: str | None = None
    value: str | None = None
    after: str | None = None
    limit: int = 50
    name: str | None = None
    zip: str | None = None
    keyword: str | None = None
    program: str | None = None
    status: str | None = None
    tag: str | None = None

    def asked(self) -> dict[str, str]:
        """The filters given, for the audit row and the next page's link."""
        return {k: v for k in ("q", "name", "zip", "keyword", "program", "status", "field",
                               "value", "shortcode", "tag") if (v := getattr(self, k))}


@dataclass(frozen=True, slots=True)
class Found:
    """A search's page: numbers (`contacts`) or e-mail addresses (`emails`), as `searched`
    says, never both; `next_after` is the next page's `after`, when there may be one."""

    searched: Literal["numbers", "emails"]
    contacts: list[dict[str, Any]]
    emails: list[dict[str, Any]]
    next_after: str | None


NUMBER_ONLY: Final = ("field", "name", "zip", "keyword", "program", "status")


async def search(conn: asyncpg.Connection, viewer: Identity | None, query: ContactSearch, *,
                 rules: Rules, region: str, client: str | None, **detail: Any) -> Found:
    """The matching contacts, one per number over every short code (programs and profile
    decoded), or addresses; the search is audited."""
    if query.field and not FIELD_NAME.match(query.field):
        raise invalid(N_("A profile field is letters, digits and _ (e.g. zip)."), field="field")
    if bool(query.field) != bool(query.value):
        raise invalid(N_("Give a profile field and its value together."), field="value")
    part = address_part(query.q) if query.q else None
    if part is not None:
        given = next((k for k in NUMBER_ONLY if getattr(query, k)), None)
        if given is not None:
            raise invalid(NO_PROFILE, field=given)
    numbers: list[asyncpg.Record] = []
    emails: list[asyncpg.Record] = []
    if part is not None:
        emails = await email_contacts.search(conn, part, after=query.after or None,
                                             limit=query.limit)
    else:
        where = contact_filter(
            Asked(name=query.name, zip=query.zip, keyword=query.keyword,
                  program=query.program, status=query.status, tag=query.tag),
            search_choices(rules), shortcodes=[query.shortcode] if query.shortcode else None,
            number=number_filter(query.q, region) if query.q else {},
            field=query.field or None, value=query.value or None)
        numbers = await lookups.search_contacts(conn, where, after=query.after or None,
                                                limit=query.limit)
    await audit.record(conn, viewer, audit.CONTACT_VIEWED, None, client=client,
                       search=query.asked(), results=len(numbers) + len(emails), **detail)
    page = [r["address"] for r in emails] or [r["msisdn"] for r in numbers]
    return Found(
        searched="emails" if part is not None else "numbers",
        contacts=[{**dict(r), "shortcodes": list(r["shortcodes"]),
                   "programs": json.loads(r["programs"]) if r["programs"] else {},
                   "profile": json.loads(r["profile"]) if r["profile"] else {}}
                  for r in numbers],
        emails=[{**dict(r), "via": list(r["via"]), "numbers": list(r["numbers"])}
                for r in emails],
        next_after=page[-1] if len(page) == query.limit else None)


@dataclass(frozen=True, slots=True)
class NumberContact:
    """A number as one contact over every short code it is on: each code's opt-out and
    programs (`codes`), and the programs, profile and location of all of them together
    (a later-updated code's answer wins)."""

    msisdn: str
    codes: list[dict[str, Any]]
    programs: dict[str, dict[str, Any]]
    profile: dict[str, Any]
    location: dict[str, Any] | None
    opted_out: bool
    created_at: Any
    updated_at: Any

    def as_json(self) -> dict[str, Any]:
        return {"msisdn": self.msisdn, "shortcodes": [c["shortcode"] for c in self.codes],
                "opted_out": self.opted_out, "programs": self.programs,
                "profile": self.profile, "location": self.location,
                "by_shortcode": self.codes, "created_at": self.created_at,
                "updated_at": self.updated_at}


async def existing_contact(conn: asyncpg.Connection, msisdn: str) -> NumberContact:
    """The number on every short code it is on, or a 404 refusal naming the number. A
    number that only called the voice line is a contact on no short code (no programs,
    nothing opted out): its calls are its history."""
    rows = await contacts.list_number(conn, msisdn)
    if not rows:
        return await _caller_only(conn, msisdn)
    codes = []
    programs: dict[str, dict[str, Any]] = {}
    profile: dict[str, Any] = {}
    for row in sorted(rows, key=lambda r: r["updated_at"]):
        state: dict[str, Any] = json.loads(row["state"])
        subs = state.get("subs") or {}
        programs.update(subs)
        profile.update(state.get("profile") or {})
        codes.append({"shortcode": row["shortcode"], "opted_out": row["opted_out"],
                      "programs": subs, "created_at": row["created_at"]})
    located = [r for r in sorted(rows, key=lambda r: r["updated_at"], reverse=True)
               if r["zip"] or r["region"] or r["country"]]
    location = None
    if located:
        best = located[0]
        location = {"zip": best["zip"], "region": best["region"], "country": best["country"],
                    "timezones": list(best["timezones"] or []),
                    "geo_source": best["geo_source"]}
    return NumberContact(
        msisdn=msisdn, codes=sorted(codes, key=lambda c: c["shortcode"]), programs=programs,
        profile=profile, location=location, opted_out=all(r["opted_out"] for r in rows),
        created_at=min(r["created_at"] for r in rows),
        updated_at=max(r["updated_at"] for r in rows))


async def existing_email(conn: asyncpg.Connection, address: str) -> dict[str, Any]:
    """The address's summary (first and last seen, how, its person's numbers), or a 404
    naming it: an address no one wrote from, asked for or linked is no contact."""
    row = await email_contacts.get(conn, address)
    if row is None:
        raise not_found(said(N_("contact %(address)s"), address=address))
    return {**dict(row), "via": list(row["via"]), "numbers": list(row["numbers"])}


async def email_consent(conn: asyncpg.Connection, address: str) -> dict[str, Any]:
    """The address's e-mail consent: its state per list now, and every ledger step with
    what became of its confirmation mail (the subscribers page reads the same)."""
    states = await address_consent.subscriptions_of(conn, address)
    steps = await address_consent.history(conn, address)
    return {"subscriptions": [{"program": s.program, "state": s.state, "since": s.since}
                              for s in states],
            "history": [dict(r) for r in steps]}


async def viewed(conn: asyncpg.Connection, viewer: Identity | None, address: str, *,
                 client: str | None, view: str) -> None:
    """Record that `viewer` looked at one contact's `view` (profile, timeline, consent...);
    `address` is its number or its e-mail address."""
    await audit.record(conn, viewer, audit.CONTACT_VIEWED, f"contact:{address}", client=client,
                       view=view)


async def person_addresses(conn: asyncpg.Connection, address: str) -> list[str]:
    """Every verified address of the address's person (only itself when it has none)."""
    person = await persons.person(conn, address)
    return [a.address for a in person.addresses] if person else [address]


async def history(conn: asyncpg.Connection, address: str,
                  addresses: list[str] | None = None) -> list[dict[str, Any]]:
    """The whole person's history, every channel and short code, oldest first: what page
    and API show. `address` is a number or an e-mail address; `addresses` its person's,
    when known."""
    found = addresses if addresses is not None else await person_addresses(conn, address)
    return await timeline.person_timeline(
        conn, [a for a in found if "@" not in a], None, [a for a in found if "@" in a])


async def _caller_only(conn: asyncpg.Connection, msisdn: str) -> NumberContact:
    """A number with calls and no SMS contact row, or the 404 naming the number."""
    span = await calls.caller_span(conn, msisdn)
    if span is None:
        raise not_found(said(N_("contact %(msisdn)s"), msisdn=msisdn))
    return NumberContact(msisdn=msisdn, codes=[], programs={}, profile={}, location=None,
                         opted_out=False, created_at=span["first_at"],
                         updated_at=span["last_at"])
