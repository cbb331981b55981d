"""Broadcasts: preview, create, schedule, start, pause, resume, cancel, and live progress.

The same service and control functions as `gateway broadcast` (the CLI):
every change is one guarded UPDATE, so the API, the CLI and the gateway's
tick can act on one broadcast at once and the loser is told the status it
found (409). Each change and its audit row commit in one transaction. A
preview shows real numbers and texts rendered with their profiles, so its
samples are audited as a contact view (`audit.samples_shown`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import asdict
from datetime import timedelta
from typing import Any, Literal

import asyncpg
from pydantic import AwareDatetime, Field, ValidationInfo, field_validator

from gateway.audience import AudienceError
from gateway.broadcast import ab_test, control, held, results, send_time, service
from gateway.broadcast.compose_checks import ComposeError
from gateway.broadcast.control import IllegalTransition
from gateway.broadcast.messages import BroadcastTextError
from gateway.engine import Rules
from gateway.services import audit
from gateway.services import segments as segment_service
from gateway.store import broadcasts as store
from gateway.store import lookups
from gateway.web.body import Strict
from gateway.web.context import rules_in_force
from gateway.web.errors import ApiError, bad_request, conflict, not_found
from gateway.web.registry import Call, RouteTable

routes = RouteTable("broadcasts")

Status = Literal["draft", "scheduled", "running", "paused", "cancelled", "done"]


class BroadcastText(Strict):
    program: str = Field(min_length=1, max_length=64)
    where: str = Field("", max_length=10_000, description="audience filter; empty: everyone")
    text: str = Field(min_length=1, max_length=2_000,
                      description="template with {field|fallback} placeholders")
    shortcode: str | None = Field(None, max_length=16)


SEGMENT_ID = Field(None, description=(
    "a saved segment of `program` (leave `where` empty): read again when the broadcast "
    "is materialized, and recorded (docs/segments-and-export.md)"))


class PreviewRequest(BroadcastText):
    segment_id: int | None = Field(None, description=(
        "a saved segment of `program` (leave `where` empty): its filter as it stands now"))
    sample_size: int = Field(5, ge=0, le=50)


def _send_time(value: Any, info: ValidationInfo) -> Any:
    """ISO 8601 with an offset, `...[Zone]`, or a local time read in `time_zone`."""
    if not isinstance(value, str):
        return value  # a datetime from Python callers; pydantic checks the rest
    try:
        return send_time.parse(value, info.data.get("time_zone"))
    except ComposeError as err:
        raise ValueError(err.message) from None


def _zone(value: str | None) -> str | None:
    if value is not None:
        try:
            send_time.parse_zone(value)
        except ComposeError as err:
            raise ValueError(err.message) from None
    return value


TIME_ZONE = Field(None, max_length=64, description="IANA zone of a local send time, "
                  "e.g. America/New_York (or write 2026-03-01T17:00[America/New_York])")
SEND_TIME = ("a future time: 2026-03-01T17:00-05:00, 2026-03-01T22:00Z, or a local time "
             "with time_zone; a time without a zone is refused")


class AbTestRequest(Strict):
    variants: list[str] = Field(min_length=1, max_length=3, description=(
        "the other texts tried (variants 2 to 4); `text` is variant 1"))
    test_percent: int = Field(ge=2, le=90, description="the share of the audience tested")
    metric: Literal["clicks", "replies", "gifts", "opt_outs"] = Field(
        description="the winner has the most clicks, replies or gifts, or the fewest "
                    "opt-outs, per text sent")
    wait_hours: float = Field(gt=0, le=168, description="hours before the winner is chosen")
    auto: bool = Field(True, description="send the winner at the end of the wait; false: "
                                         "POST .../winner decides")


class WinnerRequest(Strict):
    winner: int | None = Field(None, ge=1, le=4, description="omit: by the test's metric")


class NewBroadcast(BroadcastText):
    segment_id: int | None = SEGMENT_ID
    ab_test: AbTestRequest | None = Field(None, description="an A/B test of 2 to 4 texts")
    time_zone: str | None = TIME_ZONE  # before scheduled_at: its validator reads it
    scheduled_at: AwareDatetime | None = Field(None, description=SEND_TIME + "; omit for a draft")
    override_frequency: bool = Field(
        False, description="create it even if it sends people past their program's promised "
                           "frequency (audit-logged)")

    _zone_ok = field_validator("time_zone")(_zone)
    _time_ok = field_validator("scheduled_at", mode="before")(_send_time)


class ScheduleRequest(Strict):
    time_zone: str | None = TIME_ZONE
    at: AwareDatetime = Field(description=SEND_TIME)

    _zone_ok = field_validator("time_zone")(_zone)
    _time_ok = field_validator("at", mode="before")(_send_time)


class BroadcastQuery(Strict):
    status: Status | None = None
    before_id: int | None = Field(None, ge=1)
    limit: int = Field(50, ge=1, le=500)


def _refused(err: Exception) -> ApiError:
    """Service errors as answers: which field is wrong, or why the change cannot happen."""
    if isinstance(err, ComposeError):
        return bad_request(err.message, field=err.field)
    if isinstance(err, AudienceError):
        return bad_request(f"filter {err}", field="where")
    if isinstance(err, BroadcastTextError):
        return bad_request(str(err), field="text")
    if isinstance(err, service.FrequencyExceeded):
        return bad_request(str(err), field="override_frequency", code="frequency_limit")
    if isinstance(err, IllegalTransition):
        return conflict(str(err))
    return bad_request(str(err), field=None)


@routes.get("/api/v1/broadcasts", name="broadcasts.list", query=BroadcastQuery,
            summary="Broadcasts, newest first")
async def list_broadcasts(call: Call) -> dict[str, Any]:
    query = call.query_as(BroadcastQuery)
    async with call.pool.acquire() as conn:
        rows = [dict(r) for r in await lookups.list_broadcasts(
            conn, status=query.status, before_id=query.before_id, limit=query.limit)]
    return {"broadcasts": rows,
            "next_before_id": rows[-1]["id"] if len(rows) == query.limit else None}


@routes.post("/api/v1/broadcasts/preview", name="broadcasts.preview", body=PreviewRequest,
             summary="Recipients, rendered samples and SMS segments, creating nothing")
async def preview(call: Call) -> dict[str, Any]:
    body = call.body_as(PreviewRequest)
    rules = rules_in_force(call.context)
    try:
        shortcode = service.shortcode_of(rules, body.program, body.shortcode,
                                         call.context.settings.shortcode)
        where, segment = body.where, None
        async with call.pool.acquire() as conn:
            if body.segment_id is not None:
                where, segment = await _segment(conn, body, rules, call.context.settings.shortcode)
            found = await service.preview(
                conn, rules=rules, program=body.program, shortcode=shortcode, where=where,
                text=body.text, variables=service.variables_of(body.program, shortcode),
                now=call.context.clock(), sample_size=body.sample_size,
                link_base=call.context.settings.link_base())
            await audit.samples_shown(conn, call.user, call.client, found.samples)
    except (AudienceError, BroadcastTextError, service.BroadcastError, ComposeError) as err:
        raise _refused(err) from None
    report = found.text
    return {"recipients": found.recipients, "shortcode": shortcode,
            "segment": {"id": segment[0], "name": segment[1], "filter": where}
            if segment else None,
            "encoding": report.base.encoding, "segments": report.base.segments,
            "characters": report.base.characters,
            "worst_case_segments": report.worst_case_segments,
            "warnings": list(report.warnings),
            "samples": [{"msisdn": m, "text": t} for m, t in found.samples]}


@routes.post("/api/v1/broadcasts", name="broadcasts.create", body=NewBroadcast, status=201,
             summary="Create a draft (or, with scheduled_at, a scheduled broadcast)")
async def create(call: Call) -> dict[str, Any]:
    body = call.body_as(NewBroadcast)
    rules = rules_in_force(call.context)
    zone = send_time.organizer_zone(call.context.settings)
    try:
        shortcode = service.shortcode_of(rules, body.program, body.shortcode,
                                         call.context.settings.shortcode)
        where, segment = body.where, None
        async with call.pool.acquire() as conn, conn.transaction():
            if body.segment_id is not None:
                where, segment = await _segment(conn, body, rules, call.context.settings.shortcode)
            broadcast_id = await service.create(
                conn, rules=rules, program=body.program, shortcode=shortcode, where=where,
                text=body.text, created_by=call.user.email, now=call.context.clock(),
                scheduled_at=body.scheduled_at, zone=zone,
                override_frequency=body.override_frequency, segment=segment,
                ab=_ab_test(body))
            await call.audit(conn, audit.BROADCAST_CREATED, f"broadcast:{broadcast_id}",
                             program=body.program, where=where,
                             scheduled_at=body.scheduled_at,
                             override_frequency=body.override_frequency,
                             segment_id=body.segment_id)
            broadcast = await store.get_broadcast(conn, broadcast_id)
    except (AudienceError, BroadcastTextError, service.BroadcastError, ComposeError) as err:
        raise _refused(err) from None
    assert broadcast is not None
    return {"broadcast": _shown(broadcast, zone)}


async def _segment(conn: asyncpg.Connection, body: NewBroadcast | PreviewRequest, rules: Rules,
                   default_shortcode: str) -> tuple[str, tuple[int, str]]:
    """The saved segment's filter now, and (id, name) to record; refused if it does not fit."""
    assert body.segment_id is not None
    if body.where.strip():
        raise bad_request("give a segment_id or a where filter, not both", field="where")
    found = await segment_service.resolve(conn, body.segment_id, rules=rules,
                                          default_shortcode=default_shortcode)
    if found.segment.program != body.program:
        raise bad_request(f"segment {body.segment_id} is of the program "
                          f"{found.segment.program!r}, not {body.program!r}", field="segment_id")
    return found.segment.filter, (found.segment.id, found.segment.name)


def _ab_test(body: NewBroadcast) -> ab_test.AbTest | None:
    test = body.ab_test
    if test is None:
        return None
    return ab_test.AbTest((body.text, *test.variants), test.test_percent, test.metric,
                          timedelta(hours=test.wait_hours), auto=test.auto)


def _shown(broadcast: store.Broadcast, zone: str) -> dict[str, Any]:
    """The stored broadcast (times in UTC), with its send time in the organizer's zone."""
    at = broadcast.scheduled_at
    shown = asdict(broadcast)
    window = shown.pop("frequency_window")  # the promise's period, in whole days
    wait = shown.pop("ab_wait")
    return {**shown, "frequency_period_days": window.days if window else None,
            "ab_wait_hours": wait.total_seconds() / 3600 if wait else None,
            "time_zone": zone,
            "scheduled_at_local": send_time.local_iso(at, zone) if at else None}


def _held(groups: list[held.HeldGroup], zone: str) -> list[dict[str, Any]]:
    return [{"zones": list(g.zones), "window": g.window, "waiting": g.waiting,
             "release_at": g.release_at,
             "release_at_local": send_time.local_iso(g.release_at, zone) if g.release_at
             else None} for g in groups]


@routes.get("/api/v1/broadcasts/{broadcast_id}", name="broadcasts.get",
            summary="One broadcast with its progress")
async def get(call: Call) -> dict[str, Any]:
    broadcast_id = call.path_int("broadcast_id")
    zone = send_time.organizer_zone(call.context.settings)
    async with call.pool.acquire() as conn:
        broadcast = await store.get_broadcast(conn, broadcast_id)
        progress = await store.get_progress(conn, broadcast_id)
        groups = await held.held_groups(conn, broadcast_id, now=call.context.clock())
    if broadcast is None:
        raise not_found(f"broadcast {broadcast_id}")
    return {"broadcast": _shown(broadcast, zone), "progress": progress,
            "held": _held(groups, zone)}


@routes.get("/api/v1/broadcasts/{broadcast_id}/progress", name="broadcasts.progress",
            summary="Live counts: queued, deferred, sending, sent, delivered, failed...")
async def progress(call: Call) -> dict[str, Any]:
    broadcast_id = call.path_int("broadcast_id")
    async with call.pool.acquire() as conn:
        found = await store.get_progress(conn, broadcast_id)
    if found is None:
        raise not_found(f"broadcast {broadcast_id}")
    return found


@routes.get("/api/v1/broadcasts/{broadcast_id}/results", name="broadcasts.results",
            summary="Sent, delivered, failed by reason, clicks, replies, opt-outs, gifts")
async def results_of(call: Call) -> dict[str, Any]:
    broadcast_id = call.path_int("broadcast_id")
    async with call.pool.acquire() as conn:
        if await store.get_status(conn, broadcast_id) is None:
            raise not_found(f"broadcast {broadcast_id}")
        found = await results.results_of(conn, broadcast_id)
    return found.as_data()


async def _change(call: Call, action: str, change: Callable[[asyncpg.Connection, int],
                  Awaitable[Any]], **detail: Any) -> dict[str, Any]:
    broadcast_id = call.path_int("broadcast_id")
    try:
        async with call.pool.acquire() as conn, conn.transaction():
            if await store.get_status(conn, broadcast_id) is None:
                raise not_found(f"broadcast {broadcast_id}")
            outcome = await change(conn, broadcast_id)
            await call.audit(conn, action, f"broadcast:{broadcast_id}", **detail)
            status = await store.get_status(conn, broadcast_id)
    except (service.BroadcastError, ComposeError) as err:
        raise _refused(err) from None
    answer: dict[str, Any] = {"id": broadcast_id, "status": status}
    if action == audit.BROADCAST_CANCELLED:
        answer["never_sent"] = outcome
    if action == audit.BROADCAST_WINNER_CHOSEN:
        answer["winner"] = outcome
    return answer


@routes.post("/api/v1/broadcasts/{broadcast_id}/schedule", name="broadcasts.schedule",
             body=ScheduleRequest, summary="Schedule a draft (or move a scheduled one)")
async def schedule(call: Call) -> dict[str, Any]:
    at = call.body_as(ScheduleRequest).at
    zone = send_time.organizer_zone(call.context.settings)
    now = call.context.clock()
    return await _change(call, audit.BROADCAST_SCHEDULED,
                         lambda conn, bid: control.schedule(conn, bid, at, now=now, zone=zone),
                         at=at)


@routes.post("/api/v1/broadcasts/{broadcast_id}/start", name="broadcasts.start",
             summary="Start sending now (quiet hours still apply per recipient)")
async def start(call: Call) -> dict[str, Any]:
    return await _change(call, audit.BROADCAST_STARTED, control.start)


@routes.post("/api/v1/broadcasts/{broadcast_id}/pause", name="broadcasts.pause",
             summary="Stop claiming new messages; those in flight finish")
async def pause(call: Call) -> dict[str, Any]:
    return await _change(call, audit.BROADCAST_PAUSED, control.pause)


@routes.post("/api/v1/broadcasts/{broadcast_id}/resume", name="broadcasts.resume",
             summary="Resume a paused broadcast")
async def resume(call: Call) -> dict[str, Any]:
    return await _change(call, audit.BROADCAST_RESUMED, control.resume)


@routes.post("/api/v1/broadcasts/{broadcast_id}/winner", name="broadcasts.winner",
             body=WinnerRequest, summary="An A/B test's winner to everyone else")
async def winner(call: Call) -> dict[str, Any]:
    chosen = call.body_as(WinnerRequest).winner

    async def decide(conn: asyncpg.Connection, broadcast_id: int) -> int:
        return await service.decide(conn, broadcast_id, winner=chosen)
    return await _change(call, audit.BROADCAST_WINNER_CHOSEN, decide,
                         winner=chosen or "by_metric")


@routes.post("/api/v1/broadcasts/{broadcast_id}/cancel", name="broadcasts.cancel",
             summary="Cancel; waiting messages are never sent")
async def cancel(call: Call) -> dict[str, Any]:
    return await _change(call, audit.BROADCAST_CANCELLED, control.cancel)
