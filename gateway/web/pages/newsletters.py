"""Newsletters: write one to a program's confirmed e-mail subscribers, then start, pause,
resume or cancel it and watch its progress.

Why pages of their own rather than a channel switch in the SMS composer: an
SMS broadcast's form is about segments, segments of 160 characters, quiet
hours and the promised frequency, none of which applies to a newsletter,
which has a subject and a long text instead. The life of both is the same
(gateway/broadcast/control.py), and so are the audit entries.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
from aiohttp import web

from gateway.broadcast import control, newsletters, send_time
from gateway.broadcast.compose_checks import ComposeError
from gateway.broadcast.control import IllegalTransition
from gateway.plain_words import N_, reason, said
from gateway.services import audit
from gateway.store import broadcasts as store
from gateway.store import newsletters as newsletter_store
from gateway.store.newsletter_segments import SegmentCount
from gateway.web.choices import program_names, zone_options
from gateway.web.context import rules_in_force
from gateway.web.errors import conflict, not_found
from gateway.web.pages.frame import PageTable, View

pages = PageTable()

Change = Callable[[asyncpg.Connection, int], Awaitable[Any]]
ACTIONS: dict[str, tuple[str, Change]] = {
    "start": (audit.BROADCAST_STARTED, control.start),
    "pause": (audit.BROADCAST_PAUSED, control.pause),
    "resume": (audit.BROADCAST_RESUMED, control.resume),
    "cancel": (audit.BROADCAST_CANCELLED, control.cancel),
}
FIELDS = ("program", "where", "subject", "text", "scheduled_at", "time_zone")


@pages.get("/newsletters", name="page.newsletters")
async def newsletter_list(view: View) -> web.StreamResponse:
    zone = view.viewer.zone
    return await _list(view, {"time_zone": zone}, None, status=200)


@pages.post("/newsletters", name="page.newsletters.create")
async def newsletter_create(view: View) -> web.StreamResponse:
    form = {name: view.field(name) for name in FIELDS}
    zone = view.viewer.zone
    if view.field("action") == "preview":
        return await _preview(view, form)
    try:
        at = send_time.parse(form["scheduled_at"], form["time_zone"] or None) \
            if form["scheduled_at"] else None
        async with view.context.pool.acquire() as conn, conn.transaction():
            broadcast_id = await newsletters.create(
                conn, rules_in_force(view.context), program=form["program"],
                subject=form["subject"], text=form["text"], created_by=view.user.email,
                now=view.context.clock(), scheduled_at=at, zone=form["time_zone"] or zone,
                where=form["where"])
            await audit.record(conn, view.user, audit.BROADCAST_CREATED,
                               f"broadcast:{broadcast_id}", client=view.client,
                               program=form["program"], channel="email", where=form["where"],
                               scheduled_at=at.isoformat() if at else None)
    except ComposeError as err:
        return await _list(view, form, {"field": err.field, "message": err.message},
                           status=400)
    return view.redirect(f"/newsletters/{broadcast_id}")


@pages.get("/newsletters/{newsletter_id}", name="page.newsletter")
async def newsletter_page(view: View) -> web.StreamResponse:
    newsletter_id = int(view.request.match_info["newsletter_id"])
    async with view.context.pool.acquire() as conn:
        newsletter = await store.get_broadcast(conn, newsletter_id)
        progress = await newsletter_store.progress(conn, newsletter_id)
    if newsletter is None or progress is None or newsletter.channel != "email":
        raise not_found(said(N_("newsletter %(newsletter_id)s"), newsletter_id=newsletter_id))
    status = str(progress["status"])
    zone = view.viewer.zone
    return view.render(
        "newsletter.html", title=view.viewer.gettext("Newsletter %(id)s", id=newsletter_id),
        newsletter=newsletter,
        progress=progress, actions=[name for name, (allowed, _) in control.TRANSITIONS.items()
                                    if status in allowed and name in ACTIONS],
        scheduled=newsletter.scheduled_at, zone=zone)


@pages.post("/newsletters/{newsletter_id}/{action}", name="page.newsletter.control")
async def newsletter_control(view: View) -> web.StreamResponse:
    newsletter_id = int(view.request.match_info["newsletter_id"])
    action = view.request.match_info["action"]
    if action not in ACTIONS:
        raise not_found(said(N_("newsletter action %(action)r"), action=action))
    what, change = ACTIONS[action]
    try:
        async with view.context.pool.acquire() as conn, conn.transaction():
            found = await store.get_broadcast(conn, newsletter_id)
            if found is None or found.channel != "email":
                raise not_found(said(N_("newsletter %(newsletter_id)s"),
                                     newsletter_id=newsletter_id))
            await change(conn, newsletter_id)
            await audit.record(conn, view.user, what, f"broadcast:{newsletter_id}",
                               client=view.client, channel="email")
    except IllegalTransition as err:
        raise conflict(reason(err)) from None
    return view.redirect(f"/newsletters/{newsletter_id}")


async def _preview(view: View, form: dict[str, str]) -> web.StreamResponse:
    """The segment's count before creating, as the SMS composer's preview; nothing stored."""
    try:
        async with view.context.pool.acquire() as conn:
            found = await newsletters.preview(conn, rules_in_force(view.context),
                                              program=form["program"], where=form["where"],
                                              now=view.context.clock())
    except ComposeError as err:
        return await _list(view, form, {"field": err.field, "message": err.message},
                           status=400)
    return await _list(view, form, None, status=200, preview=found)


async def _list(view: View, form: dict[str, str], error: dict[str, Any] | None, *,
                status: int, preview: SegmentCount | None = None) -> web.StreamResponse:
    programs = view.site.programs() if view.site.programs else []
    zone = view.viewer.zone
    async with view.context.pool.acquire() as conn:
        rows = [dict(r) for r in await newsletter_store.list_newsletters(conn)]
    return view.render("newsletters.html", status=status, title=N_("Newsletters"),
                       newsletters=rows, programs=programs, form=form, error=error,
                       preview=preview, zone=zone,
                       zones=zone_options(zone, form.get("time_zone", ""),
                                          now=view.context.clock(),
                                          locale=view.viewer.language),
                       program_names=program_names(rules_in_force(view.context)))
