"""Joining two verified addresses into one person, splitting a wrong join, and asking whose
an address is.

Why the rules live here: what counts as verified is said by the callers
(link_tokens.py: a one-time link followed; staff.py: a staff merge with its
reason; `link_both_channels`: confirmations on both channels), and every one
of them ends in `join`, the one place that creates, grows or fuses persons.
There is no other way in: nothing is ever joined on a resemblance (name,
postal code).

The active links of a person form a tree: `join` refuses two addresses that
are already one person, so a link never closes a loop, and undoing one link
(`split`) leaves exactly two sides. A side with two or more addresses stays a
person; a lone address is no person any more.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from gateway.plain_words import N_, said
from gateway.services.errors import conflict, invalid, not_found
from gateway.services.persons.addresses import channel_of
from gateway.store import persons as store
from gateway.store.persons import Link, LinkMethod, PersonAddress


@dataclass(frozen=True, slots=True)
class Joined:
    person_id: int
    link_id: int


@dataclass(frozen=True, slots=True)
class Split:
    """What an undone link left: the person kept (or None), and the other side."""

    person_id: int | None
    kept: tuple[str, ...]
    other_person_id: int | None
    other: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Person:
    """One person as the contact page shows it: its addresses and every link, undone ones too."""

    id: int
    addresses: tuple[PersonAddress, ...]
    links: tuple[Link, ...]

    def links_of(self, address: str) -> list[Link]:
        """The active links that verify `address` (how it came to be this person's)."""
        return [k for k in self.links if k.active and address in (k.address_a, k.address_b)]


async def person_of(conn: asyncpg.Connection, address: str) -> int | None:
    """The person an address (E.164 or normalized e-mail) belongs to, if any."""
    return await store.person_of(conn, address)


async def addresses_of(conn: asyncpg.Connection, person_id: int) -> list[PersonAddress]:
    return await store.addresses_of(conn, person_id)


async def linked_addresses(conn: asyncpg.Connection, address: str) -> list[str]:
    """The address and every address verified to be the same person, numbers first."""
    return await store.linked(conn, address)


async def verified_emails(conn: asyncpg.Connection, msisdn: str) -> list[str]:
    """The e-mail addresses verified to be this number's person's: what the inbox asks
    before answering an SMS question by e-mail."""
    return [a for a in await store.linked(conn, msisdn) if channel_of(a) == "email"]


async def person(conn: asyncpg.Connection, address: str) -> Person | None:
    person_id = await store.person_of(conn, address)
    if person_id is None:
        return None
    members = await store.addresses_of(conn, person_id)
    links = await store.links_of(conn, [m.address for m in members])
    return Person(person_id, tuple(members), tuple(links))


async def join(conn: asyncpg.Connection, address_a: str, address_b: str, *,
               method: LinkMethod, evidence: Mapping[str, Any], linked_by: str,
               reason: str | None, now: datetime) -> Joined:
    """Record a verified link between two addresses and make them one person.

    Two lone addresses become a new person; a lone one joins the other's person;
    two persons become one (the older id stays). Runs in the caller's
    transaction under the persons lock. 409 when they are one person already.
    """
    if address_a == address_b:
        raise invalid(N_("an address cannot be linked with itself"), field="other")
    async with conn.transaction():
        await store.lock(conn)
        person_a = await store.person_of(conn, address_a)
        person_b = await store.person_of(conn, address_b)
        if person_a is not None and person_a == person_b:
            raise conflict(N_("these two addresses are already one person"), field="other")
        link_id = await store.insert_link(conn, address_a, address_b, method=method,
                                          evidence=evidence, linked_by=linked_by,
                                          reason=reason, now=now)
        if person_a is None and person_b is None:
            person_id = await store.new_person(conn, now=now)
            await store.add_addresses(conn, person_id, [
                (address_a, channel_of(address_a)), (address_b, channel_of(address_b))],
                now=now)
        elif person_b is None:
            assert person_a is not None
            person_id = person_a
            await store.add_addresses(conn, person_id, [(address_b, channel_of(address_b))],
                                      now=now)
        elif person_a is None:
            person_id = person_b
            await store.add_addresses(conn, person_id, [(address_a, channel_of(address_a))],
                                      now=now)
        else:
            person_id, gone = min(person_a, person_b), max(person_a, person_b)
            moving = [m.address for m in await store.addresses_of(conn, gone)]
            await store.move_addresses(conn, moving, person_id)
            await store.delete_if_empty(conn, gone)
    return Joined(person_id, link_id)


async def split(conn: asyncpg.Connection, link_id: int, *, by: str, reason: str,
                now: datetime) -> tuple[Link, Split]:
    """Undo one active link: its person splits in two sides (see the module doc)."""
    if not reason.strip():
        raise invalid(N_("reason: say why this link was wrong (it goes in the audit log)"),
                      field="reason")
    async with conn.transaction():
        await store.lock(conn)
        link = await store.get_link(conn, link_id)
        if link is None:
            raise not_found(said(N_("link %(link_id)s"), link_id=link_id))
        if not await store.unlink(conn, link_id, by=by, reason=reason, now=now):
            raise conflict(said(N_("link %(link_id)s was already undone"), link_id=link_id))
        person_id = await store.person_of(conn, link.address_a)
        assert person_id is not None, "an active link joins two addresses of one person"
        members = [m.address for m in await store.addresses_of(conn, person_id)]
        active = [k for k in await store.links_of(conn, members) if k.active]
        side_a = reachable(link.address_a, active)
        side_b = tuple(m for m in members if m not in side_a)
        kept, other = (side_a, side_b) if len(side_a) >= len(side_b) else (side_b, side_a)
        other_person: int | None = None
        if len(other) >= 2:
            other_person = await store.new_person(conn, now=now)
            await store.move_addresses(conn, other, other_person)
        else:
            await store.remove_addresses(conn, other)
        kept_person: int | None = person_id
        if len(kept) < 2:
            await store.remove_addresses(conn, kept)
            await store.delete_if_empty(conn, person_id)
            kept_person = None
    return link, Split(kept_person, tuple(kept), other_person, tuple(other))


def reachable(start: str, links: Sequence[Link]) -> tuple[str, ...]:
    """Every address connected to `start` by these links, `start` first."""
    seen = [start]
    frontier = [start]
    while frontier:
        here = frontier.pop()
        for link in links:
            if here in (link.address_a, link.address_b):
                there = link.other_end(here)
                if there not in seen:
                    seen.append(there)
                    frontier.append(there)
    return tuple(seen)
