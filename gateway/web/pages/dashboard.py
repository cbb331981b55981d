"""The dashboard: is the campaign flowing right now, and what did it bring.

"Right now" and "Today": MO and MT rates over the last five minutes, opt-ins,
opt-outs and donations since midnight in the organization's zone, the SMPP
bind, the last 24 hours per hour. Below, the campaign's questions over a
chosen 7, 30 or 90 days (gateway/services/campaign_stats.py): which keyword
and short code grew the list, what each broadcast brought (replies, STOPs,
gifts credited by the rule of migration 340), gifts per day, and questions
waiting per theme against their SLA. Charts are SVG drawn on the server
(charts.py); each has its numbers in a table beside it.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from aiohttp import web

from gateway.plain_words import N_, said
from gateway.services import campaign_stats
from gateway.services.campaign_stats import DEFAULT_RANGE, RANGES, organization_zone
from gateway.store import dashboard as store
from gateway.web.context import rules_in_force
from gateway.web.errors import ApiError, bad_request
from gateway.web.pages.charts import bar_chart, label_step
from gateway.web.pages.dashboard_charts import campaign_charts
from gateway.web.pages.frame import PageTable, View

pages = PageTable()

RATE_WINDOW = timedelta(minutes=5)
CHART_HOURS = 24


def start_of_day(now: datetime, zone: str) -> datetime:
    local = now.astimezone(ZoneInfo(zone))
    return datetime.combine(local.date(), time(), ZoneInfo(zone))


def chosen_range(raw: str) -> int:
    """The `days` select: one of RANGES; empty means the default."""
    if not raw:
        return DEFAULT_RANGE
    if raw not in {str(n) for n in RANGES}:
        raise bad_request(said(N_("days must be one of %(ranges)s, not %(raw)r"),
                               ranges=', '.join(map(str, RANGES)), raw=raw),
                          field="days")
    return int(raw)


@pages.get("/dashboard", name="page.dashboard")
async def dashboard(view: View) -> web.StreamResponse:
    now = view.context.clock()
    zone = organization_zone(view.context.settings)
    days = chosen_range(view.query("days"))
    today = start_of_day(now, zone)
    since_chart = now - timedelta(hours=CHART_HOURS - 1)
    async with view.context.pool.acquire() as conn:
        recent = await store.traffic_since(conn, now - RATE_WINDOW)
        hour = await store.traffic_since(conn, now - timedelta(hours=1))
        consent = await store.consent_since(conn, today)
        donations = await store.donations_since(conn, today)
        hourly = await store.list_hourly(conn, since=since_chart, until=now)
    try:
        rules = rules_in_force(view.context)
    except ApiError:  # an unreadable keywords file: themes from the questions alone
        rules = None
    numbers = await campaign_stats.campaign_numbers(
        view.context.pool, rules=rules, now=now, zone=zone, days=days,
        words=view.viewer.gettext)
    minutes = RATE_WINDOW.total_seconds() / 60
    state = view.site.smpp_state() if view.site.smpp_state else "unknown"
    labels = [h.hour.astimezone(ZoneInfo(zone)).strftime("%H:%M") for h in hourly]
    viewer = view.viewer
    chart = bar_chart(
        labels, {viewer.gettext("MO (received)"): [h.mo for h in hourly],
                 viewer.gettext("MT (sent)"): [h.mt for h in hourly]},
        title=viewer.gettext("Messages per hour, last 24 hours"),
        description=viewer.gettext(
            "Texts received and sent per hour (%(zone)s), oldest on the left.", zone=zone),
        label_every=label_step(len(labels), 6))
    charts = campaign_charts(numbers, viewer)
    return view.render(
        "dashboard.html", title=N_("Dashboard"), zone=zone, smpp_state=state,
        mo_per_minute=recent.mo / minutes, mt_per_minute=recent.mt / minutes,
        mo_hour=hour.mo, mt_hour=hour.mt, consent=consent, donations=donations,
        chart=chart, hourly=list(zip(labels, hourly, strict=True)),
        days=days, ranges=RANGES, numbers=numbers, charts=charts)
