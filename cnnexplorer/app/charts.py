"""Charts: thinning, smoothing and sparklines of a run's curves, horizontal bars to an eighth
of a cell (the explorer's stage bars), readable axis ticks, and the jobs screen's chart panel
(a caption that names the series in their colours, then the plot, or a line of text where
there is nothing to plot)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static
from textual_plotext import PlotextPlot

from cnnexplorer import units

RGB = tuple[int, int, int]


def thin(points: list[tuple[int, float]], most: int = 600) -> list[tuple[int, float]]:
    """Every k-th point (and the last), so that a chart draws at most ``most`` of them."""
    if len(points) <= most:
        return points
    step = len(points) / (most - 1)
    return [points[int(i * step)] for i in range(most - 1)] + [points[-1]]


def smooth(values: list[float], weight: float = 0.9) -> list[float]:
    """Exponential moving average, debiased as TensorBoard does."""
    smoothed, average = [], 0.0
    for index, value in enumerate(values, start=1):
        average = weight * average + (1 - weight) * value
        smoothed.append(average / (1 - weight**index))
    return smoothed


_BLOCKS = "▁▂▃▄▅▆▇█"


def sparkline(values: list[float], width: int = 16) -> str:
    """A one-line chart of the values, resampled to ``width`` characters (sampled before
    anything else is done, so that a long run costs no more than a short one)."""
    if len(values) > width:
        step = len(values) / width
        values = [values[int(i * step)] for i in range(width - 1)] + [values[-1]]
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return ""
    low, high = min(finite), max(finite)
    scale = (len(_BLOCKS) - 1) / (high - low) if high > low else 0
    return "".join(_BLOCKS[int((v - low) * scale)] for v in finite)


def cut_middle(label: str, width: int) -> str:
    """``label`` in at most ``width`` cells, cut in the middle where longer: both ends tell
    shufflenet_v2_x1_0 from x1_5, and features.denseblock1 from denseblock4."""
    if len(label) <= width:
        return label
    head = (width - 1) // 2
    return f"{label[:head]}…{label[len(label) - (width - 1 - head) :]}"


_EIGHTHS = " ▏▎▍▌▋▊▉"


def bar(value: float, largest: float, width: int) -> str:
    """A horizontal bar ``value / largest`` of ``width`` cells long, to an eighth of a cell
    (a value above zero shows at least an eighth)."""
    if value <= 0 or largest <= 0:
        return ""
    eighths = max(1, round(min(value / largest, 1.0) * width * 8))
    full, part = divmod(eighths, 8)
    return "█" * full + _EIGHTHS[part].strip()


# Ticks --------------------------------------------------------------------------------------

_NICE = (1.0, 2.0, 2.5, 5.0, 10.0)
_FLAT = 2e-3  # a range narrower than this share of its values is drawn as a flat line


@dataclass(frozen=True)
class Axis:
    """An axis's limits and its ticks with their labels."""

    low: float
    high: float
    ticks: list[float]
    labels: list[str]


def axis(values: list[float], most: int = 5, whole: bool = False, tight: bool = False) -> Axis:
    """Ticks on round numbers (1, 2, 2.5 or 5 times a power of ten apart), labelled with a few
    significant digits (SI suffixes from a thousand on). The limits are the ticks around
    ``values`` (at most ``most`` ticks); where ``tight``, the values' own range, with as many
    ticks inside it as fit in ``most`` (two at least). ``whole``: ticks on whole numbers only
    (steps, epochs). One value, or a flat line, gets a band around it."""
    finite = [v for v in values if math.isfinite(v)] or [0.0]
    low, high = min(finite), max(finite)
    middle = (low + high) / 2
    least = max(abs(middle) * _FLAT, 1.0 if whole else 1e-9)
    if high - low < least:
        low, high = middle - least / 2, middle + least / 2
    if not tight:
        step = _nice_steps(high - low, whole, (high - low) / max(most - 1, 1))[0]
        ticks = _ticks_on(low, high, step, outside=True)
        return Axis(ticks[0], ticks[-1], ticks, [tick_label(tick, step) for tick in ticks])
    choices = [(step, _ticks_on(low, high, step)) for step in _nice_steps(high - low, whole, 0.0)]
    fitting = [(step, ticks) for step, ticks in choices if 2 <= len(ticks) <= max(most, 2)]
    step, ticks = fitting[0] if fitting else next((c for c in reversed(choices) if c[1]), choices[0])
    return Axis(low, high, ticks, [tick_label(tick, step) for tick in ticks])


def _nice_steps(span: float, whole: bool, least: float) -> list[float]:
    """Round tick spacings from a hundredth of ``span`` up to ``span``, those of at least
    ``least``, smallest first (whole numbers only where ``whole``)."""
    top = math.floor(math.log10(span))
    steps = [factor * 10**power for power in range(top - 2, top + 1) for factor in _NICE[:-1]]
    steps = [step for step in steps if step >= least * (1 - 1e-9)] or [10 ** (top + 1)]
    if whole:
        steps = [step for step in steps if step >= 1 and step == round(step)] or [1.0]
    return steps


def _ticks_on(low: float, high: float, step: float, outside: bool = False) -> list[float]:
    """The multiples of ``step`` in [low, high], or, ``outside``, from the one at or below
    ``low`` to the one at or above ``high``."""
    if outside:
        first, last = math.floor(low / step + 1e-9), math.ceil(high / step - 1e-9)
    else:
        first, last = math.ceil(low / step - 1e-9), math.floor(high / step + 1e-9)
    return [round(index * step, 12) for index in range(first, last + 1)]


def tick_label(value: float, step: float) -> str:
    """A tick's label: as many decimals as the tick spacing needs; SI suffixes (units.count)
    from a thousand on."""
    if abs(value) >= 1000:
        return units.count(value)
    decimals = max(0, -math.floor(math.log10(step)))
    if round(step, decimals) != step:
        decimals += 1
    text = f"{value:.{decimals}f}"
    return "0" if float(text) == 0 else text


# The chart panel -------------------------------------------------------------------------


@dataclass(frozen=True)
class Series:
    """One line of a chart: its legend (and a shorter one for narrow charts), colour and points."""

    label: str
    short: str
    color: RGB
    points: list[tuple[float, float]]
    right: bool = False  # on the right-hand y axis


def caption(titles: tuple[str, str], series: list[Series], width: int) -> Text:
    """The chart's title and legend on one line: the longest of the forms that fits ``width``
    (the title, then each series' name in its colour; shorter names, then a shorter title)."""
    forms = [(titles[0], False), (titles[0], True), (titles[1], True)]
    text = Text()
    for title, short in forms:
        text = Text(title, style="bold")
        for item in series:
            text.append("  ━ " if not short else " ━", style=f"rgb({item.color[0]},{item.color[1]},{item.color[2]})")
            text.append(item.short if short else item.label)
        if text.cell_len <= width:
            break
    return text


class ChartPanel(Vertical):
    """A caption line, then a plotext chart of some series, or a note where there is no
    chart to draw (no points yet, or a single value)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, classes="chart-panel")
        self._shown: tuple[tuple[str, str], list[Series], bool] | None = None

    def compose(self) -> ComposeResult:
        yield Static(classes="chart-caption")
        yield Static(classes="chart-note")
        yield PlotextPlot()

    @property
    def plot(self) -> PlotextPlot:
        return self.query_one(PlotextPlot)

    def show_note(self, titles: tuple[str, str], note: str | Text) -> None:
        """No chart: the caption and a line of text."""
        self._shown = None
        self.query_one(".chart-caption", Static).update(caption(titles, [], self.size.width or 80))
        self.query_one(".chart-note", Static).update(note)
        self.query_one(".chart-note").display = True
        self.plot.display = False

    def show_series(self, titles: tuple[str, str], series: list[Series], whole_x: bool = True) -> None:
        """Draw ``series`` with readable ticks on both axes; the legend goes in the caption."""
        self._shown = (titles, series, whole_x)
        self.query_one(".chart-note").display = False
        self.plot.display = True
        self._draw()

    def on_resize(self) -> None:
        if self._shown is not None:
            self._draw()

    def _draw(self) -> None:
        assert self._shown is not None
        titles, series, whole_x = self._shown
        width, height = self.size.width or 80, self.size.height or 12
        self.query_one(".chart-caption", Static).update(caption(titles, series, width))
        plt = self.plot.plt
        plt.clear_figure()
        x_axis = axis([x for item in series for x, _ in item.points], max(3, min(8, width // 8)), whole_x, tight=True)
        x_margin = (x_axis.high - x_axis.low) * 0.02  # the last point inside the frame
        plt.xlim(x_axis.low - x_margin, x_axis.high + x_margin)
        plt.xticks(x_axis.ticks, x_axis.labels)
        y_ticks = max(3, min(6, (height - 4) // 3 + 1))  # three rows apart, or more
        for right in (False, True):
            side = [item for item in series if item.right == right]
            if not side:
                continue
            yside = "right" if right else "left"
            y_axis = axis([y for item in side for _, y in item.points], y_ticks, tight=True)
            margin = (y_axis.high - y_axis.low) * 0.04  # lines clear of the frame
            plt.ylim(y_axis.low - margin, y_axis.high + margin, yside=yside)
            plt.yticks(y_axis.ticks, y_axis.labels, yside=yside)
            for item in side:
                points = thin(item.points, max(2, 2 * width))  # two per column: what the markers resolve
                xs, ys = [x for x, _ in points], [y for _, y in points]
                draw = plt.scatter if len(xs) == 1 else plt.plot
                draw(xs, ys, color=item.color, yside=yside)
        self.plot.refresh()
