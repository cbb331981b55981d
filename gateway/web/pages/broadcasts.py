"""The broadcast composer and a broadcast's page: preview, create, schedule, control, progress.

The same service and control functions as the API and the CLI
(gateway/broadcast/), with the same audit rows, so a broadcast started here
is indistinguishable from one started by a script. Forms work without
JavaScript (post, then redirect); the progress table refreshes itself with
a small fetch poll of GET /api/v1/broadcasts/{id}/progress (static/site.js).
Messages held by quiet hours are shown per recipient group with the time
they go in each of the group's zones ("312 held until ... in
America/Chicago"), from broadcast/held.py (the quiet-hours module's
`next_allowed`, as the sender times them); that read scans the held rows,
so it is refreshed by a plain link, not by the poll.

A refused form (a filter or text that does not parse, an unknown
placeholder, a French text without "STOP au <code>", a send time past or
without a zone) is shown again with what the organizer typed and the reason
beside the field, never emptied. The send-time picker is a local date and
time with a zone field beside it, filled with the viewer's zone (their own,
else the organization's); times are shown back in that zone.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import asyncpg
from aiohttp import web

from gateway.audience import AudienceError
from gateway.broadcast import control, held, results, send_time, service
from gateway.broadcast.compose_checks import ComposeError
from gateway.broadcast.control import IllegalTransition
from gateway.broadcast.messages import BroadcastTextError
from gateway.engine import Rules
from gateway.plain_words import N_, reason, said
from gateway.services import audit
from gateway.services import segments as segment_service
from gateway.services.errors import ServiceError
from gateway.store import broadcasts as store
from gateway.store import lookups
from gateway.store import segments as segment_store
from gateway.web.choices import program_names, zone_options
from gateway.web.context import rules_in_force
from gateway.web.errors import bad_request, conflict, not_found
from gateway.web.pages import broadcast_ab as ab_form
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
    return view.render("broadcasts.html", title=N_("Broadcasts"), broadcasts=rows,
                       zone=_zone(view))


def _programs(view: View) -> list[str]:
    return view.site.programs() if view.site.programs else []


@pages.get("/broadcasts/new", name="page.broadcasts.compose")
async def compose(view: View) -> web.StreamResponse:
    programs = _programs(view)
    form = {"program": programs[0] if programs else "", "where": "", "text": "",
            "scheduled_at": "", "time_zone": _zone(view), "override_frequency": "",
            "segment": view.query("segment"), **ab_form.DEFAULTS}
    if form["segment"].isdigit():  # offered from a segment's page: its program shown
        async with view.context.pool.acquire() as conn:
            chosen = await segment_store.get(conn, int(form["segment"]))
        form["program"] = chosen.program if chosen else form["program"]
    return await _composer(view, form, programs)


def _zone(view: View) -> str:
    """The viewer's own zone (their preference, else the organization's): the picker's
    default and the zone times are shown back in, as on every other page."""
    return view.viewer.zone


async def _composer(view: View, form: dict[str, str], programs: list[str], *,
                    status: int = 200, preview: service.Preview | None = None,
                    error: dict[str, str | None] | None = None) -> web.StreamResponse:
    if "segment_filter" in form:  # the segment's filter was used, not typed: box stays empty
        form = {**form, "where": ""}
    async with view.context.pool.acquire() as conn:  # broadcast_segment.html
        saved_segments = await segment_service.list_counted(
            conn, rules=rules_in_force(view.context),
            default_shortcode=view.context.settings.shortcode, now=view.context.clock())
    return view.render("broadcast_new.html", status=status, title=N_("New broadcast"),
                       saved_segments=saved_segments,
                       programs=programs, form=form, preview=preview, error=error,
                       zones=zone_options(_zone(view), form["time_zone"],
                                          now=view.context.clock(), locale=view.viewer.language),
                       organizer_zone=_zone(view), metric_words=ab_form.METRIC_WORDS,
                       program_names=program_names(rules_in_force(view.context)))


def _scheduled_at(raw: str, zone: str) -> datetime | None:
    """The picker's local date and time, read in the zone the form sends beside it."""
    if not raw.strip():
        return None
    return send_time.parse(raw, zone or None)


def _form_error(err: Exception) -> ServiceError:
    if isinstance(err, ComposeError):
        return bad_request(err.message, field=err.field)
    if isinstance(err, AudienceError):
        return bad_request(said(N_("filter: %(err)s"), err=err), field="where")
    if isinstance(err, BroadcastTextError):
        return bad_request(reason(err), field="text")
    if isinstance(err, service.FrequencyExceeded):
        return bad_request(reason(err), field="override_frequency")
    if isinstance(err, ServiceError):  # an ApiError too
        return err
    return bad_request(reason(err), field=None)


@pages.post("/broadcasts/new", name="page.broadcasts.submit")
async def submit(view: View) -> web.StreamResponse:
    form = {k: view.field(k) for k in ("program", "where", "text", "scheduled_at", "time_zone",
                                       "override_frequency", "segment", *ab_form.FIELDS)}
    programs = _programs(view)
    settings = view.context.settings
    _ = view.viewer.gettext
    try:
        if not form["program"]:
            raise bad_request(_("choose a program"), field="program")
        if not form["text"] or len(form["text"]) > MAX_TEXT:
            raise bad_request(_("the text is 1 to %(most)s characters", most=MAX_TEXT),
                              field="text")
        if len(form["where"]) > MAX_FILTER:
            raise bad_request(_("the filter is at most %(most)s characters", most=MAX_FILTER),
                              field="where")
        rules = rules_in_force(view.context)
        segment = await _segment(view, form, rules)
        shortcode = service.shortcode_of(rules, form["program"], None, settings.shortcode)
        if view.field("action") == "create":
            return await _create(view, form, rules, shortcode, segment)
        async with view.context.pool.acquire() as conn:
            found = await service.preview(
                conn, rules=rules, program=form["program"], shortcode=shortcode,
                where=form["where"], text=form["text"],
                variables=service.variables_of(form["program"], shortcode),
                now=view.context.clock(), sample_size=5,
                link_base=view.context.settings.link_base())
            await audit.samples_shown(conn, view.user, view.client, found.samples)
    except (AudienceError, BroadcastTextError, service.BroadcastError, ServiceError,
            ComposeError) as err:
        refused = _form_error(err)
        return await _composer(view, form, programs, status=refused.status,
                               error={"field": refused.field, "message": refused.message})
    return await _composer(view, form, programs, preview=found)


async def _segment(view: View, form: dict[str, str], rules: Rules) -> tuple[int, str] | None:
    """A saved segment chosen: its program and filter as they stand now go in the form
    (the filter box must be empty: one or the other); it is read again at the send."""
    if not form["segment"]:
        return None
    if form["where"].strip():
        raise bad_request(N_("choose a saved segment or type a filter, not both"), field="segment")
    async with view.context.pool.acquire() as conn:
        found = await segment_service.resolve(
            conn, int(form["segment"]) if form["segment"].isdigit() else 0, rules=rules,
            default_shortcode=view.context.settings.shortcode)
    form["program"] = found.segment.program
    form["where"] = found.segment.filter
    form["segment_filter"] = found.segment.filter  # shown back, not resubmitted as a filter
    return found.segment.id, found.segment.name


async def _create(
    view: View, form: dict[str, str], rules: Rules, shortcode: str,
    segment: tuple[int, str] | None = None,
) -> web.StreamResponse:
    at = _scheduled_at(form["scheduled_at"], form["time_zone"])
    override = bool(form["override_frequency"])
    async with view.context.pool.acquire() as conn, conn.transaction():
        broadcast_id = await service.create(
            conn, rules=rules, program=form["program"], shortcode=shortcode,
            where=form["where"], text=form["text"], created_by=view.user.email,
            now=view.context.clock(), scheduled_at=at, zone=_zone(view),
            override_frequency=override, segment=segment,
            ab=ab_form.ab_test_of(form))
        await audit.record(conn, view.user, audit.BROADCAST_CREATED,
                           f"broadcast:{broadcast_id}", client=view.client,
                           program=form["program"], where=form["where"],
                           scheduled_at=at.isoformat() if at else None,
                           override_frequency=override,
                           segment_id=segment[0] if segment else None)
    return view.redirect(f"/broadcasts/{broadcast_id}")


@pages.get("/broadcasts/{broadcast_id}", name="page.broadcast")
async def broadcast_page(view: View) -> web.StreamResponse:
    broadcast_id = int(view.request.match_info["broadcast_id"])
    async with view.context.pool.acquire() as conn:
        broadcast = await store.get_broadcast(conn, broadcast_id)
        progress = await store.get_progress(conn, broadcast_id)
        now = view.context.clock()
        groups = await held.held_groups(conn, broadcast_id, now=now)
        found = (await results.results_of(conn, broadcast_id)
                 if progress is not None and progress["status"] != "draft" else None)
        variants = await ab_form.variants_shown(conn, broadcast) if broadcast else []
    if broadcast is None or progress is None:
        raise not_found(said(N_("broadcast %(broadcast_id)s"), broadcast_id=broadcast_id))
    status = str(progress["status"])
    actions = [name for name, (allowed, _) in control.TRANSITIONS.items()
               if status in allowed and name != "schedule"]
    zone = _zone(view)
    return view.render(
        "broadcast.html", title=view.viewer.gettext("Broadcast %(id)s", id=broadcast_id),
        broadcast=broadcast,
        progress=progress, broadcast_status=status, actions=actions,
        can_schedule=status in control.TRANSITIONS["schedule"][0],
        live=status not in FINISHED and status != "draft",
        scheduled=broadcast.scheduled_at,
        held=[(g, g.release_at) for g in groups],
        results=found, variants=variants, metric_words=ab_form.METRIC_WORDS,
        checked_at=now, zone=zone, zones=zone_options(zone, now=view.context.clock(),
                                                      locale=view.viewer.language))


# Actions that cannot be undone ask first: the button leads to a page that says what
# will happen, and only its own button (confirmed=yes) does it.
CONFIRMED = frozenset({"cancel"})
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
        try:
            at = _scheduled_at(view.field("scheduled_at"), view.field("time_zone"))
        except ComposeError as err:
            raise bad_request(err.message, field=err.field) from None
        if at is None:
            raise bad_request(view.viewer.gettext("give the date and time to send"),
                              field="scheduled_at")
        what, change = audit.BROADCAST_SCHEDULED, _schedule_at(at, view.context.clock(),
                                                               _zone(view))
        detail["at"] = at.isoformat()
    elif action == "winner":
        what, change = audit.BROADCAST_WINNER_CHOSEN, ab_form.choose(view.field("winner"))
        detail["winner"] = view.field("winner") or "by_metric"
    elif action in CONFIRMED and view.field("confirmed") != "yes":
        return await _confirm(view, broadcast_id, action)
    elif action in ACTIONS:
        what, change = ACTIONS[action]
    else:
        raise not_found(said(N_("broadcast action %(action)r"), action=action))
    try:
        async with view.context.pool.acquire() as conn, conn.transaction():
            if await store.get_status(conn, broadcast_id) is None:
                raise not_found(said(N_("broadcast %(broadcast_id)s"), broadcast_id=broadcast_id))
            await change(conn, broadcast_id)
            await audit.record(conn, view.user, what, f"broadcast:{broadcast_id}",
                               client=view.client, **detail)
    except IllegalTransition as err:
        raise conflict(reason(err)) from None
    except ComposeError as err:
        raise bad_request(err.message, field=err.field) from None
    except service.BroadcastError as err:
        raise bad_request(reason(err), field=None) from None
    return view.redirect(f"/broadcasts/{broadcast_id}")


async def _confirm(view: View, broadcast_id: int, action: str) -> web.StreamResponse:
    """What the action cannot undo, and a second button: a cancel is final."""
    async with view.context.pool.acquire() as conn:
        progress = await store.get_progress(conn, broadcast_id)
    if progress is None:
        raise not_found(said(N_("broadcast %(broadcast_id)s"), broadcast_id=broadcast_id))
    unsent = sum(int(progress[k] or 0) for k in ("queued", "deferred"))
    return view.render("broadcast_confirm.html",
                       title=view.viewer.gettext("Cancel broadcast %(id)s?", id=broadcast_id),
                       broadcast_id=broadcast_id, action=action, progress=progress,
                       unsent=unsent, materialized=progress["materialized_at"] is not None)


def _schedule_at(at: datetime, now: datetime, zone: str) -> Change:
    async def change(conn: asyncpg.Connection, broadcast_id: int) -> str:
        return await control.schedule(conn, broadcast_id, at, now=now, zone=zone)
    return change
