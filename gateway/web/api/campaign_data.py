"""Committees and events over HTTP: lists, additions, on/off switches.

The work, its checks and its audit entries are gateway/services/campaign_data.py,
which the campaign page calls too; here each route reads its request and
answers with what the service returns.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from gateway.services import campaign_data as service
from gateway.services.campaign_data import CommitteeBody, EventBody
from gateway.store import committees as store
from gateway.web.body import Strict
from gateway.web.context import rules_in_force
from gateway.web.registry import Call, RouteTable

routes = RouteTable("campaign data")


class Switch(Strict):
    on: bool = Field(description="committee: active; event: published")


class EventQuery(Strict):
    program: str | None = Field(None, max_length=64)
    limit: int = Field(200, ge=1, le=1000)


@routes.get("/api/v1/committees", name="committees.list",
            summary="Local committees, by country and postal code")
async def list_committees(call: Call) -> dict[str, Any]:
    async with call.pool.acquire() as conn:
        rows = await store.list_committees(conn)
    return {"committees": [dict(r) for r in rows]}


@routes.post("/api/v1/committees", name="committees.create", body=CommitteeBody, status=201,
             summary="Add a committee; its area and position come from the postal code")
async def create_committee(call: Call) -> dict[str, Any]:
    return await service.add_committee(call.pool, call.user, call.client,
                                       call.body_as(CommitteeBody))


@routes.post("/api/v1/committees/{committee_id}/active", name="committees.activate",
             body=Switch, summary="Activate or deactivate a committee (never deleted)")
async def activate_committee(call: Call) -> dict[str, Any]:
    return await service.switch_committee(call.pool, call.user, call.client,
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
    return await service.add_event(call.pool, call.user, call.client, call.body_as(EventBody),
                                   rules_in_force(call.context))


@routes.post("/api/v1/events/{event_id}/published", name="events.publish", body=Switch,
             summary="Publish or unpublish an event (never deleted)")
async def publish_event(call: Call) -> dict[str, Any]:
    return await service.switch_event(call.pool, call.user, call.client,
                                      call.path_int("event_id"), call.body_as(Switch).on)
