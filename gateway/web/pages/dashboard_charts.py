"""The dashboard's campaign charts, drawn from gateway/services/campaign_stats.py's numbers.

Why apart from the page handler: the handler reads and renders; which chart
shows which series, their titles for screen readers, and how money labels
its axis are decided here, once, for the 7, 30 or 90 days chosen. Titles,
series names and day labels are in the viewer's language (gettext and
Babel's CLDR month names), as the page around them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from babel.dates import format_skeleton
from babel.numbers import format_compact_currency

from gateway.finance.money import MINOR_UNITS
from gateway.services.campaign_stats import CampaignNumbers
from gateway.web.filters import format_amount
from gateway.web.locale import Viewer
from gateway.web.pages.charts import CHAR_WIDTH, LEFT, RIGHT, BarChart, bar_chart, label_step

PLOT_WIDTH = 400 - LEFT - RIGHT  # bar_chart's default width, at its narrowest margins


@dataclass(frozen=True, slots=True)
class GiftCharts:
    currency: str
    gifts: BarChart
    amount: BarChart
    rows: list[tuple[date, int, int]]  # day, gifts, cents: the table beside the charts


@dataclass(frozen=True, slots=True)
class CampaignCharts:
    growth: BarChart  # opt-ins per day, stacked by keyword
    stops: BarChart  # opt-outs per day, stacked by short code
    gifts: list[GiftCharts]  # one pair per currency
    growth_days: list[tuple[object, ...]]  # (day, one count per growth series)
    stop_days: list[tuple[object, ...]]  # (day, one count per short code)


def day_label(day: date, viewer: Viewer) -> str:
    """A short day in the viewer's locale: "Dec 6", "6 déc."."""
    shown: str = format_skeleton("MMMd", day, locale=viewer.locale)
    return shown


def axis_amount(cents: int, currency: str, viewer: Viewer) -> str:
    """An amount short enough for the value axis: "$1.5K", "1,5 k €" (CLDR's compact form)."""
    amount = Decimal(cents).scaleb(-MINOR_UNITS.get(currency.upper(), 2))
    shown: str = format_compact_currency(amount, currency.upper(), locale=viewer.locale,
                                         fraction_digits=2)
    return shown


def day_chart(days: tuple[date, ...], series: dict[str, list[int]], *, viewer: Viewer,
              title: str, description: str, format_value: Callable[[int], str] = str,
              format_tick: Callable[[int], str] | None = None) -> BarChart:
    labels = [day_label(d, viewer) for d in days]
    return bar_chart(labels, series, title=title, description=description, stacked=True,
                     label_every=label_step(len(days), fitting(labels)),
                     format_value=format_value, format_tick=format_tick)


def fitting(labels: list[str], most: int = 7) -> int:
    """How many day labels fit side by side under a phone-wide chart ("6 déc." is wider
    than "Dec 6"), with a space's room between two; at most `most`."""
    room = PLOT_WIDTH / (CHAR_WIDTH * (max(map(len, labels), default=1) + 1))
    return max(2, min(most, int(room)))


def campaign_charts(numbers: CampaignNumbers, viewer: Viewer) -> CampaignCharts:
    window = numbers.window
    _ = viewer.gettext
    span = {"days": len(window.days), "zone": window.zone}
    growth = day_chart(
        window.days, numbers.opt_ins, viewer=viewer,
        title=_("New subscribers per day, by keyword, the last %(days)s days (%(zone)s)",
                **span),
        description=_("Confirmed opt-ins and re-subscriptions per day, stacked by the "
                      "keyword people texted, oldest day on the left."))
    stops = day_chart(
        window.days, numbers.opt_outs, viewer=viewer,
        title=_("Opt-outs per day, by short code, the last %(days)s days (%(zone)s)", **span),
        description=_("STOPs per day, stacked by short code, oldest day on the left."))

    def in_currency(currency: str) -> Callable[[int], str]:
        return lambda cents: format_amount(cents, viewer, currency)

    def on_axis(currency: str) -> Callable[[int], str]:
        return lambda cents: axis_amount(cents, currency, viewer)

    gifts = [
        GiftCharts(
            currency,
            day_chart(window.days, {_("gifts (%(currency)s)", currency=currency): counts},
                      viewer=viewer,
                      title=_("Gifts per day (%(currency)s), the last %(days)s days "
                              "(%(zone)s)", currency=currency, **span),
                      description=_("Gifts confirmed per day, by the date of the YES.")),
            day_chart(window.days, {_("amount (%(currency)s)", currency=currency): cents},
                      viewer=viewer,
                      title=_("Amount given per day (%(currency)s), the last %(days)s days "
                              "(%(zone)s)", currency=currency, **span),
                      description=_("The amount of the gifts confirmed per day."),
                      format_value=in_currency(currency),
                      format_tick=on_axis(currency)),
            list(zip(window.days, counts, cents, strict=True)))
        for currency, (counts, cents) in numbers.gift_days.items()]
    return CampaignCharts(
        growth, stops, gifts,
        list(zip(window.days, *numbers.opt_ins.values(), strict=True)),
        list(zip(window.days, *numbers.opt_outs.values(), strict=True)))
