"""Local committees and events for organizers: the lists, an add form each, on/off switches.

Why the page validates with the service's own models and writes through its
functions (gateway/services/campaign_data.py, which the API calls too): a
committee added here and one added by a script must get the same checks,
the same derived area and position, and the same audit entry. A refused form is shown again
with what was typed and the reason beside the field, never emptied.

The form offers choices where the API takes codes: the program by its name, the
country by its name, the time zone by its place ("Central Time — Chicago"), and
the start as a date-and-time picker read in that zone (wall-clock time, as an
organizer thinks of it), which the page turns into the instant the API takes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aiohttp import web
from pydantic import BaseModel, ValidationError

from gateway.plain_words import N_
from gateway.services import campaign_data as service
from gateway.services.errors import ServiceError
from gateway.store import committees as store
from gateway.web.choices import country_choices, program_choices, zone_options
from gateway.web.context import rules_in_force
from gateway.web.form_errors import field_errors
from gateway.web.locale import Viewer
from gateway.web.pages.frame import PageTable, View

pages = PageTable()
M = TypeVar("M", bound=BaseModel)
COMMITTEE_FIELDS = ("name", "address", "postal_code", "country", "city", "phone")
EVENT_FIELDS = ("title", "starts_local", "timezone", "location", "program", "postal_code",
                "country")
PICKER_FORMATS = ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S")  # what datetime-local sends


@pages.get("/campaign", name="page.campaign")
async def campaign(view: View) -> web.StreamResponse:
    return await _show(view)


@pages.post("/campaign/committees", name="page.campaign.committee")
async def add_committee(view: View) -> web.StreamResponse:
    typed = _typed(view, COMMITTEE_FIELDS)
    body, errors = _parsed(service.CommitteeBody, typed, view.viewer)
    if body is None:
        return await _show(view, status=400, committee_form=typed, committee_errors=errors)
    await service.add_committee(view.context.pool, view.user, view.client, body)
    return view.redirect("/campaign", added="committee")


@pages.post("/campaign/events", name="page.campaign.event")
async def add_event(view: View) -> web.StreamResponse:
    typed = _typed(view, EVENT_FIELDS)
    given = {k: v for k, v in typed.items() if k != "starts_local"}
    starts_at, when_error = starts_instant(typed["starts_local"], typed["timezone"],
                                           view.viewer)
    if starts_at is not None:
        given["starts_at"] = starts_at.isoformat()
    body, errors = _parsed(service.EventBody, given, view.viewer)
    if when_error:
        errors["starts_local"] = when_error
    errors.setdefault("starts_local", errors.pop("starts_at", ""))
    if body is not None and not errors["starts_local"]:
        try:
            await service.add_event(view.context.pool, view.user, view.client, body,
                                    rules_in_force(view.context))
            return view.redirect("/campaign", added="event")
        except ServiceError as err:
            if err.field is None or err.status != 400:
                raise
            errors[err.field] = err.message
    return await _show(view, status=400, event_form=typed,
                       event_errors={k: v for k, v in errors.items() if v})


@pages.post("/campaign/committees/{committee_id}/active", name="page.campaign.committee.switch")
async def switch_committee(view: View) -> web.StreamResponse:
    await service.switch_committee(view.context.pool, view.user, view.client,
                               _path_id(view, "committee_id"), view.field("on") == "true")
    return view.redirect("/campaign")


@pages.post("/campaign/events/{event_id}/published", name="page.campaign.event.switch")
async def switch_event(view: View) -> web.StreamResponse:
    await service.switch_event(view.context.pool, view.user, view.client,
                           _path_id(view, "event_id"), view.field("on") == "true")
    return view.redirect("/campaign")


def starts_instant(local: str, zone: str, viewer: Viewer) -> tuple[datetime | None, str]:
    """The picker's wall-clock time read in `zone`, or why it cannot be (in `viewer`'s words).

    A time the clocks skip (the spring-forward hour) does not exist in the zone
    and is refused; one they repeat (the fall-back hour) is the first of the two.
    """
    if not local:
        return None, viewer.gettext("Choose a date and a time.")
    for fmt in PICKER_FORMATS:
        try:
            naive = datetime.strptime(local, fmt)
            break
        except ValueError:
            continue
    else:
        return None, viewer.gettext(
            "Choose a date and a time with the picker (year-month-day, hour:minute).")
    try:
        tz = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        return None, ""  # the time zone field says what is wrong
    instant = naive.replace(tzinfo=tz)
    back = instant.astimezone(ZoneInfo("UTC")).astimezone(tz).replace(tzinfo=None)
    if back != naive:
        return None, viewer.gettext(
            "%(time)s does not exist on %(day)s in this time zone (the clocks go forward "
            "that night): choose another time.",
            time=naive.strftime("%H:%M"), day=naive.date().isoformat())
    return instant, ""


async def _show(view: View, *, status: int = 200, **values: Any) -> web.Response:
    async with view.context.pool.acquire() as conn:
        committees = await store.list_committees(conn)
        events = await store.list_events(conn)
    rules = rules_in_force(view.context)
    programs = {c.value: c.label for c in program_choices(rules)}
    countries = country_choices(view.viewer.language)
    return view.render(
        "campaign.html", status=status, title=N_("Committees and events"),
        committees=committees, events=events, added=view.query("added"),
        programs=programs, countries=countries,
        country_names={c.value: c.label for c in countries},
        programs_list=program_choices(rules),
        zones=zone_options(view.context.settings.organization_timezone,
                           values.get("event_form", {}).get("timezone", ""),
                           locale=view.viewer.language, now=view.context.clock()),
        default_zone=view.context.settings.organization_timezone,
        **{"committee_form": {}, "committee_errors": {}, "event_form": {},
           "event_errors": {}, **values})


def _typed(view: View, names: tuple[str, ...]) -> dict[str, str]:
    return {name: view.field(name) for name in names}


def _parsed(model: type[M], typed: dict[str, str], viewer: Viewer
            ) -> tuple[M | None, dict[str, str]]:
    """The body, or the reason per field (empty optional fields count as not given)."""
    given = {k: v for k, v in typed.items() if v != ""}
    try:
        return model.model_validate(given), {}
    except ValidationError as err:
        return None, field_errors(err, viewer)


def _path_id(view: View, name: str) -> int:
    raw = view.request.match_info[name]
    if not raw.isdecimal():
        raise web.HTTPNotFound()
    return int(raw)
