"""Donations for finance staff: the report by day with its chart, the CSV download, and
reconciliation (the summary per source, its exceptions, and settlement uploads).

Figures come from gateway/finance through the finance service
(gateway/services/finance.py), so the page, `GET /api/v1/reports/donations`
and `gateway report donations` agree to the cent. The CSV link points at
the API route, which audits the download.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, get_args
from urllib.parse import quote, urlencode

from aiohttp import web

from gateway.finance import summary
from gateway.finance.formats import MappingError, load_mappings
from gateway.finance.reports import ReportRow
from gateway.phone import InvalidNumber, to_e164
from gateway.plain_words import N_, said
from gateway.services.errors import ServiceError
from gateway.services.finance import GroupBy, import_upload, report
from gateway.web.errors import bad_request
from gateway.web.filters import format_amount, format_when
from gateway.web.locale import Viewer
from gateway.web.pages.charts import BarChart, bar_chart, label_step
from gateway.web.pages.dashboard import start_of_day
from gateway.web.pages.dashboard_charts import axis_amount, day_label
from gateway.web.pages.frame import PageTable, View

pages = PageTable()

DEFAULT_DAYS = 30
EXCEPTIONS_SHOWN = 100


def _date(view: View, name: str, default: date | None) -> date | None:
    raw = view.query(name)
    if not raw:
        return default
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise bad_request(said(N_("%(raw)r is not a date (YYYY-MM-DD)"),
                               raw=raw), field=name) from None


ENGLISH = Viewer()  # the chart's words when no viewer is given (tests, the API)


def day_chart(rows: list[ReportRow], date_from: date, date_to: date,
              viewer: Viewer = ENGLISH) -> BarChart | None:
    """Gross per day in the currency that raised most; days without gifts show as zero."""
    if not rows:
        return None
    by_currency: dict[str, int] = {}
    for row in rows:
        by_currency[row.currency] = by_currency.get(row.currency, 0) + row.gross_cents
    currency = max(sorted(by_currency), key=lambda c: by_currency[c])
    gross = {row.group: row.gross_cents for row in rows if row.currency == currency}
    days = [date_from + timedelta(days=n) for n in range((date_to - date_from).days + 1)]
    return bar_chart(
        [day_label(day, viewer) for day in days],
        {viewer.gettext(N_("gross (%(currency)s)"), currency=currency):
         [gross.get(day.isoformat(), 0) for day in days]},
        title=viewer.gettext(N_("Donations by day, gross %(currency)s"), currency=currency),
        description=viewer.gettext(
            N_("Money taken per day from %(start)s to %(end)s, by date of the YES."),
            start=format_when(date_from, viewer), end=format_when(date_to, viewer)),
        label_every=label_step(len(days), 6),
        format_value=lambda cents: format_amount(cents, viewer, currency),
        format_tick=lambda cents: axis_amount(cents, currency, viewer))


@pages.get("/donations", name="page.donations")
async def donations(view: View) -> web.StreamResponse:
    """The report; a period it refuses shows the last 30 days, the refusal beside its field."""
    try:
        return await _report(view, _date(view, "date_to", None), _date(view, "date_from", None),
                             view.query("group_by", "day") or "day")
    except ServiceError as err:
        if err.status != 400:
            raise
        return await _report(view, None, None, "day", status=400, error=err,
                             typed={k: view.query(k) for k in ("date_from", "date_to")})


async def _report(view: View, date_to: date | None, date_from: date | None, group_by: str, *,
                  status: int = 200, error: ServiceError | None = None,
                  typed: dict[str, str] | None = None) -> web.StreamResponse:
    settings = view.context.settings
    date_to = date_to or start_of_day(view.context.clock(),
                                      settings.organization_timezone).date()
    date_from = date_from or date_to - timedelta(days=DEFAULT_DAYS - 1)
    if group_by not in get_args(GroupBy):
        raise bad_request(said(N_("group by one of %(choices)s"),
                               choices=', '.join(get_args(GroupBy))), field="group_by")
    found = await report(view.context.pool, settings, date_from=date_from, date_to=date_to,
                         group_by=group_by)
    params = {"date_from": date_from.isoformat(), "date_to": date_to.isoformat(),
              "group_by": group_by}
    chart = (day_chart(found.rows, date_from, date_to, view.viewer) if group_by == "day"
             else None)
    return view.render(
        "donations.html", status=status, title=N_("Donations"), report=found, params=params,
        groups=get_args(GroupBy), zone=settings.organization_timezone, chart=chart,
        csv_url="/api/v1/reports/donations?" + urlencode({**params, "format": "csv"}),
        error=error and {"field": error.field, "message": error.message},
        typed={**params, **(typed or {})})


@pages.get("/donations/donor", name="page.donations.donor")
async def donor(view: View) -> web.StreamResponse:
    """Finance staff find one donor's gifts by number (they see no contact pages)."""
    typed = view.query("number")
    try:
        number = to_e164(typed)
    except InvalidNumber:
        refused = bad_request(said(N_("%(typed)r is not a phone number: give it with its "
                                      "country code, like +12125550100"), typed=typed),
                              field="number")
        return await _report(view, None, None, "day", status=400, error=refused,
                             typed={"number": typed})
    return view.redirect(f"/contacts/{quote(number, safe='+')}/donations")


async def _reconciliation(view: View, *, status: int = 200,
                          imported: dict[str, Any] | None = None,
                          error: str | None = None) -> web.StreamResponse:
    settings = view.context.settings
    found = await summary.reconciliation(view.context.pool, now=view.context.clock())
    try:
        mappings = sorted(load_mappings(settings.finance_mappings))
    except MappingError as err:
        mappings, error = [settings.finance_default_mapping], str(err)
    return view.render(
        "reconciliation.html", status=status, title=N_("Reconciliation"), summary=found,
        sources=list(found.sources.values()), exceptions=found.exceptions[:EXCEPTIONS_SHOWN],
        more_exceptions=max(0, len(found.exceptions) - EXCEPTIONS_SHOWN),
        mappings=mappings, default_mapping=settings.finance_default_mapping,
        imported=imported, error=error)


@pages.get("/donations/reconciliation", name="page.reconciliation")
async def reconciliation(view: View) -> web.StreamResponse:
    return await _reconciliation(view)


@pages.post("/donations/reconciliation", name="page.reconciliation.upload")
async def reconciliation_import(view: View) -> web.StreamResponse:
    upload = view.form.get("file")
    data = getattr(upload, "file", None)
    if data is None:
        return await _reconciliation(
            view, status=400, error=view.viewer.gettext(N_("Choose a settlement file.")))
    name = str(getattr(upload, "filename", "") or "upload.csv")
    try:
        result = await import_upload(
            view.context.pool, view.context.settings, view.user, view.client, name=name,
            data=data.read(), mapping=view.field("mapping") or None)
    except ServiceError as err:
        return await _reconciliation(view, status=err.status, error=err.message)
    except ValueError as err:  # a parser refusing the whole file
        return await _reconciliation(view, status=400, error=str(err))
    return await _reconciliation(view, imported={
        "summary": result.summary(), "problems": [str(p) for p in result.problems]})
