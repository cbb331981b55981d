"""Finding contacts and reading one, the same for the API and the pages, audited.

Why a service: the contacts page and `GET /api/v1/contacts` each parsed the
search box their own way (two patterns, two error texts) and each wrote its
own audit row. Viewing a contact's profile, timeline or consent records can
reveal political opinion (compliance rule 27), so one function decides what
a search means and records who looked, whatever the door.

Numbers are normalized to E.164 here: `/contacts/2025550123` and
`/contacts/+12025550123` are the same contact.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Final

import asyncpg

from gateway.phone import InvalidNumber, to_e164
from gateway.services import audit, persons
from gateway.services.actor import Identity
from gateway.services.errors import invalid, not_found
from gateway.store import contacts, lookups, timeline

DIGITS: Final = re.compile(r"^\+?[0-9]{1,15}$")
SEPARATORS: Final = re.compile(r"[\s().-]")
FIELD_NAME: Final = re.compile(r"^[A-Za-z0-9_]{1,64}$")
NUMBER_HINT: Final = "Search by a phone number or some of its digits."


def number_filter(raw: str, region: str) -> dict[str, str]:
    """A whole number: its E.164 form. `+331...`: numbers starting so. Digits: anywhere."""
    text = SEPARATORS.sub("", raw)
    try:
        return {"number_prefix": to_e164(text, default_region=region)}
    except InvalidNumber:
        pass
    if not DIGITS.match(text):
        raise invalid(NUMBER_HINT, field="q")
    return {"number_prefix": text} if text.startswith("+") else {"number_digits": text}


def contact_number(raw: str, region: str, *, field: str = "msisdn") -> str:
    """A contact's number from a path or a filter, in E.164, or a refusal naming `field`."""
    try:
        return to_e164(raw, default_region=region)
    except InvalidNumber as err:
        raise invalid(str(err), field=field) from None


@dataclass(frozen=True, slots=True)
class ContactSearch:
    """What a search asks: a number (or digits of one), a profile field with its value."""

    shortcode: str
    q: str | None = None
    field: str | None = None
    value: str | None = None
    after: str | None = None
    limit: int = 50


async def search(conn: asyncpg.Connection, viewer: Identity | None, query: ContactSearch, *,
                 region: str, client: str | None, **detail: Any) -> list[dict[str, Any]]:
    """The matching contacts with their profiles decoded; the search is audited."""
    if query.field and not FIELD_NAME.match(query.field):
        raise invalid("A profile field is letters, digits and _ (e.g. zip).", field="field")
    if bool(query.field) != bool(query.value):
        raise invalid("Give a profile field and its value together.", field="value")
    number = number_filter(query.q, region) if query.q else {}
    rows = await lookups.search_contacts(
        conn, shortcode=query.shortcode, **number, field=query.field or None,
        value=query.value or None, after=query.after or None, limit=query.limit)
    asked = {k: v for k, v in (("q", query.q), ("field", query.field),
                               ("value", query.value), ("shortcode", query.shortcode)) if v}
    await audit.record(conn, viewer, audit.CONTACT_VIEWED, None, client=client, search=asked,
                       results=len(rows), **detail)
    return [{**dict(r), "profile": json.loads(r["profile"]) if r["profile"] else {}}
            for r in rows]


async def existing_contact(conn: asyncpg.Connection, msisdn: str,
                           shortcode: str) -> asyncpg.Record:
    """The contact's row, or a 404 refusal naming the number."""
    row = await contacts.get_contact(conn, msisdn, shortcode)
    if row is None:
        raise not_found(f"contact {msisdn}")
    return row


async def viewed(conn: asyncpg.Connection, viewer: Identity | None, msisdn: str, *,
                 client: str | None, view: str) -> None:
    """Record that `viewer` looked at one contact's `view` (profile, timeline, consent...)."""
    await audit.record(conn, viewer, audit.CONTACT_VIEWED, f"contact:{msisdn}", client=client,
                       view=view)


async def person_addresses(conn: asyncpg.Connection, msisdn: str) -> list[str]:
    """Every verified address of the number's person (only the number when it has none)."""
    person = await persons.person(conn, msisdn)
    return [a.address for a in person.addresses] if person else [msisdn]


async def history(conn: asyncpg.Connection, msisdn: str, shortcode: str,
                  addresses: list[str] | None = None) -> list[dict[str, Any]]:
    """The whole person's history, every channel, oldest first: what page and API show."""
    found = addresses if addresses is not None else await person_addresses(conn, msisdn)
    return await timeline.person_timeline(
        conn, [a for a in found if "@" not in a], shortcode, [a for a in found if "@" in a])
