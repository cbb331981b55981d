"""Chart axes fit the data: nice ticks that cover the tallest bar, few enough for a phone.

Why a property test: the axis is arithmetic on any count or amount a campaign
produces (0 gifts, 3 opt-ins, $12,345.67 in cents), and the old axis drew a
bar filling the chart or one lost at the bottom for some of them.
"""

from __future__ import annotations

import itertools
import math

from hypothesis import given
from hypothesis import strategies as st

from gateway.engine.model import Language
from gateway.web.filters import format_amount
from gateway.web.locale import Viewer
from gateway.web.pages.charts import CHAR_WIDTH, MAX_TICKS, axis_ticks, bar_chart, label_step
from gateway.web.pages.dashboard_charts import axis_amount

NICE = (1, 2, 5)


def nice(step: int) -> bool:
    exponent = 10 ** int(math.log10(step))
    return step % exponent == 0 and step // exponent in NICE


@given(st.integers(min_value=0, max_value=10**12))
def test_ticks_start_at_zero_cover_the_peak_and_are_round(peak: int) -> None:
    ticks = axis_ticks(peak)
    step = ticks[1] - ticks[0]
    assert ticks[0] == 0 and ticks[-1] >= peak
    assert 2 <= len(ticks) <= MAX_TICKS
    assert all(b - a == step for a, b in itertools.pairwise(ticks))
    assert nice(step)
    assert ticks[-1] - step < peak or peak == 0  # the last tick is the first one >= peak
    if peak:
        assert peak / ticks[-1] > 0.6  # the tallest bar fills most of the chart


@given(st.integers(min_value=1, max_value=10**12))
def test_no_smaller_round_step_would_do(peak: int) -> None:
    step = axis_ticks(peak)[1]
    if step > 1:  # the round step just below: 50 -> 20, 20 -> 10, 10 -> 5
        smaller = step * 2 // 5 if str(step)[0] == "5" else step // 2
        assert nice(smaller)
        assert math.ceil(peak / smaller) > MAX_TICKS - 1


@given(st.lists(st.tuples(st.integers(0, 500), st.integers(0, 500)), min_size=1, max_size=90))
def test_stacked_bars_stay_inside_the_plot(columns: list[tuple[int, int]]) -> None:
    chart = bar_chart([str(i) for i in range(len(columns))],
                      {"a": [a for a, _ in columns], "b": [b for _, b in columns]},
                      title="t", description="d", stacked=True,
                      label_every=label_step(len(columns)))
    top_of_plot = chart.y_ticks[-1].position
    for bar in chart.bars:  # y and height are each rounded to 0.01
        assert chart.plot_left <= bar.x and bar.x + bar.width <= chart.plot_right + 0.01
        assert bar.y >= top_of_plot - 0.01 and bar.y + bar.height <= chart.baseline + 0.02
    assert len(chart.x_labels) <= 7
    tallest = max(a + b for a, b in columns)
    if tallest:
        highest = min(bar.y for bar in chart.bars if bar.height > 0)
        assert (chart.baseline - highest) / (chart.baseline - top_of_plot) > 0.6


def test_the_tips_and_the_value_labels_use_the_formatter() -> None:
    chart = bar_chart(["Jul 1", "Jul 2"], {"amount": [2_550, 0]}, title="t", description="d",
                      format_value=lambda cents: f"${cents / 100:.2f}")
    assert [t.text for t in chart.y_ticks] == ["$0.00", "$10.00", "$20.00", "$30.00"]
    assert chart.bars[0].tip == "Jul 1 amount: $25.50"


@given(st.integers(min_value=0, max_value=10**12), st.sampled_from(["en", "fr"]),
       st.sampled_from(["USD", "EUR", "JPY"]))
def test_money_axis_labels_fit_left_of_the_plot(peak: int, language: str,
                                                currency: str) -> None:
    """French writes "20 $US" where English writes "$20": the plot moves right to make room."""
    viewer = Viewer(language="fr" if language == "fr" else "en")
    chart = bar_chart(["1", "2"], {"amount": [peak, 0]}, title="t", description="d",
                      format_value=lambda cents: format_amount(cents, viewer, currency),
                      format_tick=lambda cents: axis_amount(cents, currency, viewer))
    for tick in chart.y_ticks:  # anchored at its end, 4 units left of the plot
        assert CHAR_WIDTH * len(tick.text) <= chart.plot_left - 4, tick.text
    assert chart.plot_right - chart.plot_left >= 200  # still a chart, not all labels


@given(st.integers(min_value=1, max_value=366), st.sampled_from(["en", "fr"]))
def test_the_donations_chart_labels_days_in_the_locale_without_crowding(
        days: int, language: Language) -> None:
    """The donations report's chart: short local days ("6 déc."), at most about six of
    them under a phone-wide chart, and amounts in the viewer's locale on the axis."""
    from datetime import date, timedelta

    from gateway.finance.reports import ReportRow
    from gateway.web.pages.donations import day_chart

    start = date(2026, 1, 1)
    rows = [ReportRow(group=(start + timedelta(days=n)).isoformat(), currency="USD",
                      count=1, gross_cents=1_000 * (n % 7 + 1)) for n in range(days)]
    viewer = Viewer(language=language)
    chart = day_chart(rows, start, start + timedelta(days=days - 1), viewer)
    assert chart is not None
    assert 1 <= len(chart.x_labels) <= 7
    assert all("-" not in label.text for label in chart.x_labels)  # not ISO dates
    texts = [tick.text for tick in chart.y_ticks]
    if language == "fr":
        assert any("$" in t for t in texts[1:]) and not any("." in t for t in texts[1:])
    tip = chart.bars[0].tip
    assert format_amount(1_000, viewer, "USD") in tip
