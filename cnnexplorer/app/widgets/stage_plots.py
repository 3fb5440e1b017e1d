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
        for widget_id, title, values in (
            ("#params-plot", f"{name}: parameters per stage (millions)", [s.params / 1e6 for s in stages]),
            ("#macs-plot", f"{name}: MACs per stage (billions; FLOPs = 2x)", [s.macs / 1e9 for s in stages]),
        ):
            plot = self.query_one(widget_id, PlotextPlot)
            plt = plot.plt
            plt.clear_figure()
            plt.bar(labels[::-1], values[::-1], orientation="horizontal", width=0.3)
            plt.title(title)
            plot.refresh()
