"""The classic chart: published top-5 error against GMACs, one point per architecture."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Static
from textual_plotext import PlotextPlot


class ZooChartScreen(Screen[None]):
    """Accuracy against operations for every architecture with published figures."""

    BINDINGS = [Binding("escape,z", "app.pop_screen", "Back")]

    def __init__(self, rows: list[Any], pending: int) -> None:
        super().__init__()
        self._rows = [row for row in rows if row.acc5 is not None]
        self._pending = pending

    def compose(self) -> ComposeResult:
        note = f" ({self._pending} architectures still being analysed)" if self._pending else ""
        yield Static(
            "Published top-5 error (torchvision, ImageNet, IMAGENET1K_V1 weights) against GMACs at 224x224"
            f"{note}. Lower left is better.",
            id="chart-caption",
        )
        yield PlotextPlot(id="zoo-chart")
        yield Footer()

    def on_mount(self) -> None:
        plt = self.query_one(PlotextPlot).plt
        plt.clear_figure()
        xs = [row.macs / 1e9 for row in self._rows]
        ys = [100 - row.acc5 for row in self._rows]
        plt.scatter(xs, ys, marker="dot")
        for row, x, y in zip(self._rows, xs, ys):
            plt.text(row.name, x, y)
        plt.xlabel("GMACs (multiply-accumulates; FLOPs = 2x)")
        plt.ylabel("top-5 error %")
        plt.title("accuracy against operations")
