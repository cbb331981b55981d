"""Outgoing webhooks for admins: the subscriptions and their state, make one (its secret
shown once), change it, rotate its secret, turn it off and on, delete it; per subscription
the delivery log with the receiver's last answers and a replay button per delivery.

The rules are gateway/services/webhooks.py's, the same as the API's
(/api/v1/webhooks, scope webhooks:manage). Why the secret goes through a
post/redirect/get: the form that makes (or rotates) it answers with a 303 to
the subscription's page, which shows the secret once to the admin who made
it and clears the offer in the same statement; reloading that page neither
shows it again nor makes a new one, and the secret is never in a URL.
Destructive forms (delete, rotate) ask first (pages/confirm.py's pattern).
"""

from __future__ import annotations

from typing import Any, Final

from aiohttp import web

from gateway.plain_words import N_
from gateway.services import webhooks
from gateway.services.errors import ServiceError
from gateway.store.webhook_events import EVENT_TYPES
from gateway.store.webhook_subscriptions import (
    DISABLED_BY_GATEWAY,
    DISABLED_BY_HAND,
    Subscription,
)
from gateway.web.pages import confirm
from gateway.web.pages.frame import PageTable, View
from gateway.web.sessions import CSRF_FIELD

pages = PageTable()

LOG_ROWS: Final = 50
ANSWER_CHARS: Final = 200  # of the receiver's answer shown in the log (500 are kept)


def off_reason(subscription: Subscription) -> tuple[str, str] | None:
    """Why it is off: ("auto", the last error) or ("hand", who); None when it is on."""
    if subscription.enabled:
        return None
    reason = subscription.disabled_reason or ""
    if reason.startswith(DISABLED_BY_GATEWAY):
        return "auto", reason.removeprefix(DISABLED_BY_GATEWAY)
    return "hand", reason.removeprefix(DISABLED_BY_HAND)


def _form(view: View, subscription: Subscription | None = None) -> dict[str, Any]:
    if view.request.method == "POST" and "url" in view.form:
        return {"url": view.field("url"), "description": view.field("description"),
                "event_types": [t for t in view.form.getall("event_types", [])
                                if isinstance(t, str)]}
    if subscription is None:
        return {"url": "", "description": "", "event_types": []}
    return {"url": subscription.url, "description": subscription.description,
            "event_types": list(subscription.event_types)}


def _id(view: View, name: str = "webhook_id") -> int:
    return int(view.request.match_info[name])


@pages.get("/webhooks", name="page.webhooks")
async def list_page(view: View) -> web.StreamResponse:
    return await _list(view)


async def _list(view: View, *, status: int = 200,
                errors: dict[str, str] | None = None) -> web.StreamResponse:
    async with view.context.pool.acquire() as conn:
        subscriptions = await webhooks.list_all(conn)
    return view.render(
        "webhooks.html", status=status, title=N_("Webhooks"), subscriptions=subscriptions,
        reasons={s.id: off_reason(s) for s in subscriptions}, event_types=EVENT_TYPES,
        form=_form(view), errors=errors or {}, done=view.query("done"),
        loopback_http=view.context.settings.webhooks_allow_loopback_http)


@pages.post("/webhooks", name="page.webhooks.create")
async def create(view: View) -> web.StreamResponse:
    form = _form(view)
    try:
        async with view.context.pool.acquire() as conn:
            made, _ = await webhooks.create(
                conn, view.user, view.client, url=form["url"],
                event_types=form["event_types"], description=form["description"][:500],
                allow_loopback_http=view.context.settings.webhooks_allow_loopback_http,
                reveal_at=view.context.clock())
    except ServiceError as err:
        if err.field not in ("url", "event_types"):
            raise
        return await _list(view, status=err.status, errors={err.field: err.message})
    return view.redirect(f"/webhooks/{made.id}", done="created")


@pages.get("/webhooks/{webhook_id}", name="page.webhook")
async def detail(view: View) -> web.StreamResponse:
    return await _detail(view)


async def _detail(view: View, *, status: int = 200,
                  errors: dict[str, str] | None = None) -> web.StreamResponse:
    webhook_id = _id(view)
    async with view.context.pool.acquire() as conn:
        subscription = await webhooks.get(conn, webhook_id)
        secret = None
        if view.request.method == "GET":  # shown once: this read takes the offer away
            secret = await webhooks.take_secret(conn, view.user, webhook_id,
                                                now=view.context.clock())
        log = await webhooks.deliveries(conn, webhook_id, status=None, limit=LOG_ROWS)
    return view.render(
        "webhook.html", status=status, title=N_("Webhook"), subscription=subscription,
        reason=off_reason(subscription), secret=secret, deliveries=log,
        event_types=EVENT_TYPES, form=_form(view, subscription), errors=errors or {},
        done=view.query("done"), answer_chars=ANSWER_CHARS,
        grace_hours=int(webhooks.ROTATION_GRACE.total_seconds() // 3600),
        loopback_http=view.context.settings.webhooks_allow_loopback_http)


@pages.post("/webhooks/{webhook_id}", name="page.webhook.update")
async def update(view: View) -> web.StreamResponse:
    form = _form(view)
    try:
        async with view.context.pool.acquire() as conn:
            await webhooks.update(
                conn, view.user, view.client, _id(view), url=form["url"],
                event_types=form["event_types"], description=form["description"][:500],
                allow_loopback_http=view.context.settings.webhooks_allow_loopback_http)
    except ServiceError as err:
        if err.field not in ("url", "event_types"):
            raise
        return await _detail(view, status=err.status, errors={err.field: err.message})
    return view.redirect(f"/webhooks/{_id(view)}", done="saved")


@pages.post("/webhooks/{webhook_id}/rotate", name="page.webhook.rotate")
async def rotate(view: View) -> web.StreamResponse:
    webhook_id = _id(view)
    if not confirm.confirmed(view):
        return await _ask(view, "rotate", N_("Make a new signing secret?"))
    async with view.context.pool.acquire() as conn:
        await webhooks.rotate_secret(conn, view.user, view.client, webhook_id,
                                     now=view.context.clock(), reveal=True)
    return view.redirect(f"/webhooks/{webhook_id}", done="rotated")


@pages.post("/webhooks/{webhook_id}/enabled", name="page.webhook.enabled")
async def set_enabled(view: View) -> web.StreamResponse:
    webhook_id = _id(view)
    enabled = view.field("enabled") == "true"
    async with view.context.pool.acquire() as conn:
        await webhooks.set_enabled(conn, view.user, view.client, webhook_id, enabled=enabled,
                                   now=view.context.clock())
    return view.redirect(f"/webhooks/{webhook_id}", done="enabled" if enabled else "disabled")


@pages.post("/webhooks/{webhook_id}/delete", name="page.webhook.delete")
async def delete(view: View) -> web.StreamResponse:
    if not confirm.confirmed(view):
        return await _ask(view, "delete", N_("Delete this webhook?"))
    async with view.context.pool.acquire() as conn:
        await webhooks.delete(conn, view.user, view.client, _id(view))
    return view.redirect("/webhooks", done="deleted")


@pages.post("/webhooks/{webhook_id}/deliveries/{delivery_id}/replay",
            name="page.webhook.replay")
async def replay(view: View) -> web.StreamResponse:
    webhook_id = _id(view)
    async with view.context.pool.acquire() as conn:
        await webhooks.replay(conn, view.user, view.client, webhook_id,
                              _id(view, "delivery_id"), now=view.context.clock())
    return view.redirect(f"/webhooks/{webhook_id}", done="replayed")


async def _ask(view: View, step: str, title: str) -> web.Response:
    """The confirm step: what will happen, the same form again with `confirmed=yes`."""
    async with view.context.pool.acquire() as conn:
        subscription = await webhooks.get(conn, _id(view))
    kept = [(name, value) for name, value in view.form.items()
            if isinstance(value, str) and name not in (CSRF_FIELD, confirm.CONFIRMED)]
    return view.render("webhook_confirm.html", title=title, step=step,
                       subscription=subscription, action=view.request.path, kept=kept,
                       back=f"/webhooks/{subscription.id}",
                       grace_hours=int(webhooks.ROTATION_GRACE.total_seconds() // 3600))
