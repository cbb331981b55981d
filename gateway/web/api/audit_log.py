"""The audit log for admins: newest first, filtered by action, actor or target."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from pydantic import Field

from gateway.store import audit as audit_store
from gateway.web.body import Strict
from gateway.web.registry import Call, RouteTable

routes = RouteTable("audit")


class AuditQuery(Strict):
    action: str | None = Field(None, max_length=64, description="e.g. broadcast.started")
    actor_id: int | None = Field(None, ge=1)
    target: str | None = Field(None, max_length=200, description="e.g. broadcast:12")
    before_id: int | None = Field(None, ge=1)
    limit: int = Field(100, ge=1, le=1000)


@routes.get("/api/v1/audit", name="audit.list", query=AuditQuery,
            summary="Who did what and when, newest first (page with before_id)")
async def list_entries(call: Call) -> dict[str, Any]:
    query = call.query_as(AuditQuery)
    async with call.pool.acquire() as conn:
        entries = await audit_store.list_entries(
            conn, action=query.action, actor_id=query.actor_id, target=query.target,
            before_id=query.before_id, limit=query.limit)
    found = [asdict(e) for e in entries]
    return {"entries": found,
            "next_before_id": found[-1]["id"] if len(found) == query.limit else None}
