"""The dashboard's campaign charts, drawn from gateway/services/campaign_stats.py's numbers.

Why apart from the page handler: the handler reads and renders; which chart
shows which series, their titles for screen readers, and how money labels
its axis are decided here, once, for the 7, 30 or 90 days chosen.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from gateway.services.campaign_stats import CampaignNumbers
from gateway.web.pages.charts import BarChart, bar_chart, label_step

Money = Callable[[int, str], str]  # (cents, currency) -> text in the viewer's locale


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


def day_label(day: date) -> str:
    return f"{day:%b} {day.day}"


def day_chart(days: tuple[date, ...], series: dict[str, list[int]], *, title: str,
              description: str, format_value: Callable[[int], str] = str) -> BarChart:
    return bar_chart([day_label(d) for d in days], series, title=title,
                     description=description, stacked=True,
                     label_every=label_step(len(days)), format_value=format_value)


def campaign_charts(numbers: CampaignNumbers, money: Money) -> CampaignCharts:
    window = numbers.window
    span = f"the last {len(window.days)} days ({window.zone})"
    growth = day_chart(
        window.days, numbers.opt_ins, title=f"New subscribers per day, by keyword, {span}",
        description="Confirmed opt-ins and re-subscriptions per day, stacked by the keyword "
                    "people texted, oldest day on the left.")
    stops = day_chart(
        window.days, numbers.opt_outs, title=f"Opt-outs per day, by short code, {span}",
        description="STOPs per day, stacked by short code, oldest day on the left.")

    def in_currency(currency: str) -> Callable[[int], str]:
        return lambda cents: money(cents, currency)

    gifts = [
        GiftCharts(
            currency,
            day_chart(window.days, {f"gifts ({currency})": counts},
                      title=f"Gifts per day ({currency}), {span}",
                      description="Gifts confirmed per day, by the date of the YES."),
            day_chart(window.days, {f"amount ({currency})": cents},
                      title=f"Amount given per day ({currency}), {span}",
                      description="The amount of the gifts confirmed per day.",
                      format_value=in_currency(currency)),
            list(zip(window.days, counts, cents, strict=True)))
        for currency, (counts, cents) in numbers.gift_days.items()]
    return CampaignCharts(
        growth, stops, gifts,
        list(zip(window.days, *numbers.opt_ins.values(), strict=True)),
        list(zip(window.days, *numbers.opt_outs.values(), strict=True)))
