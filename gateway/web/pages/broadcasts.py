"""The broadcast composer and a broadcast's page: preview, create, schedule, control, progress.

The same service and control functions as the API and the CLI
(gateway/broadcast/), with the same audit rows, so a broadcast started here
is indistinguishable from one started by a script. Forms work without
JavaScript (post, then redirect); the progress table refreshes itself with
a small fetch poll of GET /api/v1/broadcasts/{id}/progress (static/site.js).

A refused form (a filter or text that does not parse) is shown again with
what the organizer typed and the reason beside the field, never emptied.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg
from aiohttp import web

from gateway.broadcast import control, service
from gateway.broadcast.control import IllegalTransition
from gateway.broadcast.messages import BroadcastTextError
from gateway.segments import SegmentError
from gateway.store import broadcasts as store
from gateway.store import lookups
from gateway.web import audit
from gateway.web.broadcast_programs import programs_in_force
from gateway.web.errors import ApiError, bad_request, conflict, not_found
from gateway.web.pages.frame import PageTable, View

pages = PageTable()

MAX_TEXT = 2_000
MAX_FILTER = 10_000
FINISHED = ("done", "cancelled")
Change = Callable[[asyncpg.Connection, int], Awaitable[Any]]


@pages.get("/broadcasts", name="page.broadcasts")
async def broadcast_list(view: View) -> web.StreamResponse:
    async with view.context.pool.acquire() as conn:
        rows = [dict(r) for r in await lookups.list_broadcasts(
            conn, status=None, before_id=None, limit=100)]
    return view.render("broadcasts.html", title="Broadcasts", broadcasts=rows)


def _programs(view: View) -> list[str]:
    return view.site.programs() if view.site.programs else []


@pages.get("/broadcasts/new", name="page.broadcasts.compose")
async def compose(view: View) -> web.StreamResponse:
    programs = _programs(view)
    form = {"program": programs[0] if programs else "", "where": "", "text": "",
            "scheduled_at": "", "override_frequency": ""}
    return view.render("broadcast_new.html", title="New broadcast", programs=programs,
                       form=form, preview=None, error=None)


def _scheduled_at(raw: str) -> datetime | None:
    """A datetime-local value, read as UTC (the form says so)."""
    if not raw:
        return None
    try:
        at = datetime.fromisoformat(raw)
    except ValueError:
        raise bad_request(f"{raw!r} is not a date and time", field="scheduled_at") from None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


def _form_error(err: Exception) -> ApiError:
    if isinstance(err, SegmentError):
        return bad_request(f"filter: {err}", field="where")
    if isinstance(err, BroadcastTextError):
        return bad_request(str(err), field="text")
    if isinstance(err, service.UnknownProgram):
        return bad_request(str(err), field="program")
    if isinstance(err, service.FrequencyExceeded):
        return bad_request(str(err), field="override_frequency")
    if isinstance(err, ApiError):
        return err
    return bad_request(str(err), field=None)


@pages.post("/broadcasts/new", name="page.broadcasts.submit")
async def submit(view: View) -> web.StreamResponse:
    form = {k: view.field(k)
            for k in ("program", "where", "text", "scheduled_at", "override_frequency")}
    programs = _programs(view)
    settings = view.context.settings
    shortcode = settings.shortcode
    try:
        if not form["program"]:
            raise bad_request("choose a program", field="program")
        if not form["text"] or len(form["text"]) > MAX_TEXT:
            raise bad_request(f"the text is 1 to {MAX_TEXT} characters", field="text")
        if len(form["where"]) > MAX_FILTER:
            raise bad_request(f"the filter is at most {MAX_FILTER} characters", field="where")
        if view.field("action") == "create":
            return await _create(view, form, shortcode)
        async with view.context.pool.acquire() as conn:
            found = await service.preview(
                conn, program=form["program"], shortcode=shortcode, where=form["where"],
                text=form["text"], variables={"program": form["program"],
                                              "shortcode": shortcode},
                now=view.context.clock(), sample_size=5,
                programs=programs_in_force(view.context))
            await audit.samples_shown(conn, view.user, view.client, found.samples)
    except (SegmentError, BroadcastTextError, service.BroadcastError, ApiError) as err:
        refused = _form_error(err)
        return view.render("broadcast_new.html", status=refused.status, title="New broadcast",
                           programs=programs, form=form, preview=None,
                           error={"field": refused.field, "message": refused.message})
    return view.render("broadcast_new.html", title="New broadcast", programs=programs,
                       form=form, preview=found, error=None)


async def _create(view: View, form: dict[str, str], shortcode: str) -> web.StreamResponse:
    at = _scheduled_at(form["scheduled_at"])
    override = bool(form["override_frequency"])
    async with view.context.pool.acquire() as conn, conn.transaction():
        broadcast_id = await service.create(
            conn, program=form["program"], shortcode=shortcode, where=form["where"],
            text=form["text"], created_by=view.user.email, scheduled_at=at,
            programs=programs_in_force(view.context), override_frequency=override,
            now=view.context.clock())
        await audit.record(conn, view.user, audit.BROADCAST_CREATED,
                           f"broadcast:{broadcast_id}", client=view.client,
                           program=form["program"], where=form["where"],
                           scheduled_at=at.isoformat() if at else None,
                           override_frequency=override)
    return view.redirect(f"/broadcasts/{broadcast_id}")


@pages.get("/broadcasts/{broadcast_id}", name="page.broadcast")
async def broadcast_page(view: View) -> web.StreamResponse:
    broadcast_id = int(view.request.match_info["broadcast_id"])
    async with view.context.pool.acquire() as conn:
        broadcast = await store.get_broadcast(conn, broadcast_id)
        progress = await store.get_progress(conn, broadcast_id)
    if broadcast is None or progress is None:
        raise not_found(f"broadcast {broadcast_id}")
    status = str(progress["status"])
    actions = [name for name, (allowed, _) in control.TRANSITIONS.items()
               if status in allowed and name != "schedule"]
    return view.render(
        "broadcast.html", title=f"Broadcast {broadcast_id}", broadcast=broadcast,
        progress=progress, broadcast_status=status, actions=actions,
        can_schedule=status in control.TRANSITIONS["schedule"][0],
        live=status not in FINISHED and status != "draft")


ACTIONS: dict[str, tuple[str, Change]] = {
    "start": (audit.BROADCAST_STARTED, control.start),
    "pause": (audit.BROADCAST_PAUSED, control.pause),
    "resume": (audit.BROADCAST_RESUMED, control.resume),
    "cancel": (audit.BROADCAST_CANCELLED, control.cancel),
}


@pages.post("/broadcasts/{broadcast_id}/{action}", name="page.broadcast.control")
async def broadcast_control(view: View) -> web.StreamResponse:
    broadcast_id = int(view.request.match_info["broadcast_id"])
    action = view.request.match_info["action"]
    detail: dict[str, Any] = {}
    if action == "schedule":
        at = _scheduled_at(view.field("scheduled_at"))
        if at is None:
            raise bad_request("give the date and time to send", field="scheduled_at")
        what, change = audit.BROADCAST_SCHEDULED, _schedule_at(at)
        detail["at"] = at.isoformat()
    elif action in ACTIONS:
        what, change = ACTIONS[action]
    else:
        raise not_found(f"broadcast action {action!r}")
    try:
        async with view.context.pool.acquire() as conn, conn.transaction():
            if await store.get_status(conn, broadcast_id) is None:
                raise not_found(f"broadcast {broadcast_id}")
            await change(conn, broadcast_id)
            await audit.record(conn, view.user, what, f"broadcast:{broadcast_id}",
                               client=view.client, **detail)
    except IllegalTransition as err:
        raise conflict(str(err)) from None
    except service.BroadcastError as err:
        raise bad_request(str(err), field=None) from None
    return view.redirect(f"/broadcasts/{broadcast_id}")


def _schedule_at(at: datetime) -> Change:
    async def change(conn: asyncpg.Connection, broadcast_id: int) -> str:
        return await control.schedule(conn, broadcast_id, at)
    return change
