"""The dashboard: is the campaign flowing right now, and what happened today.

MO and MT rates over the last five minutes, opt-ins, opt-outs and donations
since midnight in the campaign's zone (GATEWAY_ORGANIZATION_TIMEZONE, the zone
finance reports use, so "today" means the same day on both pages), the
SMPP bind, and the last 24 hours as a bar chart drawn on the server.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from aiohttp import web

from gateway.store import dashboard as store
from gateway.web.pages.charts import bar_chart
from gateway.web.pages.frame import PageTable, View

pages = PageTable()

RATE_WINDOW = timedelta(minutes=5)
CHART_HOURS = 24


def start_of_day(now: datetime, zone: str) -> datetime:
    local = now.astimezone(ZoneInfo(zone))
    return datetime.combine(local.date(), time(), ZoneInfo(zone))


@pages.get("/dashboard", name="page.dashboard")
async def dashboard(view: View) -> web.StreamResponse:
    now = view.context.clock()
    zone = view.context.settings.organization_timezone
    today = start_of_day(now, zone)
    since_chart = now - timedelta(hours=CHART_HOURS - 1)
    async with view.context.pool.acquire() as conn:
        recent = await store.traffic_since(conn, now - RATE_WINDOW)
        hour = await store.traffic_since(conn, now - timedelta(hours=1))
        consent = await store.consent_since(conn, today)
        donations = await store.donations_since(conn, today)
        hourly = await store.list_hourly(conn, since=since_chart, until=now)
    minutes = RATE_WINDOW.total_seconds() / 60
    state = view.site.smpp_state() if view.site.smpp_state else "unknown"
    labels = [h.hour.astimezone(ZoneInfo(zone)).strftime("%H:%M") for h in hourly]
    chart = bar_chart(
        labels, {"MO (received)": [h.mo for h in hourly], "MT (sent)": [h.mt for h in hourly]},
        title="Messages per hour, last 24 hours",
        description=f"Texts received and sent per hour ({zone}), oldest on the left.",
        label_every=3)
    return view.render(
        "dashboard.html", title="Dashboard", zone=zone, smpp_state=state,
        mo_per_minute=recent.mo / minutes, mt_per_minute=recent.mt / minutes,
        mo_hour=hour.mo, mt_hour=hour.mt, consent=consent, donations=donations,
        chart=chart, hourly=list(zip(labels, hourly, strict=True)))
