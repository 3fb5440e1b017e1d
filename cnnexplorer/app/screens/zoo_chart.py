"""The classic chart: published top-5 error against GMACs, one point per architecture."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Static
from textual_plotext import PlotextPlot

from cnnexplorer.app.widgets.key_footer import Key, KeyFooter

if TYPE_CHECKING:
    from cnnexplorer.overview import ZooRow

# One of the eight basic terminal colours and one marker per family, so that families stay
# apart on a 16-colour terminal and without colour at all.
FAMILY_STYLES = {
    "AlexNet": ("red", "●"),
    "VGG": ("yellow", "■"),
    "GoogLeNet": ("magenta", "▲"),
    "ResNet": ("cyan", "◆"),
    "Wide ResNet": ("green", "✚"),
    "DenseNet": ("blue", "★"),
}


def legend() -> Text:
    """Each family's marker in its colour: in the caption, as a legend inside the chart
    would cover the points in its corner."""
    text = Text()
    for family, (color, marker) in FAMILY_STYLES.items():
        text.append(f"  {marker}", style=color)
        text.append(f" {family}")
    return text


class ZooChartScreen(Screen[None]):
    """Accuracy against operations for every architecture with published figures, with the
    points listed beside the chart (text labels on a terminal chart hide each other); the
    list scrolls, and says so when it is cut."""

    BINDINGS = [Key("escape,z", "app.pop_screen", "Back", rank=0)]

    def __init__(self, rows: list[ZooRow], pending: int) -> None:
        super().__init__()
        self._rows = sorted((row for row in rows if row.acc5 is not None), key=lambda row: row.macs)
        self._pending = pending

    def compose(self) -> ComposeResult:
        note = f" ({self._pending} architectures still being analysed)" if self._pending else ""
        caption = Text(
            "Published top-5 error (torchvision, ImageNet, IMAGENET1K_V1 weights) against GMACs at 224x224"
            f"{note}. Lower left is better.\n"
        )
        yield Static(caption.append_text(legend()), id="chart-caption")
        with Horizontal():
            yield PlotextPlot(id="zoo-chart")
            with Vertical(id="chart-side"):
                with VerticalScroll(id="chart-points"):
                    yield Static(self._table())
                yield Static(id="chart-more")
        yield KeyFooter()

    def _table(self) -> Table:
        table = Table(box=None, padding=(0, 1))
        for column in ("", "model", "GMACs", "top-5 err"):
            table.add_column(column, justify="right" if column in ("GMACs", "top-5 err") else "left")
        for row in self._rows:
            color, marker = FAMILY_STYLES[row.family]
            table.add_row(f"[{color}]{marker}[/]", row.name, f"{row.macs / 1e9:.2f}", f"{100 - row.acc5:.2f}%")
        return table

    def on_mount(self) -> None:
        plt = self.query_one(PlotextPlot).plt
        plt.clear_figure()
        for family, (color, marker) in FAMILY_STYLES.items():
            members = [row for row in self._rows if row.family == family]
            if members:
                xs = [row.macs / 1e9 for row in members]
                plt.scatter(xs, [100 - row.acc5 for row in members], marker=marker, color=color)
        if self._rows:  # a margin so that no point sits on the frame
            errors = [100 - row.acc5 for row in self._rows]
            plt.ylim(min(errors) - 0.5, max(errors) + 0.5)
        plt.xlabel("GMACs (multiply-accumulates; FLOPs = 2x)")
        plt.ylabel("top-5 error %")
        plt.title("accuracy against operations")
        self.query_one("#chart-points").focus()  # ↓ scrolls the list at once

    def on_resize(self) -> None:
        self.call_after_refresh(self._hint_cut_rows)

    def _hint_cut_rows(self) -> None:
        """Under the list, where it is cut: how many rows it has and that it scrolls."""
        points = self.query_one("#chart-points", VerticalScroll)
        cut = points.max_scroll_y > 0
        hint = self.query_one("#chart-more", Static)
        hint.update(f"{len(self._rows)} models · ↑↓/wheel scroll" if cut else "")
        hint.display = cut
