"""Local committees and events for organizers: the lists, an add form each, on/off switches.

Why the page validates with the service's own models and writes through its
functions (gateway/services/campaign_data.py, which the API calls too): a
committee added here and one added by a script must get the same checks,
the same derived area and position, and the same audit entry. A refused form is shown again
with what was typed and the reason beside the field, never emptied.
"""

from __future__ import annotations

from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from gateway.services import campaign_data as service
from gateway.store import committees as store
from gateway.web.pages.frame import PageTable, View

pages = PageTable()
M = TypeVar("M", bound=BaseModel)
COMMITTEE_FIELDS = ("name", "address", "postal_code", "country", "city", "phone")
EVENT_FIELDS = ("title", "starts_at", "timezone", "location", "program", "postal_code",
                "country")


@pages.get("/campaign", name="page.campaign")
async def campaign(view: View) -> web.StreamResponse:
    return await _show(view)


@pages.post("/campaign/committees", name="page.campaign.committee")
async def add_committee(view: View) -> web.StreamResponse:
    typed = _typed(view, COMMITTEE_FIELDS)
    body, errors = _parsed(service.CommitteeBody, typed)
    if body is None:
        return await _show(view, status=400, committee_form=typed, committee_errors=errors)
    await service.add_committee(view.context.pool, view.user, view.client, body)
    return view.redirect("/campaign", added="committee")


@pages.post("/campaign/events", name="page.campaign.event")
async def add_event(view: View) -> web.StreamResponse:
    typed = _typed(view, EVENT_FIELDS)
    body, errors = _parsed(service.EventBody, typed)
    if body is None:
        return await _show(view, status=400, event_form=typed, event_errors=errors)
    await service.add_event(view.context.pool, view.user, view.client, body)
    return view.redirect("/campaign", added="event")


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


async def _show(view: View, *, status: int = 200, **values: Any) -> web.Response:
    async with view.context.pool.acquire() as conn:
        committees = await store.list_committees(conn)
        events = await store.list_events(conn)
    return view.render("campaign.html", status=status, title="Committees and events",
                       committees=committees, events=events, added=view.query("added"),
                       **{"committee_form": {}, "committee_errors": {}, "event_form": {},
                          "event_errors": {}, **values})


def _typed(view: View, names: tuple[str, ...]) -> dict[str, str]:
    return {name: view.field(name) for name in names}


def _parsed(model: type[M], typed: dict[str, str]) -> tuple[M | None, dict[str, str]]:
    """The body, or the reason per field (empty optional fields count as not given)."""
    given = {k: v for k, v in typed.items() if v != ""}
    try:
        return model.model_validate(given), {}
    except ValidationError as err:
        errors: dict[str, str] = {}
        for problem in err.errors():
            where = str(problem["loc"][0]) if problem["loc"] else "form"
            errors.setdefault(where, str(problem["msg"]).removeprefix("Value error, "))
        return None, errors


def _path_id(view: View, name: str) -> int:
    raw = view.request.match_info[name]
    if not raw.isdecimal():
        raise web.HTTPNotFound()
    return int(raw)
