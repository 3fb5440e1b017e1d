"""A measured profile's roofline, drawn with plotext on log-log axes: x is a layer's
arithmetic intensity (FLOPs per byte moved), y its achieved FLOP/s. The memory roof (intensity
x peak bytes/s) rises to the ridge point, where the compute roof (peak FLOP/s) takes over;
each layer with FLOPs is a point, and the highlighted layer (or block: the sum of its leaves)
is marked apart and named, with its figures, under the chart."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual_plotext import PlotextPlot

from cnnexplorer import units
from cnnexplorer.app.charts import Series, caption
from cnnexplorer.app.widgets.profile_header import PhraseLines

if TYPE_CHECKING:
    from cnnexplorer.profile import LayerProfile, Profile

MEMORY_ROOF: tuple[int, int, int] = (230, 140, 40)
COMPUTE_ROOF: tuple[int, int, int] = (220, 60, 60)
LAYER_POINTS: tuple[int, int, int] = (80, 160, 255)
MARKED_POINT: tuple[int, int, int] = (255, 230, 0)
POINT = "•"
MARK = "◆"


def rgb_style(color: tuple[int, int, int]) -> str:
    """A Rich style of the colour, without spaces (a style string splits at them)."""
    return "rgb({},{},{})".format(*color)


def plotted(layer: LayerProfile) -> bool:
    """Whether the layer has a place on log-log axes (FLOPs, bytes and a time of its own)."""
    return layer.flops > 0 and layer.bytes > 0 and layer.forward_ms > 0


def point(layer: LayerProfile) -> tuple[float, float]:
    """The layer's place on the chart: (FLOPs per byte, achieved FLOP/s)."""
    return layer.intensity, layer.achieved_flops_per_s


def measured_layer(profile: Profile, path: str) -> LayerProfile | None:
    """The leaf at ``path``, or the block there as the sum of its leaves; None where nothing
    under ``path`` was timed (a training-only head in inference mode)."""
    try:
        return profile.container(path)
    except KeyError:
        return None


def decades(low: float, high: float) -> tuple[float, float]:
    """The powers of ten around [low, high]."""
    return 10 ** math.floor(math.log10(low)), 10 ** math.ceil(math.log10(high) + 1e-9)


def decade_label(value: float) -> str:
    """A tick's label: 0.01, 0.1, 1, 10, 100, 1K, 1G ... (SI suffixes from a thousand on)."""
    return units.count(value) if value >= 1 else f"{value:.{-math.floor(math.log10(value))}f}"


def rate(value: float, unit: str) -> str:
    """A rate with an SI prefix and three significant digits: 12.3 GFLOP/s, 20.1 GB/s."""
    text = units.count(value)
    return f"{text[:-1]} {text[-1]}{unit}" if text[-1].isalpha() else f"{text} {unit}"


def layer_phrases(profile: Profile, path: str, layer: LayerProfile | None) -> list[Text]:
    """The marked layer's figures, as phrases for the line under the chart."""
    name = Text(f"{MARK} {path or profile.model}", style="bold " + rgb_style(MARKED_POINT))
    if layer is None:
        return [name, Text("not timed: it did not run in this mode", style="dim")]
    peaks = profile.peaks
    kind = layer.type
    if kind == "(container)":
        kind = ("block" if path else "model") + ": sum of its leaves"
    moved = units.size(layer.bytes)
    phrases = [name + Text(f" {kind}"), Text(f"{units.count(layer.flops)} FLOPs"), Text(f"{moved} moved")]
    if not plotted(layer):
        return [*phrases, Text("no FLOPs counted: not on the chart", style="dim")]
    bound = rate(layer.bound_flops_per_s(peaks), "FLOP/s")
    return [
        *phrases,
        Text(f"{layer.intensity:.3g} FLOP/B"),
        Text(rate(layer.achieved_flops_per_s, "FLOP/s")),
        Text(f"{layer.percent_of_bound(peaks):.0f}% of its {layer.bound(peaks)} roof ({bound})"),
    ]


class RooflineChart(Vertical):
    """The roofline of ``profile``; ``marked`` is the highlighted layer's path and
    ``marked_point`` its place on the chart (None where it has none)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.profile: Profile | None = None
        self.marked: str | None = None
        self.marked_point: tuple[float, float] | None = None

    def compose(self) -> ComposeResult:
        yield PlotextPlot(id="roofline-plot")
        yield PhraseLines(id="roofline-layer")

    def show(self, profile: Profile, path: str | None = None) -> None:
        """Draw ``profile``'s roofline with the layer at ``path`` marked."""
        self.profile = profile
        self.mark(path or "")

    def mark(self, path: str) -> None:
        """Mark the layer (or block) at ``path``: the cursor of the layer table moved."""
        if self.profile is None:
            return
        self.marked = path
        layer = measured_layer(self.profile, path)
        self.marked_point = point(layer) if layer is not None and plotted(layer) else None
        self.query_one("#roofline-layer", PhraseLines).show_phrases(layer_phrases(self.profile, path, layer))
        self._draw()

    def on_resize(self) -> None:
        self._draw()

    def _draw(self) -> None:
        """Draw on linear axes of log10 values, ticks labelled with the powers of ten (plotext's
        own log scale transforms its data in place, so a second render of a figure fails)."""
        if self.profile is None:
            return
        profile, peaks = self.profile, self.profile.peaks
        points = [point(layer) for layer in profile.layers if plotted(layer)]
        ridge = peaks.ridge_intensity
        x_low, x_high = decades(min([ridge / 10, *(x for x, _ in points)]), max([ridge * 10, *(x for x, _ in points)]))
        lowest = min([x_low * peaks.bytes_per_s, *(y for _, y in points)])
        y_low, y_high = decades(lowest, peaks.flops_per_s * 1.5)  # the compute roof clear of the frame
        width = self.size.width or 80
        self.border_title = self._legend(width)
        plot = self.query_one(PlotextPlot)
        plt = plot.plt
        plt.clear_figure()
        plt.xlim(math.log10(x_low), math.log10(x_high))
        plt.ylim(math.log10(y_low), math.log10(y_high))
        x_ticks = _powers(x_low, x_high, most=max(2, (plot.size.width or 60) // 7))
        rows = (plot.size.height or 12) - 3  # less the frame and the x ticks' labels
        y_ticks = _powers(y_low, y_high, most=max(2, rows // 3))  # three rows apart: plotext rounds their places
        plt.xticks(_logs(x_ticks), [decade_label(x) for x in x_ticks])
        plt.yticks(_logs(y_ticks), [decade_label(y) for y in y_ticks])
        if (plot.size.height or 12) >= 12:  # else the title says it
            plt.xlabel("FLOP/byte")
        roofs = [
            ([x_low, ridge], [x_low * peaks.bytes_per_s, peaks.flops_per_s], MEMORY_ROOF),
            ([ridge, x_high], [peaks.flops_per_s, peaks.flops_per_s], COMPUTE_ROOF),
        ]
        for xs, ys, color in roofs:
            plt.plot(_logs(xs), _logs(ys), color=color, marker="braille")
        if points:
            plt.scatter(_logs([x for x, _ in points]), _logs([y for _, y in points]), color=LAYER_POINTS, marker=POINT)
        if self.marked_point is not None:
            x, y = self.marked_point
            plt.scatter(_logs([x]), _logs([y]), color=MARKED_POINT, marker=MARK)
        plot.refresh()

    def _legend(self, width: int) -> Text:
        """The title: the axes and the roofs in their colours, as long as ``width`` allows."""
        peaks = self.profile.peaks
        series = [
            Series(f"memory {rate(peaks.bytes_per_s, 'B/s')}", "memory", MEMORY_ROOF, []),
            Series(f"compute {rate(peaks.flops_per_s, 'FLOP/s')}", "compute", COMPUTE_ROOF, []),
        ]
        text = caption(("roofline: FLOP/s against FLOP/byte, log-log", "roofline"), series, width - 4)
        if text.cell_len + 10 <= width - 4:
            text.append(f"  {POINT} layers", style=rgb_style(LAYER_POINTS))
        return text


def _logs(values: list[float]) -> list[float]:
    return [math.log10(value) for value in values]


def _powers(low: float, high: float, most: int) -> list[float]:
    """Powers of ten from ``low`` to ``high``, every k-th so that at most ``most`` remain."""
    count = round(math.log10(high / low)) + 1
    every = max(1, math.ceil(count / most))
    return [low * 10 ** (k * every) for k in range((count - 1) // every + 1)]
