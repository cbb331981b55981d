"""Committees and events, the tables the knowledge base answers from, edited by organizers.

Why through the API rather than keywords.yaml: addresses and event dates
change weekly and belong to local organizers, while the keywords file is a
reviewed, reloaded configuration. A committee's area and position (what
`WHERE 90210` uses to find the nearest) are derived here from its postal
code, the same way for every row. Rows are never deleted: a committee is
deactivated and an event unpublished, so an answer already sent can still
be explained, and both changes are audit-logged.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import asyncpg
from pydantic import AwareDatetime, Field, field_validator

from gateway.pipeline.contact_centre import new_committee, postal_position
from gateway.store import committees as store
from gateway.store.committees import NewCampaignEvent
from gateway.web.audit import record
from gateway.web.auth import Principal
from gateway.web.body import Strict
from gateway.web.errors import not_found
from gateway.web.registry import Call, RouteTable

routes = RouteTable("campaign data")

COMMITTEE_CREATED = "committee.created"
COMMITTEE_CHANGED = "committee.changed"
EVENT_CREATED = "event.created"
EVENT_CHANGED = "event.changed"


class CommitteeBody(Strict):
    name: str = Field(min_length=1, max_length=200)
    address: str = Field(min_length=1, max_length=300)
    postal_code: str = Field(pattern=r"^[0-9]{5}$", description="US zip or French code")
    country: str = Field(pattern=r"^[A-Z]{2}$", description="ISO 3166 alpha-2: US, FR")
    city: str = Field("", max_length=100)
    phone: str | None = Field(None, max_length=40)


class EventBody(Strict):
    title: str = Field(min_length=1, max_length=200)
    starts_at: AwareDatetime
    timezone: str = Field(max_length=64, description="IANA zone the time is told in")
    location: str = Field("", max_length=300)
    program: str | None = Field(None, max_length=64, description="none: every program")
    postal_code: str | None = Field(None, pattern=r"^[0-9]{5}$")
    country: str | None = Field(None, pattern=r"^[A-Z]{2}$")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not a time zone (e.g. America/New_York)") from None
        return value


class Switch(Strict):
    on: bool = Field(description="committee: active; event: published")


class EventQuery(Strict):
    program: str | None = Field(None, max_length=64)
    limit: int = Field(200, ge=1, le=1000)


async def add_committee(pool: asyncpg.Pool, principal: Principal, client: str,
                        body: CommitteeBody) -> dict[str, Any]:
    """Shared by the API and the page: insert, derive area and position, audit."""
    committee = new_committee(body.name, body.address, body.postal_code, body.country,
                              city=body.city, phone=body.phone)
    async with pool.acquire() as conn, conn.transaction():
        committee_id = await store.insert_committee(conn, committee)
        await record(conn, principal, COMMITTEE_CREATED, f"committee:{committee_id}",
                     client=client, name=body.name, postal_code=body.postal_code)
    return {"id": committee_id, "area": committee.area, "located": committee.lat is not None}


async def switch_committee(pool: asyncpg.Pool, principal: Principal, client: str,
                           committee_id: int, on: bool) -> dict[str, Any]:
    async with pool.acquire() as conn, conn.transaction():
        if not await store.set_committee_active(conn, committee_id, on):
            raise not_found(f"committee {committee_id}")
        await record(conn, principal, COMMITTEE_CHANGED, f"committee:{committee_id}",
                     client=client, active=on)
    return {"id": committee_id, "active": on}


async def add_event(pool: asyncpg.Pool, principal: Principal, client: str,
                    body: EventBody) -> dict[str, Any]:
    area = None
    if body.postal_code is not None and body.country is not None:
        area, _, _ = postal_position(body.country, body.postal_code)
    event = NewCampaignEvent(
        title=body.title, starts_at=body.starts_at, timezone=body.timezone,
        location=body.location, program=body.program, postal_code=body.postal_code,
        country=body.country, area=area)
    async with pool.acquire() as conn, conn.transaction():
        event_id = await store.insert_event(conn, event)
        await record(conn, principal, EVENT_CREATED, f"event:{event_id}", client=client,
                     title=body.title)
    return {"id": event_id, "area": area}


async def switch_event(pool: asyncpg.Pool, principal: Principal, client: str,
                       event_id: int, on: bool) -> dict[str, Any]:
    async with pool.acquire() as conn, conn.transaction():
        if not await store.set_event_published(conn, event_id, on):
            raise not_found(f"event {event_id}")
        await record(conn, principal, EVENT_CHANGED, f"event:{event_id}", client=client,
                     published=on)
    return {"id": event_id, "published": on}


@routes.get("/api/v1/committees", name="committees.list",
            summary="Local committees, by country and postal code")
async def list_committees(call: Call) -> dict[str, Any]:
    async with call.pool.acquire() as conn:
        rows = await store.list_committees(conn)
    return {"committees": [dict(r) for r in rows]}


@routes.post("/api/v1/committees", name="committees.create", body=CommitteeBody, status=201,
             summary="Add a committee; its area and position come from the postal code")
async def create_committee(call: Call) -> dict[str, Any]:
    return await add_committee(call.pool, call.user, call.client, call.body_as(CommitteeBody))


@routes.post("/api/v1/committees/{committee_id}/active", name="committees.activate",
             body=Switch, summary="Activate or deactivate a committee (never deleted)")
async def activate_committee(call: Call) -> dict[str, Any]:
    return await switch_committee(call.pool, call.user, call.client,
                                  call.path_int("committee_id"), call.body_as(Switch).on)


@routes.get("/api/v1/events", name="events.list", query=EventQuery,
            summary="Campaign events, newest first, published or not")
async def list_events(call: Call) -> dict[str, Any]:
    query = call.query_as(EventQuery)
    async with call.pool.acquire() as conn:
        rows = await store.list_events(conn, program=query.program, limit=query.limit)
    return {"events": [dict(r) for r in rows]}


@routes.post("/api/v1/events", name="events.create", body=EventBody, status=201,
             summary="Add an event that EVENTS will announce")
async def create_event(call: Call) -> dict[str, Any]:
    return await add_event(call.pool, call.user, call.client, call.body_as(EventBody))


@routes.post("/api/v1/events/{event_id}/published", name="events.publish", body=Switch,
             summary="Publish or unpublish an event (never deleted)")
async def publish_event(call: Call) -> dict[str, Any]:
    return await switch_event(call.pool, call.user, call.client, call.path_int("event_id"),
                              call.body_as(Switch).on)
