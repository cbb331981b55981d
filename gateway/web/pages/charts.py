"""Bar charts as geometry for an inline SVG, computed on the server.

Why server-side SVG rather than a charting library in the browser: no
JavaScript and no build step, the chart is in the HTML a test (or a screen
reader, through its <title>, <desc> and the data table beside it) can read,
and the numbers are the ones the page's table shows. Pure: values in,
rectangles and labels out; the template only draws them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

LEFT, RIGHT, TOP, BOTTOM = 48, 8, 12, 36  # room for the axis labels


@dataclass(frozen=True, slots=True)
class Bar:
    series: int  # index of the series, for its CSS class
    x: float
    y: float
    width: float
    height: float
    tip: str  # "13:00 MO: 12", the bar's <title>


@dataclass(frozen=True, slots=True)
class Tick:
    position: float
    text: str


@dataclass(frozen=True, slots=True)
class BarChart:
    title: str
    description: str
    width: int
    height: int
    series: tuple[str, ...]
    bars: tuple[Bar, ...]
    x_labels: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]
    baseline: float  # y of the zero line
    plot_left: float
    plot_right: float


def nice_ceiling(value: int) -> int:
    """The smallest of 1, 2, 5 x 10^k at least `value` (at least 1): a readable axis top."""
    if value <= 1:
        return 1
    exponent = int(10 ** math.floor(math.log10(value)))
    for step in (1, 2, 5, 10):
        if step * exponent >= value:
            return step * exponent
    return 10 * exponent  # unreachable: 10 x 10^k >= value by the choice of k


def bar_chart(categories: Sequence[str], series: Mapping[str, Sequence[int]], *,
              title: str, description: str, width: int = 720, height: int = 240,
              label_every: int = 1, format_value: Callable[[int], str] = str) -> BarChart:
    """Grouped bars: one group per category, one bar per series in each group."""
    names = tuple(series)
    for name, values in series.items():
        if len(values) != len(categories):
            raise ValueError(f"series {name!r} has {len(values)} values for "
                             f"{len(categories)} categories")
    top = nice_ceiling(max((v for values in series.values() for v in values), default=0))
    plot_w, plot_h = width - LEFT - RIGHT, height - TOP - BOTTOM
    baseline = TOP + plot_h
    group_w = plot_w / max(len(categories), 1)
    bar_w = group_w * 0.8 / max(len(names), 1)
    bars = []
    for i, category in enumerate(categories):
        for s, name in enumerate(names):
            value = series[name][i]
            h = plot_h * value / top
            bars.append(Bar(series=s, x=round(LEFT + i * group_w + group_w * 0.1 + s * bar_w, 2),
                            y=round(baseline - h, 2), width=round(bar_w, 2),
                            height=round(h, 2),
                            tip=f"{category} {name}: {format_value(value)}"))
    step = max(label_every, 1)
    x_labels = tuple(Tick(round(LEFT + (i + 0.5) * group_w, 2), c)
                     for i, c in enumerate(categories) if i % step == 0)
    steps = _tick_steps(top)
    y_ticks = tuple(Tick(round(baseline - plot_h * k / steps, 2),
                         format_value(top * k // steps)) for k in range(steps + 1))
    return BarChart(title, description, width, height, names, tuple(bars), x_labels, y_ticks,
                    baseline, LEFT, width - RIGHT)


def _tick_steps(top: int) -> int:
    """Intervals on the value axis so every tick is a whole, round number."""
    if top <= 2:
        return top
    return 4 if str(top)[0] == "2" else 5
