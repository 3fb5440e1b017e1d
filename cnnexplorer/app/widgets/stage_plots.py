"""Per-stage bars of parameters and MACs: one row per stage, each bar in proportion to its
value (to an eighth of a cell), its value at its end."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Static

from cnnexplorer import units
from cnnexplorer.app.charts import bar, cut_middle

if TYPE_CHECKING:
    from cnnexplorer.analysis.structure import Stage

VALUE_WIDTH = 6  # a space, then units.count's longest: "14.2M", "1.14G"


def bar_rows(labels: list[str], values: list[int], width: int) -> Text:
    """One line per stage: its label, its bar, its value; the bars share what the labels
    and values leave of ``width``, the longest bar filling it."""
    label_width = min(max(map(len, labels), default=0), max(6, width // 3))
    room = max(1, width - label_width - 1 - VALUE_WIDTH)
    largest = max(values, default=0)
    text = Text(no_wrap=True, overflow="ellipsis")
    for index, (label, value) in enumerate(zip(labels, values)):
        text.append("\n" if index else "")
        text.append(f"{cut_middle(label, label_width):>{label_width}} ", style="dim")
        text.append(f"{bar(value, largest, room):<{room}}", style="cyan")
        text.append(f"{units.count(value):>{VALUE_WIDTH}}")
    return text


class StageBars(VerticalScroll):
    """One quantity's bars, redrawn to the panel's width; scrolls (with a scrollbar) when the
    stages outnumber its rows."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._shown: tuple[list[str], list[int]] = ([], [])

    def compose(self) -> ComposeResult:
        yield Static(classes="stage-bars")

    def show(self, title: str, labels: list[str], values: list[int]) -> None:
        # The title is the border's, which Textual shortens with an ellipsis when space is tight.
        self.border_title = title
        self._shown = (labels, values)
        self._draw()

    def on_resize(self) -> None:
        self._draw()

    def _draw(self) -> None:
        labels, values = self._shown
        width = self.scrollable_content_region.width or self.size.width
        self.query_one(".stage-bars", Static).update(bar_rows(labels, values, width))


class StagePlots(Horizontal):
    """Parameters and MACs per stage of the current model, side by side."""

    def compose(self) -> ComposeResult:
        yield StageBars(id="params-plot")
        yield StageBars(id="macs-plot")

    def show(self, name: str, stages: list[Stage]) -> None:
        labels = [stage.label for stage in stages]
        self.query_one("#params-plot", StageBars).show(
            f"params per stage · {name}", labels, [stage.params for stage in stages]
        )
        self.query_one("#macs-plot", StageBars).show(
            f"MACs per stage (FLOPs = 2×) · {name}", labels, [stage.macs for stage in stages]
        )
