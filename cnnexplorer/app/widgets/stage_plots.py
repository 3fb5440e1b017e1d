"""Per-stage bar charts of parameters and MACs, drawn with plotext."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual_plotext import PlotextPlot

if TYPE_CHECKING:
    from cnnexplorer.analysis.structure import Stage


class StagePlots(Horizontal):
    """Two horizontal bar charts: parameters and MACs per stage of the current model."""

    def compose(self) -> ComposeResult:
        yield PlotextPlot(id="params-plot")
        yield PlotextPlot(id="macs-plot")

    def show(self, name: str, stages: list[Stage]) -> None:
        labels = [stage.label for stage in stages]
        for widget_id, what, values in (
            ("#params-plot", "params", [s.params for s in stages]),
            ("#macs-plot", "MACs", [s.macs for s in stages]),
        ):
            suffix, scale = _scale(max(values, default=0))
            plot = self.query_one(widget_id, PlotextPlot)
            # The title (with the unit) is the border's, which Textual shortens with an
            # ellipsis when space is tight, where plotext would drop it.
            plot.border_title = f"{what} per stage ({suffix}{'; FLOPs = 2×' if what == 'MACs' else ''}) · {name}"
            plt = plot.plt
            plt.clear_figure()
            plt.bar(labels[::-1], [v / scale for v in values[::-1]], orientation="horizontal", width=0.3)
            plot.refresh()


def _scale(largest: float) -> tuple[str, float]:
    """The SI suffix that shows ``largest`` with a few digits: ("M", 1e6)."""
    for suffix, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if largest >= scale:
            return suffix, scale
    return "units", 1.0
