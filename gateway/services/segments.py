"""Saved segments: a name for "these subscribers of this program", in the audience language.

Why the audience language (gateway/audience.py) and not a second filter
model: the broadcasts already speak it, and a segment's whole point is to be
sent to, exported and counted exactly as a broadcast would reach it
(store/audience.py `eligible_where`: the program's subscribers on its short
code who have not opted out, then the filter). The Contacts page's search
values (program, status, zip, keyword, tag, time zone) are translated into
that language by `definition_from_search`, so "save this search" and "send
to it" cannot disagree. A segment is resolved each time it is used, never
frozen: a broadcast records the definition it used when it is materialized
(broadcast/service.py).

`recipients` is the seam for the send API: a page of a segment's numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Final

import asyncpg

from gateway.audience import (
    And,
    Audience,
    AudienceError,
    KeywordIn,
    TagIn,
    TimeZoneIn,
    ZipPrefix,
    format_audience,
    parse_audience,
)
from gateway.broadcast.compose_checks import ComposeError
from gateway.broadcast.service import shortcode_of
from gateway.engine import Rules
from gateway.plain_words import N_, said
from gateway.services import audit
from gateway.services.actor import Identity
from gateway.services.errors import ServiceError, conflict, invalid, not_found
from gateway.store import audience as audience_store
from gateway.store import segments as store
from gateway.store.segments import NameTaken, Segment

MAX_NAME = 100
MAX_FILTER = 10_000


@dataclass(frozen=True, slots=True)
class Resolved:
    """A segment as it stands now: where it goes out and who it reaches."""

    segment: Segment
    shortcode: str
    audience: Audience | None


@dataclass(frozen=True, slots=True)
class Counted:
    segment: Segment
    people: int | None  # None: its program is no longer in the keywords file
    problem: str | None = None


def definition_from_search(asked: Mapping[str, str | None]) -> tuple[str, str]:
    """(program, filter) for the Contacts page's search values; a refusal naming the field.

    A segment is always a program's subscribers (who a broadcast can reach), so
    a program is required and a status other than "subscribed" cannot be saved;
    a number or name search finds people, not a segment.
    """
    program = (asked.get("program") or "").strip()
    if not program:
        raise invalid(N_("Choose a program: a segment is some of a program's subscribers."),
                      field="program")
    if (asked.get("status") or "subscribed") != "subscribed":
        raise invalid(N_("A segment holds subscribers only: choose the status 'subscribed' or "
                         "any status."), field="status")
    for key in ("q", "name", "field"):
        if asked.get(key):
            raise invalid(N_("A search by number or name cannot be saved as a segment; clear it "
                             "first."), field=None)
    parts: list[Audience] = []
    for key, build in _SEARCH_PREDICATES.items():
        value = (asked.get(key) or "").strip()
        if value:
            try:
                parts.append(_one(build(value)))
            except AudienceError as err:
                raise invalid(str(err).split(": ", 1)[-1], field=key) from None
    where = format_audience(parts[0] if len(parts) == 1 else And(tuple(parts)) if parts else None)
    return program, where


def _one(predicate: Audience) -> Audience:
    """The predicate as the language reads it back: its values checked and normalized."""
    found = parse_audience(format_audience(predicate))
    assert found is not None
    return found


_SEARCH_PREDICATES: Final[Mapping[str, Callable[[str], Audience]]] = {
    "zip": lambda v: ZipPrefix((v.upper(),)),
    "keyword": lambda v: KeywordIn((v.upper(),)),
    "tag": lambda v: TagIn((v.lower(),)),
    "timezone": lambda v: TimeZoneIn((v,)),
}


def checked_definition(rules: Rules, program: str, where: str) -> Audience | None:
    """The parsed filter, or a refusal: an unknown program, a filter that does not parse."""
    if program not in rules.programs:
        names = ", ".join(sorted(rules.programs)) or "none configured"
        raise invalid(said(N_("Program %(program)r is not in the keywords file (programs: "
                              "%(names)s)."), program=program, names=names),
                      field="program")
    if len(where) > MAX_FILTER:
        raise invalid(said(N_("A filter is at most %(max_filter)s characters."),
                           max_filter=MAX_FILTER), field="where")
    try:
        audience = parse_audience(where)
    except AudienceError as err:
        raise invalid(said(N_("filter: %(err)s"), err=err), field="where") from None
    return audience


def _name(name: str) -> str:
    name = " ".join(name.split())
    if not 1 <= len(name) <= MAX_NAME:
        raise invalid(said(N_("A segment's name is 1 to %(max_name)s characters."),
                           max_name=MAX_NAME), field="name")
    return name


async def save(conn: asyncpg.Connection, actor: Identity, client: str, *, rules: Rules,
               name: str, program: str, where: str, segment_id: int | None = None) -> Segment:
    """A new segment, or `segment_id` changed; audit-logged in the same transaction."""
    name = _name(name)
    audience = checked_definition(rules, program, where)
    where = format_audience(audience)
    async with conn.transaction():
        try:
            if segment_id is None:
                saved = await store.insert(conn, name=name, program=program, filter=where,
                                           by=actor.email)
            else:
                found = await store.update(conn, segment_id, name=name, program=program,
                                           filter=where, by=actor.email)
                if found is None:
                    raise not_found(said(N_("segment %(segment_id)s"), segment_id=segment_id))
                saved = found
        except NameTaken:
            raise conflict(said(N_("A segment is already called %(name)r; choose another name."),
                                name=name),
                           field="name") from None
        await audit.record(conn, actor, audit.SEGMENT_SAVED, f"segment:{saved.id}",
                           client=client, name=name, program=program, filter=where)
    return saved


async def delete(conn: asyncpg.Connection, actor: Identity, client: str,
                 segment_id: int) -> None:
    async with conn.transaction():
        found = await store.get(conn, segment_id)
        if found is None or not await store.delete(conn, segment_id):
            raise not_found(said(N_("segment %(segment_id)s"), segment_id=segment_id))
        await audit.record(conn, actor, audit.SEGMENT_DELETED, f"segment:{segment_id}",
                           client=client, name=found.name, program=found.program,
                           filter=found.filter)


async def get(conn: asyncpg.Connection, segment_id: int) -> Segment:
    found = await store.get(conn, segment_id)
    if found is None:
        raise not_found(said(N_("segment %(segment_id)s"), segment_id=segment_id))
    return found


async def resolve(conn: asyncpg.Connection, segment_id: int, *, rules: Rules,
                  default_shortcode: str) -> Resolved:
    """The segment's short code and parsed filter as they stand now (a refusal if broken)."""
    segment = await get(conn, segment_id)
    audience = checked_definition(rules, segment.program, segment.filter)
    try:
        shortcode = shortcode_of(rules, segment.program, None, default_shortcode)
    except ComposeError as err:
        raise invalid(err.message, field="segment") from None
    return Resolved(segment, shortcode, audience)


async def count(conn: asyncpg.Connection, resolved: Resolved, *, now: datetime) -> int:
    return await audience_store.count(conn, shortcode=resolved.shortcode,
                                      program=resolved.segment.program,
                                      audience=resolved.audience, now=now)


async def recipients(conn: asyncpg.Connection, segment_id: int, *, rules: Rules,
                     default_shortcode: str, now: datetime, after: str = "",
                     limit: int = 10_000) -> tuple[Resolved, list[str]]:
    """The send API's seam: a page of the segment's numbers (E.164, ascending) after
    `after`, with the resolved segment (its short code and program). Page on with the
    last number returned until a page is shorter than `limit`."""
    resolved = await resolve(conn, segment_id, rules=rules, default_shortcode=default_shortcode)
    numbers = await audience_store.recipients(
        conn, shortcode=resolved.shortcode, program=resolved.segment.program,
        audience=resolved.audience, now=now, after=after, limit=limit)
    return resolved, numbers


async def list_counted(conn: asyncpg.Connection, *, rules: Rules, default_shortcode: str,
                       now: datetime) -> list[Counted]:
    """Every segment with its live count (or why it cannot be counted any more)."""
    counted = []
    for segment in await store.list_all(conn):
        try:
            resolved = await resolve(conn, segment.id, rules=rules,
                                     default_shortcode=default_shortcode)
        except ServiceError as err:
            counted.append(Counted(segment, None, err.message))
            continue
        counted.append(Counted(segment, await count(conn, resolved, now=now)))
    return counted
