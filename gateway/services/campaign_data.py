"""Committees and events, the tables the knowledge base answers from, edited by organizers.

Why through the API and the pages rather than keywords.yaml: addresses and
event dates change weekly and belong to local organizers, while the keywords
file is a reviewed, reloaded configuration. A committee's area and position
(what `WHERE 90210` uses to find the nearest) are derived here from its
postal code (gateway/geo.py, as the lookups do), the same way for every row,
whether it came from the API or the page. Rows are never deleted: a
committee is deactivated and an event unpublished, so an answer already sent
can still be explained, and both changes are audit-logged.

The input models are the services' own: the API reads its request bodies
with them and the page checks its forms with them, so both refuse alike.
"""

from __future__ import annotations

from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import asyncpg
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from gateway.engine import Rules
from gateway.geo import POSTAL_COUNTRIES as POSTAL_COUNTRIES
from gateway.geo import postal_position
from gateway.plain_words import N_, said
from gateway.services.actor import Identity
from gateway.services.audit import record
from gateway.services.errors import invalid, not_found
from gateway.store import committees as store
from gateway.store.committees import NewCampaignEvent, NewCommittee

COMMITTEE_CREATED: Final = "committee.created"
COMMITTEE_CHANGED: Final = "committee.changed"
EVENT_CREATED: Final = "event.created"
EVENT_CHANGED: Final = "event.changed"


class _Input(BaseModel):
    """Unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


def _postal_code(value: str | None) -> str | None:
    if value is not None and not (len(value) == 5 and value.isascii() and value.isdigit()):
        raise ValueError("a postal code is 5 digits, like 60601 or 75011")
    return value


def _country(value: str | None) -> str | None:
    if value is not None and value not in POSTAL_COUNTRIES:
        raise ValueError(f"{value!r} is not a country the gateway can place: choose one of "
                         + ", ".join(POSTAL_COUNTRIES))
    return value


class _Placed(_Input):
    """A row placed by its postal code: the code and the country the gateway can place."""

    @field_validator("postal_code", check_fields=False)
    @classmethod
    def _placeable_code(cls, value: str | None) -> str | None:
        return _postal_code(value)

    @field_validator("country", check_fields=False)
    @classmethod
    def _placeable_country(cls, value: str | None) -> str | None:
        return _country(value)


class CommitteeBody(_Placed):
    name: str = Field(min_length=1, max_length=200)
    address: str = Field(min_length=1, max_length=300)
    postal_code: str = Field(description="US zip or French code: 5 digits")
    country: str = Field(description="ISO 3166 alpha-2: US or FR")
    city: str = Field("", max_length=100)
    phone: str | None = Field(None, max_length=40)


class EventBody(_Placed):
    title: str = Field(min_length=1, max_length=200)
    starts_at: AwareDatetime
    timezone: str = Field(max_length=64, description="IANA zone the time is told in")
    location: str = Field("", max_length=300)
    program: str | None = Field(None, max_length=64,
                                description="a program's id in keywords.yaml; none: every program")
    postal_code: str | None = Field(None, description="5 digits")
    country: str | None = Field(None, description="US or FR")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not a time zone (e.g. America/New_York)") from None
        return value


def new_committee(
    name: str, address: str, postal_code: str, country: str, *, city: str = "",
    phone: str | None = None,
) -> NewCommittee:
    """A committee row with its area and position filled in from the postal code."""
    area, lat, lon = postal_position(country, postal_code)
    return NewCommittee(name=name, address=address, postal_code=postal_code, country=country,
                        area=area, city=city, phone=phone, lat=lat, lon=lon)


async def add_committee(pool: asyncpg.Pool, actor: Identity, client: str,
                        body: CommitteeBody) -> dict[str, Any]:
    """Insert, with its area and position derived, and audit it."""
    committee = new_committee(body.name, body.address, body.postal_code, body.country,
                              city=body.city, phone=body.phone)
    async with pool.acquire() as conn, conn.transaction():
        committee_id = await store.insert_committee(conn, committee)
        await record(conn, actor, COMMITTEE_CREATED, f"committee:{committee_id}",
                     client=client, name=body.name, postal_code=body.postal_code)
    return {"id": committee_id, "area": committee.area, "located": committee.lat is not None}


async def switch_committee(pool: asyncpg.Pool, actor: Identity, client: str,
                           committee_id: int, on: bool) -> dict[str, Any]:
    async with pool.acquire() as conn, conn.transaction():
        if not await store.set_committee_active(conn, committee_id, on):
            raise not_found(said(N_("committee %(committee_id)s"), committee_id=committee_id))
        await record(conn, actor, COMMITTEE_CHANGED, f"committee:{committee_id}",
                     client=client, active=on)
    return {"id": committee_id, "active": on}


def check_program(rules: Rules, program: str | None) -> None:
    """An event for a program that does not exist would never be announced: refuse it."""
    if program is None or program in rules.programs:
        return
    known = ", ".join(f"{pid} ({p.name})" for pid, p in rules.programs.items())
    by_name = [pid for pid, p in rules.programs.items() if p.name.casefold() == program.casefold()]
    if by_name:
        raise invalid(said(N_("No program %(program)r in keywords.yaml. Did you mean %(name)r? "
                              "The programs are: %(known)s."),
                           program=program, name=by_name[0], known=known),
                      field="program", code="unknown_program")
    raise invalid(said(N_("No program %(program)r in keywords.yaml. The programs are: "
                          "%(known)s."), program=program, known=known),
                  field="program", code="unknown_program")


async def add_event(pool: asyncpg.Pool, actor: Identity, client: str,
                    body: EventBody, rules: Rules) -> dict[str, Any]:
    check_program(rules, body.program)
    area = None
    if body.postal_code is not None and body.country is not None:
        area, _, _ = postal_position(body.country, body.postal_code)
    event = NewCampaignEvent(
        title=body.title, starts_at=body.starts_at, timezone=body.timezone,
        location=body.location, program=body.program, postal_code=body.postal_code,
        country=body.country, area=area)
    async with pool.acquire() as conn, conn.transaction():
        event_id = await store.insert_event(conn, event)
        await record(conn, actor, EVENT_CREATED, f"event:{event_id}", client=client,
                     title=body.title)
    return {"id": event_id, "area": area}


async def switch_event(pool: asyncpg.Pool, actor: Identity, client: str,
                       event_id: int, on: bool) -> dict[str, Any]:
    async with pool.acquire() as conn, conn.transaction():
        if not await store.set_event_published(conn, event_id, on):
            raise not_found(said(N_("event %(event_id)s"), event_id=event_id))
        await record(conn, actor, EVENT_CHANGED, f"event:{event_id}", client=client,
                     published=on)
    return {"id": event_id, "published": on}
