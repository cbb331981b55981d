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
CHAR_WIDTH = 9.5  # an axis label's character at the phone stylesheet's 15px, in viewBox units


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


MAX_TICKS = 6  # value-axis labels, zero included: enough to read, few enough for a phone


def axis_ticks(peak: int) -> tuple[int, ...]:
    """The value axis for data up to `peak`: 0, step, 2 x step... up to the first tick >= peak.

    The step is the smallest of 1, 2, 5 x 10^k that covers `peak` in at most
    MAX_TICKS - 1 steps, so the tallest bar reaches at least about half the axis
    (5 gives 0-5, 11 gives 0-15, 2550 gives 0-3000), never a bar that fills the
    chart alone nor one lost at the bottom. A peak of 0 (no data) gives 0-1.
    """
    if peak <= 0:
        return (0, 1)
    step = 1
    while True:
        for factor in (1, 2, 5):
            if math.ceil(peak / (step * factor)) <= MAX_TICKS - 1:
                size = step * factor
                return tuple(size * k for k in range(math.ceil(peak / size) + 1))
        step *= 10


def nice_ceiling(value: int) -> int:
    """The top of the value axis for data up to `value` (axis_ticks' last tick)."""
    return axis_ticks(value)[-1]


def label_step(count: int, labels: int = 7) -> int:
    """Label every n-th category so at most about `labels` fit under a phone-wide chart."""
    return max(1, math.ceil(count / labels))


def bar_chart(categories: Sequence[str], series: Mapping[str, Sequence[int]], *,
              title: str, description: str, width: int = 400, height: int = 220,
              label_every: int = 1, format_value: Callable[[int], str] = str,
              format_tick: Callable[[int], str] | None = None,
              stacked: bool = False) -> BarChart:
    """One group per category: bars side by side, or one bar of stacked series.

    `format_value` writes a bar's value in its tooltip, `format_tick` (else
    `format_value`) a value-axis label, which must fit the LEFT margin.
    """
    names = tuple(series)
    for name, values in series.items():
        if len(values) != len(categories):
            raise ValueError(f"series {name!r} has {len(values)} values for "
                             f"{len(categories)} categories")
    if stacked:
        peak = max((sum(column) for column in zip(*series.values(), strict=True)), default=0)
    else:
        peak = max((v for values in series.values() for v in values), default=0)
    ticks = axis_ticks(peak)
    top = ticks[-1]
    tick_text = format_tick or format_value
    texts = [tick_text(t) for t in ticks]
    # a longer label ("20 $US", "1,5 k €") moves the plot right rather than being cut off
    left = max(LEFT, math.ceil(8 + CHAR_WIDTH * max(len(t) for t in texts)))
    plot_w, plot_h = width - left - RIGHT, height - TOP - BOTTOM
    baseline = TOP + plot_h
    group_w = plot_w / max(len(categories), 1)
    bar_w = group_w * 0.8 / (1 if stacked else max(len(names), 1))
    bars = []
    for i, category in enumerate(categories):
        below = 0.0
        for s, name in enumerate(names):
            value = series[name][i]
            h = plot_h * value / top
            x = left + i * group_w + group_w * 0.1 + (0 if stacked else s * bar_w)
            bars.append(Bar(series=s, x=round(x, 2), y=round(baseline - below - h, 2),
                            width=round(bar_w, 2), height=round(h, 2),
                            tip=f"{category} {name}: {format_value(value)}"))
            if stacked:
                below += h
    step = max(label_every, 1)
    x_labels = tuple(Tick(round(left + (i + 0.5) * group_w, 2), c)
                     for i, c in enumerate(categories) if i % step == 0)
    y_ticks = tuple(Tick(round(baseline - plot_h * t / top, 2), text)
                    for t, text in zip(ticks, texts, strict=True))
    return BarChart(title, description, width, height, names, tuple(bars), x_labels, y_ticks,
                    baseline, left, width - RIGHT)
